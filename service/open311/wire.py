"""Open311 wire formats: one document model rendered as XML (mandatory) or JSON (root container dropped).

A document is plain Python data: dicts (elements in insertion order), lists (repeated children, always
arrays in JSON) and scalars. XML is built as a string in one pass, which keeps 1000-request pages fast.
"""
import json
import re
from datetime import datetime

from flask import Response
from service.platform.clock import PARIS

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'

# Container element → name of its repeated child.
CHILD_NAMES = {
    "services": "service",
    "service_requests": "request",
    "service_requests_updates": "request_update",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
}

# Characters XML 1.0 cannot carry at all, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with the Europe/Paris offset, e.g. 2026-11-26T17:40:00+01:00."""
    if value is None:
        return None
    return value.astimezone(PARIS).isoformat(timespec="seconds")


def _text(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, datetime):
        return iso(value)
    text = _INVALID_XML.sub("", str(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml(name: str, value, out: list) -> None:
    if isinstance(value, dict):
        out.append(f"<{name}>")
        for key, child in value.items():
            _xml(key, child, out)
        out.append(f"</{name}>")
    elif isinstance(value, list):
        child_name = CHILD_NAMES[name]
        out.append(f"<{name}>")
        for child in value:
            _xml(child_name, child, out)
        out.append(f"</{name}>")
    else:
        text = _text(value)
        out.append(f"<{name}>{text}</{name}>" if text else f"<{name}/>")


def to_xml(root: str, document) -> str:
    out = [XML_DECLARATION]
    _xml(root, document, out)
    return "".join(out)


def _json_default(value):
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"not serialisable: {type(value).__name__}")


def to_json(document) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def render(fmt: str, root: str, document, status: int = 200) -> Response:
    """Response in `fmt` ("xml" or "json"): XML under `root`, JSON without the root container."""
    if fmt == "json":
        return Response(to_json(document), status=status, content_type=JSON_CONTENT_TYPE)
    return Response(to_xml(root, document), status=status, content_type=XML_CONTENT_TYPE)
