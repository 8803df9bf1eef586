"""RQ jobs, queues, the push client and scheduled follow-ups; `flask worker` and `flask outbox relay`."""
import sys
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from models import db
from service.followup.notifications import DISPATCHER
from workers.outbox import relay
from workers.push import enqueue_sends
from workers.queues import QUEUES
from workers.worker import run_worker


def init_app(app: Flask) -> None:
    # The outbox hands committed rows to the queue through this hook (service/ does not import workers/).
    app.extensions[DISPATCHER] = enqueue_sends
    app.cli.add_command(worker_command)
    app.cli.add_command(outbox_group)


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
