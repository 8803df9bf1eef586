"""`flask open311 key create|revoke|list`: partner API keys."""
import click
from flask.cli import AppGroup

from service.accounts import partners

open311_cli = AppGroup("open311", help="Open311 : clés API des partenaires.")


@open311_cli.group("key", help="Clés API des partenaires (stockées hachées).")
def key_cli():
    pass


@key_cli.command("create")
@click.argument("name")
def create(name):
    """Crée une clé pour le partenaire NAME ; la clé n'est affichée qu'une fois (dernière ligne)."""
    try:
        created = partners.create_key(name)
    except ValueError as exc:
        raise click.UsageError(str(exc))
    click.echo(f"Clé n°{created.partner_key.id} créée pour « {created.partner_key.name} ». "
               "Conservez-la : elle ne sera plus affichée.")
    click.echo(created.secret)


@key_cli.command("revoke")
@click.argument("key_id", type=int)
def revoke(key_id):
    """Révoque la clé n°KEY_ID."""
    key = partners.revoke_key(key_id)
    if key is None:
        raise click.ClickException(f"Aucune clé n°{key_id}.")
    click.echo(f"Clé n°{key.id} ({key.name}) révoquée le {key.revoked_at.isoformat(timespec='seconds')}.")


@key_cli.command("list")
def list_():
    """Liste les clés (préfixe, partenaire, état, dernière utilisation)."""
    for key in partners.list_keys():
        state = f"révoquée {key.revoked_at.isoformat(timespec='seconds')}" if key.revoked_at else "active"
        used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "jamais utilisée"
        click.echo(f"{key.id}\t{key.prefix}…\t{key.name}\t{state}\t{used}")
