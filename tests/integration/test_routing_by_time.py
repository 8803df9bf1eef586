"""Routing by time through the citizen API: the same place and category reach another unit at another hour.

Each test states the instant it runs at (`@pytest.mark.instant`); the service reads that instant through
`service.platform.clock` for the routing decision, the stored times and the SLA due times. Paris 4e has the demo police
municipale (Monday-Saturday 07:00-20:00, Europe/Paris) and a commissariat.
"""
from datetime import datetime, timedelta

import pytest

from tests.instants import SUNDAY_DAYTIME, WEEKDAY_DAYTIME, WEEKDAY_NIGHT

NOTRE_DAME = {"lat": 48.8530, "lon": 2.3499}
POLICE_MUNICIPALE = "Police municipale de Paris"
COMMISSARIAT = "Commissariat de Paris 4e Arrondissement"


def _register(client) -> dict:
    response = client.post("/api/v1/devices", json={"platform": "android"})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['token']}"}


def _report(client) -> dict:
    response = client.post("/api/v1/reports", headers=_register(client), json={
        "category": "nuisance_sonore", "description": "Musique très forte", "location": NOTRE_DAME,
        "answers": {"source": "voie_publique"}})
    assert response.status_code == 201, response.json
    return response.json


def _coverage(client) -> str:
    response = client.get(f"/api/v1/coverage?lat={NOTRE_DAME['lat']}&lon={NOTRE_DAME['lon']}"
                          "&category=nuisance_sonore")
    assert response.status_code == 200, response.json
    return response.json["unit"]["name"]


def _unit_name(answer: dict) -> str:
    return answer["unit"]["name"]


@pytest.mark.instant(WEEKDAY_DAYTIME)
def test_weekday_daytime_goes_to_the_open_police_municipale(client):
    assert _coverage(client) == POLICE_MUNICIPALE
    assert _unit_name(_report(client)) == POLICE_MUNICIPALE


@pytest.mark.instant(WEEKDAY_NIGHT)
def test_weekday_night_goes_to_the_commissariat_and_says_why(client):
    assert _coverage(client) == COMMISSARIAT
    answer = _report(client)
    assert _unit_name(answer) == COMMISSARIAT
    assert "Police municipale de Paris (police municipale) fermée à 03:00" in answer["routing_reason"]


@pytest.mark.instant(SUNDAY_DAYTIME)
def test_sunday_goes_to_the_commissariat(client):
    assert _coverage(client) == COMMISSARIAT
    assert _unit_name(_report(client)) == COMMISSARIAT


@pytest.mark.instant("2026-11-24T19:59:00+01:00")
def test_the_closing_minute_is_read_on_the_service_clock(client, clock):
    assert _unit_name(_report(client)) == POLICE_MUNICIPALE
    clock.advance(minutes=1)  # 20:00: closed
    assert _unit_name(_report(client)) == COMMISSARIAT


@pytest.mark.parametrize("instant, expected", [
    ("2026-03-29T02:30:00+00:00", COMMISSARIAT),       # DST Sunday, 04:30 CEST
    ("2026-03-30T05:00:00+00:00", POLICE_MUNICIPALE),  # Monday 07:00 CEST: open
    ("2026-03-30T04:59:00+00:00", COMMISSARIAT),       # Monday 06:59 CEST
    ("2026-10-25T01:30:00+00:00", COMMISSARIAT),       # DST Sunday, 02:30 CET (the second 02:30)
    ("2026-10-26T06:00:00+00:00", POLICE_MUNICIPALE),  # Monday 07:00 CET: open
    ("2026-10-26T05:59:00+00:00", COMMISSARIAT),       # Monday 06:59 CET
])
def test_around_the_daylight_saving_changes(client, clock, instant, expected):
    clock.set(datetime.fromisoformat(instant))
    assert _coverage(client) == expected
    assert _unit_name(_report(client)) == expected


@pytest.mark.instant(WEEKDAY_NIGHT)
def test_received_and_due_times_count_from_the_stated_instant(client, clock):
    clock.freeze()
    answer = _report(client)
    received = datetime.fromisoformat(answer["created_at"])
    assert received == clock.now()
    # nuisance_sonore: acknowledgement expected within 30 minutes (its category's SLA), from that instant.
    due = datetime.fromisoformat(answer["expected_acknowledgement_by"])
    assert due - received == timedelta(minutes=30)
