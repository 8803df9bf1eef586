"""marshmallow schemas of the citizen API: request validation and response shapes (and the OpenAPI document)."""
import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class StrictSchema(Schema):
    class Meta:
        # Unknown fields are errors, so a typo never silently drops data.
        unknown = "raise"


class QuietHoursSchema(StrictSchema):
    start = fields.String(required=True, validate=validate.Regexp(HHMM, error="Format HH:MM attendu."))
    end = fields.String(required=True, validate=validate.Regexp(HHMM, error="Format HH:MM attendu."))


class PreferencesSchema(StrictSchema):
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True)
    notify = fields.Boolean()


class DeviceCreateSchema(StrictSchema):
    platform = fields.String(required=True, validate=validate.OneOf(["android", "ios", "web"]))
    fcm_token = fields.String(validate=validate.Length(min=1, max=4096), allow_none=True)
    locale = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))
    preferences = fields.Nested(PreferencesSchema)


class DeviceUpdateSchema(StrictSchema):
    fcm_token = fields.String(validate=validate.Length(min=1, max=4096), allow_none=True)
    locale = fields.String(validate=validate.OneOf(["fr", "en"]))
    preferences = fields.Nested(PreferencesSchema)


class DeviceCreatedSchema(Schema):
    device_id = fields.UUID(required=True)
    token = fields.String(required=True, metadata={"description": "Bearer secret, shown once. Store it."})


class DeviceSchema(Schema):
    device_id = fields.UUID(attribute="id")
    platform = fields.String()
    locale = fields.String()
    preferences = fields.Dict()
    push_tokens = fields.Integer(metadata={"description": "Number of active FCM tokens"})


class AttributeValueSchema(Schema):
    key = fields.String()
    name_fr = fields.String()
    name_en = fields.String()


class AttributeSchema(Schema):
    # Attributes are plain dicts: read keys explicitly (a dict's .values method must never be serialised).
    def get_attribute(self, obj, attr, default):
        return obj.get(attr, [] if attr == "values" else default)

    code = fields.String()
    datatype = fields.String()
    required = fields.Boolean()
    order = fields.Integer()
    description_fr = fields.String()
    description_en = fields.String()
    values = fields.List(fields.Nested(AttributeValueSchema))


class CategorySchema(Schema):
    code = fields.String()
    label_fr = fields.String()
    label_en = fields.String()
    description_fr = fields.String()
    group = fields.String()
    priority = fields.Integer()
    sensitive = fields.Boolean()
    emergency_hint = fields.Boolean()
    sla_acknowledge_min = fields.Integer()
    attributes = fields.List(fields.Nested(AttributeSchema))


class CoverageQuerySchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    category = fields.String(load_default="autre")


class CommuneSchema(Schema):
    insee_code = fields.String()
    name = fields.String()
    departement_code = fields.String()


class UnitSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String()
    synthetic = fields.Boolean(metadata={"description": "Demo unit built from communes, not a real one"})


class CoverageSchema(Schema):
    commune = fields.Nested(CommuneSchema)
    unit = fields.Nested(UnitSchema)
    reason = fields.String()


class CommuneOutlinesQuerySchema(Schema):
    west = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    south = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    east = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    north = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))

    @validates_schema
    def a_box_of_a_few_communes(self, data, **kwargs):
        if data["west"] >= data["east"] or data["south"] >= data["north"]:
            raise ValidationError("Boîte vide : west < east et south < north attendus.", "_schema")
        if data["east"] - data["west"] > 2 or data["north"] - data["south"] > 2:
            raise ValidationError("Boîte trop grande : deux degrés de côté au plus.", "_schema")


class CommuneOutlineSchema(Schema):
    type = fields.String()
    geometry = fields.Dict(metadata={"description": "GeoJSON (Multi)Polygon, simplified for display"})
    properties = fields.Dict(metadata={"description": "insee_code and name"})


class CommuneOutlinesSchema(Schema):
    type = fields.String()
    features = fields.List(fields.Nested(CommuneOutlineSchema))
    truncated = fields.Boolean(metadata={"description": "More communes than returned: zoom in"})


class LocationSchema(StrictSchema):
    lat = fields.Float(required=True, allow_nan=False, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, allow_nan=False, validate=validate.Range(-180, 180))
    accuracy_m = fields.Float(allow_nan=False, allow_none=True, validate=validate.Range(0, 100_000))


class ContactSchema(StrictSchema):
    name = fields.String(validate=validate.Length(max=200), allow_none=True)
    email = fields.Email(validate=validate.Length(max=320), allow_none=True)
    phone = fields.String(validate=validate.Regexp(r"^\+?[0-9 .()-]{6,20}$", error="Numéro de téléphone invalide."),
                          allow_none=True)


class ReportCreateSchema(StrictSchema):
    category = fields.String(required=True, validate=validate.Length(min=1, max=64))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    location = fields.Nested(LocationSchema, required=True)
    observed_at = fields.AwareDateTime(allow_none=True, metadata={"description": "ISO 8601 with offset"})
    ongoing = fields.Boolean(load_default=False)
    answers = fields.Dict(keys=fields.String(), load_default=dict)
    contact = fields.Nested(ContactSchema, allow_none=True,
                            metadata={"description": "Optional; kept apart from the report, read only with audit"})


class ReportQuerySchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class OutcomeSchema(Schema):
    code = fields.String()
    label = fields.String()
    text = fields.String()


class TimelineEntrySchema(Schema):
    type = fields.String()
    at = fields.DateTime()
    text = fields.String(allow_none=True)
    outcome = fields.Nested(OutcomeSchema, allow_none=True)


class ReportCreatedSchema(Schema):
    reference = fields.String()
    status = fields.String()
    category = fields.String()
    commune = fields.Nested(CommuneSchema)
    unit = fields.Nested(UnitSchema)
    routing_reason = fields.String()
    expected_acknowledgement_by = fields.DateTime()
    created_at = fields.DateTime()
    emergency_notice = fields.String(allow_none=True)
    duplicate_of_incident = fields.Boolean()


class ReportSchema(ReportCreatedSchema):
    description = fields.String()
    observed_at = fields.DateTime()
    ongoing = fields.Boolean()
    answers = fields.Dict()
    photos = fields.Integer()
    location = fields.Dict()
    timeline = fields.List(fields.Nested(TimelineEntrySchema))
    can_reopen_until = fields.DateTime(allow_none=True)
    feedback_given = fields.Boolean()


class ReopenSchema(StrictSchema):
    reason = fields.String(validate=validate.Length(max=1000), allow_none=True)


class MessageCreateSchema(StrictSchema):
    text = fields.String(load_default="", validate=validate.Length(max=2000, error="2000 caractères au plus."),
                         metadata={"description": "The resident's message; may be empty when photos are attached"})


class MessageSchema(Schema):
    id = fields.Integer()
    author = fields.String(metadata={"description": "`unit` or `resident`; an officer is never named"})
    unit = fields.String(allow_none=True, metadata={"description": "The unit's name, for the unit's messages"})
    text = fields.String()
    photos = fields.Integer(metadata={"description": "Number of photos attached"})
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "When the other side read it"})


class MessageListSchema(Schema):
    items = fields.List(fields.Nested(MessageSchema))
    unread = fields.Integer(metadata={"description": "The unit's messages the resident has not marked read"})
    open = fields.Boolean(metadata={"description": "Whether messages may still be posted on this report"})


class MessagesReadSchema(StrictSchema):
    up_to = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**62),
                           metadata={"description": "Mark the unit's messages up to this id (default: all)"})
