"""CLI for reference data: `flask data load`, `flask units rebuild-demo`, `flask units import FILE.geojson`."""
import json
import sys
import time

import click
from flask import Flask
from flask.cli import AppGroup
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from models import db
from service.reference_data.demo_units import DemoUnitRule, build_demo_units
from service.reference_data.loader import ensure_reference_data
from service.reference_data.units_import import retire_synthetic_units
from service.reference_data.units_import import HoursField, UnitsImportError, import_units, parse_units_file

data_cli = AppGroup("data", help="Reference data: categories, outcome codes, communes, demo units.")
units_cli = AppGroup("units", help="Units (commissariats, brigades, polices municipales) and their jurisdictions.")

_DEFAULT_RULE = DemoUnitRule()


@data_cli.command("load")
@click.option("--force", is_flag=True, help="Reload communes and rebuild the demo units even if present.")
def load_command(force: bool) -> None:
    """Load what is missing (idempotent: a second run only refreshes the categories)."""
    started = time.monotonic()
    try:
        summary = ensure_reference_data(force=force)
    except IntegrityError as exc:
        db.session.rollback()
        raise click.ClickException(
            f"The demo units could not be rebuilt (reports or officers still refer to them): {exc.orig}") from exc
    click.echo(f"Reference data: {summary['categories']} categories, {summary['communes']} communes, "
               f"{summary['units']} units ({time.monotonic() - started:.1f} s).")


def _parse_hours(ctx, param, value):
    if value is None:
        return None
    try:
        raw = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc.msg}") from exc
    try:
        return HoursField().deserialize(raw)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, list) else [str(exc.messages)]
        raise click.BadParameter("; ".join(messages)) from exc


@units_cli.command("rebuild-demo")
@click.option("--pn-min-population", type=click.IntRange(min=0), default=_DEFAULT_RULE.pn_min_population,
              show_default=True, help="A commune this populous is the seat of a police nationale commissariat.")
@click.option("--dense-neighbour-min-population", type=click.IntRange(min=0),
              default=_DEFAULT_RULE.dense_neighbour_min_population, show_default=True,
              help="A neighbour of a seat this populous joins its commissariat.")
@click.option("--pm-min-population", type=click.IntRange(min=0), default=_DEFAULT_RULE.pm_min_population,
              show_default=True, help="A commune this populous has a police municipale.")
@click.option("--pm-hours", callback=_parse_hours, default=None, metavar="JSON",
              help='Service hours of the police municipale, e.g. \'{"mon": [["08:00", "19:00"]]}\' '
                   "(days left out are closed). Default: Monday–Saturday 07:00–20:00.")
def rebuild_demo_command(pn_min_population, dense_neighbour_min_population, pm_min_population, pm_hours) -> None:
    """Replace the synthetic demo units by units built from the communes with this rule."""
    rule = DemoUnitRule(pn_min_population=pn_min_population,
                        dense_neighbour_min_population=dense_neighbour_min_population,
                        pm_min_population=pm_min_population,
                        **({"pm_hours": pm_hours} if pm_hours is not None else {}))
    started = time.monotonic()
    try:
        counts = build_demo_units(rule, progress=lambda step: click.echo(f"  {step}", err=True))
    except IntegrityError as exc:
        db.session.rollback()
        raise click.ClickException(
            "The demo units could not be replaced (reports or officers still refer to them): "
            f"{exc.orig}".strip()) from exc
    click.echo(f"{sum(counts.values())} synthetic units in {time.monotonic() - started:.1f} s: {counts}")


@units_cli.command("retire-synthetic")
def retire_synthetic_command() -> None:
    """Deactivate the synthetic demo units (production refuses to serve while they are active)."""
    count = retire_synthetic_units(actor="cli")
    click.echo(f"{count} synthetic demo unit(s) deactivated.")


@units_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Validate the file and report, write nothing.")
def import_command(path: str, dry_run: bool) -> None:
    """Import real jurisdictions from a GeoJSON FeatureCollection (upsert by code, all or nothing)."""
    try:
        candidates = parse_units_file(path)
        if dry_run:
            click.echo(f"{path}: {len(candidates)} units valid (dry run, nothing written).")
            return
        result = import_units(candidates)
    except UnitsImportError as exc:
        click.echo(f"{path}: rejected, nothing was written. {len(exc.errors)} problem(s):", err=True)
        for line in exc.errors:
            click.echo(f"  - {line}", err=True)
        sys.exit(1)
    click.echo(f"{path}: {result.total} units imported ({len(result.created)} created, "
               f"{len(result.updated)} updated).")


def init_app(app: Flask) -> None:
    app.cli.add_command(data_cli)
    app.cli.add_command(units_cli)
