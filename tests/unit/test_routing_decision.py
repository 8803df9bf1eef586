"""The routing decision as a pure function: precedence, competence, service hours, fallback."""
from datetime import datetime

import pytest

from service.reports.hours import is_open
from service.reports.routing import NoCompetentUnit, UnitCandidate, decide
from service.platform.clock import PARIS

DAYTIME = {d: [["07:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
PN = UnitCandidate(1, "Commissariat de Ville", "police_nationale", None, None, area=0.01)
PM = UnitCandidate(2, "Police municipale de Ville", "police_municipale", None, DAYTIME, area=0.01)
GN = UnitCandidate(3, "Brigade de Bourg", "gendarmerie", None, None, area=0.2)
NOISE_FORCES = ["police_municipale", "police_nationale", "gendarmerie"]


def at(hhmm: str, day: int = 26) -> datetime:  # 2026-11-26 is a Thursday
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 11, day, hours, minutes, tzinfo=PARIS)


def test_first_force_in_category_order_wins_when_open():
    decision = decide([PN, PM], "nuisance_sonore", NOISE_FORCES, at("10:00"))
    assert decision.unit is PM
    assert decision.reason == "Zone police municipale, Police municipale de Ville"


def test_closed_police_municipale_falls_through_and_is_named_in_the_reason():
    decision = decide([PN, PM], "nuisance_sonore", NOISE_FORCES, at("23:40"))
    assert decision.unit is PN
    assert decision.reason == ("Zone police nationale, Commissariat de Ville ; "
                               "Police municipale de Ville (police municipale) fermée à 23:40")


def test_sunday_is_closed_for_daytime_police_municipale():
    assert not is_open(DAYTIME, at("11:00", day=29))  # Sunday
    assert decide([PN, PM], "nuisance_sonore", NOISE_FORCES, at("11:00", day=29)).unit is PN


def test_category_restricted_unit_is_not_competent():
    restricted_pm = UnitCandidate(2, "PM", "police_municipale", ("stationnement_genant",), None, area=0.01)
    assert decide([PN, restricted_pm], "nuisance_sonore", NOISE_FORCES, at("10:00")).unit is PN


def test_force_not_listed_for_category_is_never_chosen():
    with pytest.raises(NoCompetentUnit):
        decide([PM], "point_de_deal", ["police_nationale", "gendarmerie"], at("10:00"))


def test_smallest_jurisdiction_wins_within_a_force():
    big = UnitCandidate(10, "Grand", "police_nationale", None, None, area=1.0)
    small = UnitCandidate(11, "Petit", "police_nationale", None, None, area=0.1)
    assert decide([big, small], "autre", ["police_nationale"], at("10:00")).unit is small


def test_nearest_unit_fallback_is_explained_with_its_distance():
    near = UnitCandidate(5, "Brigade de Côte", "gendarmerie", None, None, area=0.1, distance_m=1144.2)
    decision = decide([near], "autre", ["police_nationale", "gendarmerie"], at("10:00"))
    assert decision.fallback_distance_m == pytest.approx(1144.2)
    assert "la plus proche" in decision.reason and "1144 m" in decision.reason


def test_all_competent_units_closed_still_routes_and_says_so():
    decision = decide([PM], "depot_sauvage", ["police_municipale"], at("23:00"))
    assert decision.unit is PM
    assert decision.reason.endswith("aucune unité ouverte à cette heure")


@pytest.mark.parametrize("hours, when, expected", [
    ({"thu": [["22:00", "06:00"]]}, "23:30", True),
    ({"wed": [["22:00", "06:00"]]}, "05:00", True),
    ({"wed": [["22:00", "06:00"]]}, "06:30", False),
    ({"thu": [["08:00", "24:00"]]}, "23:59", True),
    ({}, "12:00", False),
])
def test_service_hours_across_midnight(hours, when, expected):
    assert is_open(hours, at(when)) is expected


# --- Daylight saving time: service hours are read on the Paris wall clock, whatever the UTC offset ----------
# 2026-03-29 and 2026-10-25 are the last Sundays of March and October: at 02:00 (CET) Paris jumps to 03:00
# (CEST); at 03:00 (CEST) it falls back to 02:00 (CET), so 02:00-03:00 happens twice.
SATURDAY_NIGHTS = {"sat": [["22:00", "02:30"]]}  # a range that runs past midnight, into the change


def utc(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


@pytest.mark.parametrize("when, expected", [
    ("2026-03-29T00:59:00+00:00", True),   # 01:59 CET, the last minute before the jump
    ("2026-03-29T01:00:00+00:00", False),  # 03:00 CEST: 02:00-02:59 never existed, the range is over
    ("2026-03-28T20:59:00+00:00", False),  # Saturday 21:59 CET, before it opens
    ("2026-03-28T21:00:00+00:00", True),   # Saturday 22:00 CET
])
def test_range_past_midnight_on_the_spring_change(when, expected):
    assert is_open(SATURDAY_NIGHTS, utc(when)) is expected


@pytest.mark.parametrize("when, expected", [
    ("2026-10-25T00:20:00+00:00", True),   # 02:20 CEST, first pass
    ("2026-10-25T00:30:00+00:00", False),  # 02:30 CEST: the range ends
    ("2026-10-25T01:20:00+00:00", True),   # 02:20 CET, the wall clock shows 02:20 again: open again
    ("2026-10-25T01:30:00+00:00", False),  # 02:30 CET
])
def test_range_past_midnight_on_the_autumn_change_follows_the_wall_clock(when, expected):
    assert is_open(SATURDAY_NIGHTS, utc(when)) is expected


@pytest.mark.parametrize("when, expected_unit", [
    # The Monday after each change opens at 07:00 local time, which is 05:00 UTC in summer, 06:00 UTC in winter.
    ("2026-03-30T04:59:00+00:00", PN), ("2026-03-30T05:00:00+00:00", PM),
    ("2026-10-26T05:59:00+00:00", PN), ("2026-10-26T06:00:00+00:00", PM),
    # The change days themselves are Sundays: the daytime police municipale stays closed.
    ("2026-03-29T10:00:00+00:00", PN), ("2026-10-25T10:00:00+00:00", PN),
])
def test_opening_follows_the_utc_offset_of_the_day(when, expected_unit):
    assert decide([PN, PM], "nuisance_sonore", NOISE_FORCES, utc(when)).unit is expected_unit
