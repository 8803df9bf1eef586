"""RQ jobs, queues, the push client and scheduled follow-ups; `flask worker` and `flask outbox relay`."""
import sys
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from models import db
from service.followup.notifications import DISPATCHER
from service.platform import clock
from service.platform.clock import PARIS
from service.reports import retention
from workers.outbox import relay
from workers.push import enqueue_sends
from workers.queues import QUEUES
from workers.worker import run_worker


def init_app(app: Flask) -> None:
    # The outbox hands committed rows to the queue through this hook (service/ does not import workers/).
    app.extensions[DISPATCHER] = enqueue_sends
    app.cli.add_command(worker_command)
    app.cli.add_command(outbox_group)
    app.cli.add_command(retention_group)


@click.command("worker")
@click.option("--with-scheduler", is_flag=True, help="Also run RQ's scheduler and the periodic jobs.")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queues", "-q", multiple=True, help="Queues to work, in order (default: push, default, maintenance).")
@with_appcontext
def worker_command(with_scheduler: bool, burst: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker (pushes, follow-ups, maintenance)."""
    run_worker(current_app._get_current_object(), queues or QUEUES, with_scheduler=with_scheduler, burst=burst)


@click.group("outbox")
def outbox_group() -> None:
    """Outbox of push notifications."""


@outbox_group.command("relay")
@click.option("--loop", is_flag=True, help="Keep relaying every OUTBOX_RELAY_INTERVAL_S seconds.")
@with_appcontext
def relay_command(loop: bool) -> None:
    """Enqueue due notifications (and give up those stuck mid-send)."""
    while True:
        result = relay()
        db.session.remove()
        click.echo(f"{result.enqueued} notification(s) mise(s) en file, {result.given_up} abandonnée(s)"
                   + (f" ; file indisponible : {result.error}" if result.error else ""))
        if not loop:
            sys.exit(1 if result.error else 0)
        time.sleep(current_app.config["OUTBOX_RELAY_INTERVAL_S"])


@click.group("retention")
def retention_group() -> None:
    """Retention of reporters' personal data (service/reports/retention.py)."""


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M"]),
              help="Purge as of this date (Europe/Paris; a past date, or any date with --dry-run).")
@with_appcontext
def retention_run_command(dry_run: bool, as_of) -> None:
    """Purge the reports past their category's retention (the daily job does the same at 03:30 UTC)."""
    instant = as_of.replace(tzinfo=PARIS) if as_of else None
    if instant and not dry_run and instant > clock.now():
        raise click.BadParameter("a date in the future purges early: only with --dry-run", param_hint="--as-of")
    if dry_run:
        result = retention.what_would_be_purged(instant)
    else:
        result = retention.purge_expired_reports(as_of=instant)
    counts = result.counts()
    click.echo(("Seraient purgés" if dry_run else "Purgés") + " : "
               + f"{counts['reports']} signalement(s), {counts['photos']} photo(s), "
               + f"{counts['contacts']} coordonnée(s), "
               + f"{counts['texts']} texte(s) d'agent ou de résident, {counts['comments']} commentaire(s) d'avis, "
               + f"{counts['payloads']} contenu(s) de notification, {counts['message_texts']} message(s), "
               + f"{counts['message_photos']} photo(s) de message.")
