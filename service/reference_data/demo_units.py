"""Synthetic demo units built from real communes, by a documented and tunable rule.

No open data set ships police and gendarmerie zones, so the demo territory approximates reality:

* **Police nationale** (commissariats): every commune of at least `pn_min_population` inhabitants, every
  préfecture, and every arrondissement of Paris, Lyon and Marseille is the seat of a commissariat; a
  commune of at least `dense_neighbour_min_population` touching such a seat joins the most populous
  neighbouring seat (the agglomeration).
* **Gendarmerie** (brigades): all other communes, grouped by intercommunalité (EPCI) within a
  département; the most populous commune is the seat ("Brigade de gendarmerie de …").
* **Police municipale**: every commune (Paris, Lyon and Marseille as whole cities) of at least
  `pm_min_population` inhabitants, open in the daytime only (`pm_hours`, Europe/Paris).
* Supervision: one état-major per force and département (DDPN / groupement), parent of its units; it
  receives no report directly but sees everything below it.

Every unit built here is marked `synthetic`; a real deployment imports its own jurisdictions
(`flask units import FILE.geojson`).
"""
import json
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import text

from models import db

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DemoUnitRule:
    pn_min_population: int = 20_000
    dense_neighbour_min_population: int = 5_000
    pm_min_population: int = 10_000
    # Daytime service of the demo police municipale units: Monday–Saturday 07:00–20:00.
    pm_hours: dict = field(default_factory=lambda: {d: [["07:00", "20:00"]] for d in DAYS[:6]} | {"sun": []})


def build_demo_units(rule: DemoUnitRule = DemoUnitRule(), progress: Callable[[str], None] = lambda _: None) -> dict:
    """Replace every synthetic unit by units built from the communes; returns counts per kind."""
    params = {"pn_min": rule.pn_min_population, "dense_min": rule.dense_neighbour_min_population,
              "pm_min": rule.pm_min_population}
    _remove_synthetic_units()
    progress("état-majors départementaux")
    _insert_supervision()
    progress("commissariats de police nationale")
    _choose_commissariat_seats(params)
    _attach_dense_neighbours(params)
    _insert_commissariats()
    progress("brigades de gendarmerie")
    _group_remaining_communes()
    _insert_brigades()
    progress("polices municipales")
    _insert_police_municipales(rule, params)
    counts = _count_synthetic_units()
    _commit_and_analyse()
    return counts


def _remove_synthetic_units() -> None:
    """No synthetic unit left (parents unlinked first), so that a rebuild never keeps a unit the rule dropped."""
    s = db.session
    s.execute(text("UPDATE units SET parent_id = NULL WHERE synthetic"))
    s.execute(text("DELETE FROM units WHERE synthetic"))


def _insert_supervision() -> None:
    """One état-major per force and département (DDPN, groupement): the parent that sees its units' reports."""
    db.session.execute(text("""
        INSERT INTO units (code, name, kind, departement_code, receives_reports, synthetic, service_hours, contact)
        SELECT 'DDPN-' || code, 'Direction départementale de la police nationale — ' || name, 'police_nationale',
               code, false, true, NULL::jsonb, '{}'::jsonb FROM departements
        UNION ALL
        SELECT 'GGD-' || code, 'Groupement de gendarmerie départementale — ' || name, 'gendarmerie',
               code, false, true, NULL::jsonb, '{}'::jsonb FROM departements
    """))


def _choose_commissariat_seats(params: dict) -> None:
    """pn_seat: the communes that host a commissariat (large towns, préfectures, arrondissements)."""
    s = db.session
    s.execute(text("""
        CREATE TEMP TABLE pn_seat ON COMMIT DROP AS
        SELECT c.insee_code, c.name, c.departement_code, c.population, c.geom FROM communes c
        WHERE c.population >= :pn_min OR c.type = 'ARM'
           OR c.insee_code IN (SELECT prefecture_insee FROM departements WHERE prefecture_insee IS NOT NULL)
    """), params)
    s.execute(text("CREATE INDEX ON pn_seat USING gist (geom)"))


def _attach_dense_neighbours(params: dict) -> None:
    """pn_member: each seat, and each dense commune touching seats, joined to the most populous one (agglomeration)."""
    db.session.execute(text("""
        CREATE TEMP TABLE pn_member ON COMMIT DROP AS
        SELECT insee_code AS member, insee_code AS seat FROM pn_seat
        UNION ALL
        (SELECT DISTINCT ON (c.insee_code) c.insee_code, s.insee_code
         FROM communes c JOIN pn_seat s ON ST_Intersects(c.geom, s.geom) AND c.departement_code = s.departement_code
         WHERE c.population >= :dense_min AND c.insee_code NOT IN (SELECT insee_code FROM pn_seat)
         ORDER BY c.insee_code, s.population DESC)
    """), params)


def _insert_commissariats() -> None:
    """One commissariat per seat, its jurisdiction the union of its member communes, under its département's DDPN."""
    db.session.execute(text("""
        INSERT INTO units (code, name, kind, departement_code, parent_id, jurisdiction, synthetic, service_hours,
                           contact)
        SELECT 'PN-' || seat.insee_code, 'Commissariat de ' || seat.name, 'police_nationale', seat.departement_code,
               (SELECT id FROM units WHERE code = 'DDPN-' || seat.departement_code),
               ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3)), true, NULL::jsonb,
               jsonb_build_object('phone', '17', 'note', 'Unité fictive de démonstration')
        FROM pn_member m JOIN communes c ON c.insee_code = m.member JOIN pn_seat seat ON seat.insee_code = m.seat
        GROUP BY seat.insee_code, seat.name, seat.departement_code
    """))


def _group_remaining_communes() -> None:
    """gn_group: the communes no commissariat covers, keyed by département and intercommunalité (EPCI)."""
    db.session.execute(text("""
        CREATE TEMP TABLE gn_group ON COMMIT DROP AS
        SELECT c.insee_code, c.name, c.population, c.departement_code, c.geom,
               c.departement_code || '-' || coalesce(c.epci_code, c.insee_code) AS group_key
        FROM communes c WHERE c.insee_code NOT IN (SELECT member FROM pn_member)
    """))


def _insert_brigades() -> None:
    """One brigade per group, seated in its most populous commune, under its département's groupement."""
    db.session.execute(text("""
        INSERT INTO units (code, name, kind, departement_code, parent_id, jurisdiction, synthetic, service_hours,
                           contact)
        SELECT 'GN-' || seat.insee_code, 'Brigade de gendarmerie de ' || seat.name, 'gendarmerie',
               g.departement_code, (SELECT id FROM units WHERE code = 'GGD-' || g.departement_code),
               g.jurisdiction, true, NULL::jsonb,
               jsonb_build_object('phone', '17', 'note', 'Unité fictive de démonstration')
        FROM (SELECT group_key, min(departement_code) AS departement_code,
                     ST_Multi(ST_CollectionExtract(ST_Union(geom), 3)) AS jurisdiction,
                     (array_agg(insee_code ORDER BY population DESC, insee_code))[1] AS seat_insee
              FROM gn_group GROUP BY group_key) g
        JOIN communes seat ON seat.insee_code = g.seat_insee
    """))


def _insert_police_municipales(rule: DemoUnitRule, params: dict) -> None:
    """One police municipale per large enough city (Paris, Lyon, Marseille whole), open in `rule.pm_hours` only."""
    db.session.execute(text("""
        INSERT INTO units (code, name, kind, departement_code, jurisdiction, synthetic, service_hours, contact)
        SELECT 'PM-' || city_code, 'Police municipale de ' || city_name, 'police_municipale', departement_code,
               jurisdiction, true, CAST(:hours AS jsonb),
               jsonb_build_object('note', 'Unité fictive de démonstration')
        FROM (SELECT coalesce(c.parent_insee, c.insee_code) AS city_code,
                     CASE coalesce(c.parent_insee, '') WHEN '75056' THEN 'Paris' WHEN '69123' THEN 'Lyon'
                          WHEN '13055' THEN 'Marseille' ELSE min(c.name) END AS city_name,
                     min(c.departement_code) AS departement_code, sum(c.population) AS population,
                     ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3)) AS jurisdiction
              FROM communes c
              WHERE c.population >= :pm_min OR c.parent_insee IN ('75056', '69123', '13055')
              GROUP BY coalesce(c.parent_insee, c.insee_code), coalesce(c.parent_insee, '')) city
        WHERE population >= :pm_min
    """), {**params, "hours": json.dumps(rule.pm_hours)})


def _count_synthetic_units() -> dict:
    """Synthetic units per kind, supervision apart (`police_nationale_supervision`…): what the loader reports."""
    return dict(db.session.execute(text(
        "SELECT kind || CASE WHEN receives_reports THEN '' ELSE '_supervision' END, count(*) FROM units "
        "WHERE synthetic GROUP BY 1")).all())


def _commit_and_analyse() -> None:
    """Commit, then fresh statistics on units: routing finds a report's unit by its jurisdiction's index."""
    s = db.session
    s.commit()
    s.execute(text("ANALYZE units"))
    s.commit()
