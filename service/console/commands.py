"""CLI: `flask officer create|seed-demo` and `flask audit verify`."""
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from service.platform import audit, production

from service.accounts import officers

officer_cli = AppGroup("officer", help="Comptes des agents de la console.")
audit_cli = AppGroup("audit", help="Journal d'audit chaîné.")


@officer_cli.command("create")
@click.option("--email", required=True, help="Adresse électronique (identifiant de connexion).")
@click.option("--unit", "unit_code", default=None, help="Code de l'unité (ex. PN-75104) ; facultatif pour admin.")
@click.option("--role", type=click.Choice(["agent", "superviseur", "admin"]), required=True)
@click.option("--name", "display_name", default="", help="Nom affiché.")
@click.option("--password", default=None, help="Mot de passe ; demandé s'il est absent (recommandé).")
def create_command(email, unit_code, role, display_name, password):
    """Create an officer account."""
    unit = officers.find_unit(unit_code) if unit_code else None
    if unit_code and unit is None:
        raise click.ClickException(f"Unité inconnue : {unit_code}")
    if password is None:
        password = click.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    try:
        officer = officers.create_officer(email, role, password, unit=unit, display_name=display_name, actor="cli")
    except officers.OfficerError as exc:
        raise click.ClickException(str(exc))
    where = f"{unit.name} ({unit.code})" if unit else "toutes les unités"
    click.echo(f"Compte créé : {officer.email} — rôle {officer.role} — {where}")


@officer_cli.command("seed-demo")
def seed_demo_command():
    """Create or reset the demo accounts and print their credentials (idempotent; development only)."""
    production.require_development(current_app, "flask officer seed-demo")
    rows = officers.seed_demo_officers()
    if not rows:
        raise click.ClickException("Aucune unité de démonstration : chargez d'abord les données de référence.")
    click.echo("Comptes de démonstration (unités fictives) — connexion sur /console/login :")
    for row in rows:
        click.echo(f"  {row['role']:<12} {row['email']:<40} {row['password']}  {row['unit']}")


@officer_cli.command("set-password")
@click.option("--email", required=True)
@click.password_option("--password", help="Nouveau mot de passe ; demandé s'il est absent (recommandé).")
def set_password_command(email, password):
    """Change an officer's password; every session of the account ends."""
    officer = officers.find_by_email(email)
    if officer is None:
        raise click.ClickException(f"Compte inconnu : {email}")
    try:
        officers.set_password(officer, password, actor="cli")
    except officers.OfficerError as exc:
        raise click.ClickException(str(exc))
    click.echo(f"Mot de passe changé, sessions fermées : {officer.email}")


@officer_cli.command("deactivate-demo")
def deactivate_demo_command():
    """Deactivate every demo account (and end its sessions): what production requires before serving."""
    emails = officers.deactivate_demo_officers(actor="cli")
    click.echo(f"{len(emails)} compte(s) de démonstration désactivé(s).")


@audit_cli.command("verify")
@click.option("--full", is_flag=True, help="Toute la chaîne et tous les points de contrôle, pas seulement depuis le "
                                           "dernier point de contrôle.")
def verify_command(full):
    """Check the chain from the last checkpoint (or all of it) and sign a new checkpoint; exit status 1 and the
    first problem if the log was tampered with."""
    result = audit.verify_and_checkpoint(full=full)
    if result.ok:
        click.echo(f"Journal d'audit intègre : {result.checked} entrées vérifiées.")
        return
    click.echo(f"Journal d'audit ALTÉRÉ à l'entrée n° {result.broken_id} : {result.problem} "
               f"({result.checked} entrées valides avant elle).", err=True)
    sys.exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(officer_cli)
    app.cli.add_command(audit_cli)
