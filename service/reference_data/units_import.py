"""Import real unit jurisdictions from a GeoJSON FeatureCollection: validated whole, written all-or-nothing.

Each feature is one unit; geometry is a Polygon or MultiPolygon in lon/lat (WGS 84), properties are:

    name         required   "Commissariat de police de Lorient"
    kind         required   police_nationale | gendarmerie | police_municipale
    code         optional   stable identifier, upsert key; derived from kind and name when absent
    categories   optional   category codes this unit handles; absent or null = every category its force handles
    hours        optional   {"mon": [["08:00", "19:00"]], ...} in Europe/Paris; absent or null = always open;
                            a day left out is a closed day; a range ending before it starts runs past midnight
    parent_code  optional   code of the supervising unit (in the file or already in the database)
    contact      optional   {"phone": "...", "email": "...", ...} (strings)
    departement_code optional  derived from the commune under the jurisdiction when absent

Imported units replace nothing they do not name: units are upserted by code and marked synthetic = false.
"""
import json
import re
import unicodedata
from dataclasses import dataclass, field

import shapely
from geoalchemy2.shape import from_shape
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates, validates_schema
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity
from sqlalchemy import select, text, update

from models import Category, Unit, db
from service.platform import audit
from service.platform.input_guard import json_problems, load_json
from service.reports.hours import DAY_KEYS, service_hours_problems

KINDS = ("police_nationale", "gendarmerie", "police_municipale")
KIND_PREFIX = {"police_nationale": "PN", "gendarmerie": "GN", "police_municipale": "PM"}
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,79}$")
WGS84_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "EPSG:4326",
               "urn:ogc:def:crs:EPSG::4326"}


class UnitsImportError(Exception):
    """The file was rejected; `errors` lists every problem found, each prefixed with the feature it concerns."""

    def __init__(self, errors: list[str]):
        super().__init__(f"{len(errors)} error(s) in the units file")
        self.errors = errors


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.created) + len(self.updated)


class HoursField(fields.Dict):
    """Weekly service hours, the shape `service.reports.hours.is_open` reads."""

    def _deserialize(self, value, attr, data, **kwargs):
        problems = service_hours_problems(value)
        if problems:
            raise ValidationError(problems)
        # A day left out is closed: store all seven so the data says so explicitly.
        return {day: [list(r) for r in value.get(day, [])] for day in DAY_KEYS}


class UnitPropertiesSchema(Schema):
    """Properties of one feature; unknown properties are refused so that a misspelt one is not silently lost."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    code = fields.String(load_default=None, allow_none=True,
                         validate=validate.Regexp(CODE_PATTERN, error="Letters, digits, '-', '_' and '.' only "
                                                                      "(at most 80), starting with a letter or digit."))
    categories = fields.List(fields.String(validate=validate.Length(min=1)), load_default=None, allow_none=True,
                             validate=validate.Length(min=1, error="List at least one category, or leave it out "
                                                                   "for every category of the unit's force."))
    hours = HoursField(load_default=None, allow_none=True)
    parent_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1))
    contact = fields.Dict(keys=fields.String(), values=fields.String(), load_default=dict, allow_none=True)
    departement_code = fields.String(load_default=None, allow_none=True,
                                     validate=validate.Regexp(r"^(\d{2}|2A|2B|\d{3})$",
                                                              error="Expected a département code (75, 2A, 971…)."))

    @validates("name")
    def _name_not_blank(self, value, **kwargs):
        if not value.strip():
            raise ValidationError("Must not be blank.")

    @validates("categories")
    def _no_duplicate_categories(self, value, **kwargs):
        if value is not None and len(set(value)) != len(value):
            raise ValidationError("A category is listed twice.")


class FeatureSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # "id", "bbox" and foreign members are allowed by RFC 7946

    type = fields.String(required=True, validate=validate.Equal("Feature"))
    geometry = fields.Dict(required=True, allow_none=False)
    properties = fields.Nested(UnitPropertiesSchema, required=True)


class FeatureCollectionSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True, validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
    crs = fields.Dict(load_default=None, allow_none=True)

    @validates_schema
    def _wgs84_only(self, data, **kwargs):
        crs = data.get("crs")
        name = ((crs or {}).get("properties") or {}).get("name")
        if crs is not None and name not in WGS84_NAMES:
            raise ValidationError(f"Coordinates must be WGS 84 longitude/latitude; this file declares {name!r}.",
                                  "crs")


def derive_code(kind: str, name: str) -> str:
    """PN-COMMISSARIAT-DE-LORIENT: readable, stable as long as the name is."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").upper()
    return f"{KIND_PREFIX[kind]}-{slug}"[:80].rstrip("-")


def _flatten(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested {field: [messages]} as "field.sub: message" lines."""
    if isinstance(messages, dict):
        lines = []
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            lines.extend(_flatten(value, path))
        return lines
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{prefix}: {m}" if prefix else m for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def _geometry(raw: dict) -> tuple[MultiPolygon | None, list[str]]:
    if raw.get("type") not in ("Polygon", "MultiPolygon"):
        return None, [f"geometry: must be a Polygon or a MultiPolygon, not {raw.get('type')!r}"]
    try:
        geom = shapely.force_2d(shape(raw))
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.ShapelyError) as exc:
        return None, [f"geometry: unreadable coordinates ({exc})"]
    if geom.is_empty:
        return None, ["geometry: empty"]
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        return None, [f"geometry: coordinates out of range (bounds {minx:.4f}, {miny:.4f}, {maxx:.4f}, {maxy:.4f}); "
                      "expected longitude, latitude in WGS 84"]
    if not geom.is_valid:
        return None, [f"geometry: invalid polygon ({explain_validity(geom)})"]
    if geom.area == 0:
        return None, ["geometry: zero area"]
    if isinstance(geom, Polygon):
        geom = MultiPolygon([geom])
    return geom, []


@dataclass
class _Candidate:
    index: int
    code: str
    props: dict
    geometry: MultiPolygon


def parse_units_file(path: str) -> list[_Candidate]:
    """Read and validate everything that needs no database; raises UnitsImportError listing every problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = load_json(handle.read())
    except OSError as exc:
        raise UnitsImportError([f"cannot read {path}: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise UnitsImportError([f"{path} is not UTF-8 text: {exc}"]) from exc
    except json.JSONDecodeError as exc:
        raise UnitsImportError([f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"]) \
            from exc
    except ValueError as exc:  # nested deeper than the parser goes
        raise UnitsImportError([f"{path}: {exc}"]) from exc
    return validate_feature_collection(document)


def validate_feature_collection(document) -> list[_Candidate]:
    if not isinstance(document, dict):
        raise UnitsImportError(["the file must contain a GeoJSON FeatureCollection object"])
    unsafe = json_problems(document)
    if unsafe:  # names and codes end up in the console, the dashboard and its CSV export
        raise UnitsImportError(_flatten(unsafe))
    try:
        collection = FeatureCollectionSchema().load(document)
    except ValidationError as exc:
        raise UnitsImportError(_flatten(exc.messages)) from exc

    errors: list[str] = []
    candidates: list[_Candidate] = []
    first_index_of_code: dict[str, int] = {}
    for index, raw in enumerate(collection["features"]):
        label = f"feature {index}"
        if isinstance(raw, dict) and isinstance(raw.get("properties"), dict) and raw["properties"].get("name"):
            label += f" ({raw['properties']['name']!r})"
        if not isinstance(raw, dict):
            errors.append(f"{label}: not a GeoJSON Feature object")
            continue
        try:
            feature = FeatureSchema().load(raw)
        except ValidationError as exc:
            errors.extend(f"{label}: {line}" for line in _flatten(exc.messages))
            continue
        geometry, problems = _geometry(feature["geometry"])
        errors.extend(f"{label}: {p}" for p in problems)
        props = feature["properties"]
        code = props["code"] or derive_code(props["kind"], props["name"])
        if code in first_index_of_code:
            errors.append(f"{label}: code {code!r} is already used by feature {first_index_of_code[code]}")
        else:
            first_index_of_code[code] = index
        if props["parent_code"] == code:
            errors.append(f"{label}: a unit cannot be its own parent")
        if geometry is not None:
            candidates.append(_Candidate(index, code, props, geometry))
    if errors:
        raise UnitsImportError(errors)
    return candidates


def _check_against_database(candidates: list[_Candidate]) -> list[str]:
    session = db.session
    errors = []
    known_categories = set(session.scalars(select(Category.code)))
    existing = {row.code: row for row in session.execute(
        select(Unit.code, Unit.synthetic, Unit.parent_id, Unit.id))}
    code_by_id = {row.id: row.code for row in existing.values()}
    parent_of = {code: code_by_id.get(row.parent_id) for code, row in existing.items()}
    file_codes = {c.code for c in candidates}
    for c in candidates:
        label = f"feature {c.index} ({c.props['name']!r})"
        unknown = sorted(set(c.props["categories"] or []) - known_categories)
        if unknown:
            errors.append(f"{label}: unknown categories {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known_categories))})")
        if c.code in existing and existing[c.code].synthetic:
            errors.append(f"{label}: code {c.code!r} belongs to a synthetic demo unit; choose another code")
        parent = c.props["parent_code"]
        if parent and parent not in file_codes and parent not in existing:
            errors.append(f"{label}: parent_code {parent!r} is neither in this file nor in the database")
        parent_of[c.code] = parent
    # The file may rewire parents: refuse a supervision tree that would loop.
    for c in candidates:
        seen, current = {c.code}, parent_of.get(c.code)
        while current:
            if current in seen:
                errors.append(f"feature {c.index} ({c.props['name']!r}): parent_code makes a cycle through "
                              f"{current!r}")
                break
            seen.add(current)
            current = parent_of.get(current)
    return errors


def _departement_of(geometry: MultiPolygon) -> str | None:
    """The département of the commune under a point of the jurisdiction (or the nearest commune)."""
    return db.session.execute(text("""
        SELECT departement_code FROM communes
        ORDER BY geom <-> ST_PointOnSurface(ST_GeomFromText(:wkt, 4326)) LIMIT 1
    """), {"wkt": geometry.wkt}).scalar()


def import_units(candidates: list[_Candidate], actor="cli") -> ImportResult:
    """Upsert the validated units by code in one transaction; on any error nothing is written.

    Audited in the same transaction: the import itself, and each change of a unit's parent (which changes the
    supervisors who see its reports)."""
    errors = _check_against_database(candidates)
    if errors:
        raise UnitsImportError(errors)
    session = db.session
    result = ImportResult()
    try:
        units = {}
        parents_before = {}
        for c in candidates:
            unit = session.scalars(select(Unit).where(Unit.code == c.code)).one_or_none()
            if unit is None:
                unit = Unit(code=c.code)
                session.add(unit)
                result.created.append(c.code)
            else:
                result.updated.append(c.code)
                parents_before[c.code] = unit.parent_id
            unit.name = c.props["name"].strip()
            unit.kind = c.props["kind"]
            unit.jurisdiction = from_shape(c.geometry, srid=4326)
            unit.categories = c.props["categories"]
            unit.service_hours = c.props["hours"]
            unit.contact = c.props["contact"] or {}
            unit.departement_code = c.props["departement_code"] or _departement_of(c.geometry)
            unit.receives_reports = True
            unit.synthetic = False
            unit.active = True
            units[c.code] = unit
        session.flush()
        for c in candidates:
            parent = c.props["parent_code"]
            units[c.code].parent_id = (units[parent].id if parent in units else
                                       session.scalars(select(Unit.id).where(Unit.code == parent)).one()
                                       if parent else None)
            before = parents_before.get(c.code)
            if c.code in parents_before and before != units[c.code].parent_id:
                audit.record(actor, "unit.reparent", "unit", units[c.code].id,
                             {"code": c.code, "parent_id_before": before, "parent_id": units[c.code].parent_id})
        audit.record(actor, "units.import", "unit", None, {"created": result.created, "updated": result.updated})
        session.commit()
    except Exception:
        session.rollback()
        raise
    return result


def retire_synthetic_units(actor="cli") -> int:
    """Deactivate the synthetic demo units still active (production refuses to serve with them). Commits."""
    codes = db.session.scalars(select(Unit.code).where(Unit.synthetic.is_(True), Unit.active.is_(True))).all()
    db.session.execute(update(Unit).where(Unit.synthetic.is_(True)).values(active=False))
    audit.record(actor, "units.retire_synthetic", "unit", None, {"count": len(codes)})
    db.session.commit()
    return len(codes)


def import_units_file(path: str) -> ImportResult:
    return import_units(parse_units_file(path))
