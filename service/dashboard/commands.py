"""CLI of the indicators: `flask indicators refresh` and `snapshots`, `flask demo generate`,
`flask territories import`."""
import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from service.platform import production
from service.devtools.demo_data import DemoProfile, demo_report_count, generate_demo_history, remove_demo_reports
from service.statistics.indicator_snapshots import refresh_snapshots
from service.statistics.report_clocks import refresh_indicator_views
from service.statistics.territories import TerritoryImportError, import_territories

indicators_cli = AppGroup("indicators", help="Indicateurs de proximité.")
demo_cli = AppGroup("demo", help="Données de démonstration.")
territories_cli = AppGroup("territories", help="Territoires de superposition (QRR, QPV…).")


@indicators_cli.command("refresh")
@click.option("--full", is_flag=True, help="Tout recalculer au lieu des seuls signalements modifiés.")
def refresh(full: bool) -> None:
    """Recalculer les délais par signalement (tableau de bord, export)."""
    result = refresh_indicator_views(full=full)
    click.echo(f"{result['reports']} signalements recalculés en {result['duration_ms']} ms"
               f" ({'complet' if result['full'] else 'incrémental'}).")


@indicators_cli.command("snapshots")
def snapshots() -> None:
    """Recalculer les vues nationales longues (90 jours, 12 mois) servies telles quelles au tableau de bord."""
    result = refresh_snapshots()
    click.echo(f"{result['views']} vues recalculées en {result['duration_ms']} ms"
               f" ({result['removed']} vues d'autres jours supprimées).")


@demo_cli.command("generate")
@click.option("--reports", "n", type=click.IntRange(min=1), default=5000, show_default=True)
@click.option("--days", type=click.IntRange(min=1, max=3650), default=365, show_default=True)
@click.option("--seed", type=click.FloatRange(-1, 1), default=None, help="Graine (-1 à 1) pour un jeu reproductible.")
@click.option("--replace", is_flag=True, help="Supprimer d'abord les signalements de démonstration existants.")
@click.option("--if-empty", is_flag=True,
              help="Ne rien faire s'il existe déjà des signalements de démonstration (pour `make run`).")
def generate(n: int, days: int, seed: float | None, replace: bool, if_empty: bool) -> None:
    """Créer un historique réaliste de signalements (fictifs) ; développement uniquement."""
    production.require_development(current_app, "flask demo generate")
    if if_empty and not replace and demo_report_count():
        click.echo(f"{demo_report_count()} signalements de démonstration déjà présents : rien à faire.")
        return
    if replace:
        click.echo(f"{remove_demo_reports()} signalements de démonstration supprimés.")
    result = generate_demo_history(n, DemoProfile(days=days), seed=seed,
                                   progress=lambda step: click.echo(f"  {step}…", err=True))
    click.echo(f"{result['reports']} signalements créés en {result['seconds']} s.")
    refreshed = refresh_indicator_views(full=True)
    click.echo(f"Indicateurs recalculés en {refreshed['duration_ms']} ms.")


@territories_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", default="overlay", show_default=True, help="Nature des territoires (qrr, qpv…).")
@click.option("--code-property", default="code", show_default=True)
@click.option("--name-property", default="name", show_default=True)
def import_file(path: str, kind: str, code_property: str, name_property: str) -> None:
    """Importer des territoires depuis un fichier GeoJSON (FeatureCollection, WGS 84)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        result = import_territories(data, kind=kind, code_property=code_property, name_property=name_property)
    except (ValueError, TerritoryImportError) as exc:
        click.echo(f"Import refusé : {exc}", err=True)
        sys.exit(1)
    click.echo(f"{result['created']} territoires créés, {result['updated']} mis à jour.")
