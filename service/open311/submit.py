"""POST /requests: an Open311 form turned into a ReportSubmission for the same intake as the mobile app.

Choices (documented in the README):
- a location is `lat` + `long`: Proxima routes on coordinates and has no geocoder, so `address_string` or
  `address_id` alone is a 400 that says so;
- `media_url` is checked (http/https) but not fetched: fetching partner-supplied URLs from inside a police
  system invites SSRF, and the photo would escape the EXIF scrubbing; send files as multipart `media[]`
  (v2.1 draft), which go through the same photo checks as the app's;
- `email`, `first_name`, `last_name`, `phone` become the report's contact, kept apart and never published;
  `device_id` and `account_id` are not stored (they identify people in the partner's system, not ours);
- an `Idempotency-Key` header makes retries safe exactly as in the mobile API (scope: the partner key).
"""
import re
from urllib.parse import urlparse

from werkzeug.datastructures import FileStorage, MultiDict

from models import PartnerKey
from service.reports.intake import DESCRIPTION_MAX, ReportSubmission
from service.open311.errors import bad_request
from service.open311.params import value

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# A tag (`<p>`, `</b>`, `<!-- -->`, `<br/>`) or a character entity. "a < b" or "3 > 2" is plain text: in HTML
# too, a tag name follows "<" immediately.
_HTML = re.compile(r"</?[a-zA-Z!?][^<>]*>|&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def parse_attributes(form: MultiDict) -> dict:
    """`attribute[CODE]=v` → {"CODE": "v"}; `attribute[CODE][]=a&attribute[CODE][]=b` → {"CODE": ["a", "b"]}."""
    answers: dict = {}
    for name in form:
        match = _ATTRIBUTE.match(name)
        if not match:
            continue
        code, many = match.group(1), match.group(2)
        values = [v.strip() for v in form.getlist(name) if v.strip()]
        if not values:
            continue  # an empty optional parameter is an absent one
        if many:
            previous = answers.get(code, [])
            answers[code] = (previous if isinstance(previous, list) else [previous]) + values
        else:
            answers[code] = values[0] if len(values) == 1 else values
    return answers


def _coordinate(form: MultiDict, name: str, low: float, high: float) -> float:
    raw = value(form, name)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise bad_request(f"{name} : nombre décimal attendu (WGS84).")
    if not low <= number <= high or number != number:
        raise bad_request(f"{name} : valeur hors limites ({low} à {high}).")
    return number


def check_description(description: str) -> None:
    if len(description) > DESCRIPTION_MAX:
        raise bad_request(f"description : {DESCRIPTION_MAX} caractères au plus.")
    if _HTML.search(description):
        raise bad_request("description : texte brut attendu, le HTML n'est pas accepté.")


def submission_from_form(form: MultiDict, files: MultiDict, key: PartnerKey,
                         idempotency_key: str | None) -> ReportSubmission:
    errors = []
    service_code = value(form, "service_code")
    if service_code is None:
        errors.append("service_code : obligatoire.")
    if value(form, "lat") is None or value(form, "long") is None:
        if value(form, "address_string") or value(form, "address_id"):
            errors.append("lat et long : obligatoires ; Proxima localise par coordonnées et ne géocode pas "
                          "address_string ni address_id.")
        else:
            errors.append("lat et long : obligatoires.")
    if errors:
        raise bad_request(*errors)
    lat = _coordinate(form, "lat", -90.0, 90.0)
    lon = _coordinate(form, "long", -180.0, 180.0)

    description = value(form, "description") or ""
    check_description(description)

    media_url = value(form, "media_url")
    if media_url is not None:
        parsed = urlparse(media_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise bad_request("media_url : URL http(s) attendue.")

    photos = []
    for name in ("media[]", "media"):
        for upload in files.getlist(name):
            if isinstance(upload, FileStorage) and upload.filename is not None:
                photos.append(upload.read())

    name = " ".join(p for p in (value(form, "first_name"), value(form, "last_name")) if p) or None
    contact = {"name": name, "email": value(form, "email"), "phone": value(form, "phone")}
    return ReportSubmission(
        category_code=service_code, description=description, lat=lat, lon=lon,
        answers=parse_attributes(form), photos=photos,
        contact=contact if any(contact.values()) else None,
        partner_key_id=key.id, source="open311",
        idempotency_scope=f"partner:{key.id}", idempotency_key=idempotency_key)
