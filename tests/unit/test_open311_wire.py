"""Open311 pure functions: XML/JSON rendering, parameter parsing, attribute parsing, HTML detection, statuses."""
import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from lxml import etree
from werkzeug.datastructures import MultiDict

from service.open311 import params, wire
from service.open311.errors import Open311Error, open311_status
from service.open311.service_requests import default_window, extended_status
from service.open311.submit import _HTML, parse_attributes


def test_xml_escapes_text_and_drops_characters_xml_cannot_carry():
    document = [{"service_code": "a&b", "service_name": "<script>\x00\x1b", "metadata": True, "group": None}]
    xml = wire.to_xml("services", document)
    root = etree.fromstring(xml.encode())
    service = root.find("service")
    assert service.findtext("service_code") == "a&b"
    assert service.findtext("service_name") == "<script>"
    assert service.findtext("metadata") == "true"
    assert service.find("group").text is None


def test_containers_are_arrays_in_json_even_with_one_child():
    document = {"service_code": "x", "attributes": [{"code": "c", "values": [{"key": "k", "name": "n"}]}]}
    assert json.loads(wire.to_json(document))["attributes"][0]["values"] == [{"key": "k", "name": "n"}]
    root = etree.fromstring(wire.to_xml("service_definition", document).encode())
    assert root.find("attributes/attribute/values/value/key").text == "k"


def test_datetimes_are_rendered_in_paris_time_with_offset():
    winter = datetime(2026, 11, 26, 16, 40, tzinfo=timezone.utc)
    summer = datetime(2026, 7, 14, 8, 0, tzinfo=timezone.utc)
    assert wire.iso(winter) == "2026-11-26T17:40:00+01:00"
    assert wire.iso(summer) == "2026-07-14T10:00:00+02:00"
    assert json.loads(wire.to_json({"at": winter})) == {"at": "2026-11-26T17:40:00+01:00"}


@pytest.mark.parametrize("raw, expected", [
    ("2026-11-26T17:40:00+01:00", datetime(2026, 11, 26, 16, 40, tzinfo=timezone.utc)),
    ("2026-11-26T16:40:00Z", datetime(2026, 11, 26, 16, 40, tzinfo=timezone.utc)),
    ("2026-11-26T17:40:00 01:00", datetime(2026, 11, 26, 16, 40, tzinfo=timezone.utc)),  # "+" decoded as space
    ("2026-11-26T17:40:00", datetime(2026, 11, 26, 16, 40, tzinfo=timezone.utc)),  # Paris time
    ("2026-11-26", datetime(2026, 11, 25, 23, 0, tzinfo=timezone.utc)),  # midnight in Paris
])
def test_datetime_parameters(raw, expected):
    assert params.moment(MultiDict({"start_date": raw}), "start_date") == expected


def test_bad_or_empty_parameters():
    with pytest.raises(Open311Error) as error:
        params.moment(MultiDict({"start_date": "demain"}), "start_date")
    assert error.value.code == 400
    assert params.moment(MultiDict({"start_date": ""}), "start_date") is None
    assert params.comma_list(MultiDict([("status", "open, closed"), ("status", "open")]), "status") == \
        ["open", "closed"]
    assert params.comma_list(MultiDict({"status": " , "}), "status") is None
    assert params.boolean(MultiDict({"extensions": ""}), "extensions") is False
    with pytest.raises(Open311Error):
        params.boolean(MultiDict({"extensions": "oui"}), "extensions")
    with pytest.raises(Open311Error):
        params.integer(MultiDict({"page_size": "5000"}), "page_size", 1000, 1, 1000)


def test_default_window_is_90_days():
    now = datetime(2026, 11, 26, tzinfo=timezone.utc)
    start, end = default_window(None, None, now)
    assert (end - start).days == 90 and end == now
    start, end = default_window(None, now, now)
    assert (end - start).days == 90
    start, end = default_window(now, None, now)
    assert start == now and (end - start).days == 90


def test_attribute_parsing():
    form = MultiDict([("attribute[count]", "3"), ("attribute[kind][]", "moto"), ("attribute[kind][]", "quad"),
                      ("attribute[empty]", ""), ("attribute[bad", "x"), ("api_key", "k")])
    assert parse_attributes(form) == {"count": "3", "kind": ["moto", "quad"]}


@pytest.mark.parametrize("text, is_html", [
    ("<b>gras</b>", True), ("<br/>", True), ("<!-- x -->", True), ("&nbsp;", True), ("&#60;", True),
    ("a < b et c > d", False), ("3<4", False), ("R&D", False), ("Tom & Jerry; ok", False),
])
def test_html_detection(text, is_html):
    assert bool(_HTML.search(text)) is is_html


def test_error_status_mapping():
    assert [open311_status(c) for c in (400, 403, 404, 405, 413, 415, 422, 429, 500, 503)] == \
        [400, 403, 404, 400, 400, 400, 400, 429, 500, 503]


@pytest.mark.parametrize("kind, outcome, expected", [
    ("created", None, "open"), ("acknowledged", None, "investigating"), ("dispatched", None, "in_progress"),
    ("merged", None, "duplicate"), ("resolved", "fixed", "fixed"), ("resolved", None, "closed"),
    ("closed", "no_further_action", "no_further_action"), ("rejected", None, "no_further_action"),
    ("rejected", "not_councils_responsibility", "not_councils_responsibility"), ("reopened", None, "open"),
])
def test_extended_status(kind, outcome, expected):
    assert extended_status(SimpleNamespace(type=kind, outcome_status=outcome)) == expected
