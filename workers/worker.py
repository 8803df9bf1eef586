"""The RQ worker and the periodic schedule it can carry (`flask worker --with-scheduler`).

Jobs run in the worker process itself (SimpleWorker, no fork per job) so that the pyfcm backend, its OAuth
token and its kept-alive HTTPS connections live as long as the worker; each job gets a fresh app context.
"""
import logging
import threading
import time

import redis

from flask import Flask
from rq import SimpleWorker
from rq.cron import CronScheduler

from models import db
from service.statistics.indicator_snapshots import SNAPSHOT_INTERVAL_S
from workers.followups import purge_expired_reports, remind_unacknowledged, request_feedback
from workers.indicators import refresh_indicator_snapshots, refresh_indicators
from workers.maintenance import create_partitions
from workers.outbox import relay_outbox
from workers.queues import QUEUES, get_queue, worker_connection

log = logging.getLogger("proxima.worker")

# Daily purge at 03:30 UTC, when nobody triages; the coming months' partitions just before.
RETENTION_CRON = "30 3 * * *"
PARTITIONS_CRON = "15 3 * * *"
FOLLOWUP_INTERVAL_S = 60
INDICATORS_INTERVAL_S = 60
CRON_RETRY_S = 2


class ProximaWorker(SimpleWorker):
    """Runs each job inside an application context and cleans the database session afterwards."""

    def __init__(self, queues, *, app: Flask, **kwargs):
        super().__init__(queues, **kwargs)
        self.app = app

    def execute_job(self, job, queue):
        with self.app.app_context():
            try:
                return super().execute_job(job, queue)
            finally:
                db.session.remove()


class ThreadedCronScheduler(CronScheduler):
    """RQ's cron scheduler, run beside the worker in a thread (signals belong to the worker's main thread)."""

    def _install_signal_handlers(self):
        pass

    def start(self):
        # RQ's loop ends on a Redis error; a Redis outage or a Sentinel failover must not end the periodic jobs
        # (the outbox relay among them) for the rest of the worker's life: start again once Redis answers.
        while True:
            try:
                return super().start()
            except redis.exceptions.ConnectionError as exc:
                log.warning("periodic jobs paused, Redis unreachable (%s): retrying in %s s", exc,
                            CRON_RETRY_S)
                time.sleep(CRON_RETRY_S)


def periodic_jobs(app: Flask) -> list[tuple]:
    """(job, {"interval": seconds} or {"cron": expression}) for every periodic job."""
    return [
        (relay_outbox, {"interval": app.config["OUTBOX_RELAY_INTERVAL_S"]}),
        (remind_unacknowledged, {"interval": FOLLOWUP_INTERVAL_S}),
        (request_feedback, {"interval": FOLLOWUP_INTERVAL_S}),
        (refresh_indicators, {"interval": INDICATORS_INTERVAL_S}),
        (refresh_indicator_snapshots, {"interval": SNAPSHOT_INTERVAL_S}),
        (purge_expired_reports, {"cron": RETENTION_CRON}),
        (create_partitions, {"cron": PARTITIONS_CRON}),
    ]


def build_cron(app: Flask, connection) -> CronScheduler:
    cron = ThreadedCronScheduler(connection=connection)
    for func, when in periodic_jobs(app):
        cron.register(func, queue_name=func.spec.queue, job_timeout=func.spec.timeout,
                      result_ttl=func.spec.result_ttl, **when)
    return cron


def run_worker(app: Flask, queues: tuple[str, ...] = QUEUES, with_scheduler: bool = False,
               burst: bool = False) -> bool:
    """Work the queues; with the scheduler, also run RQ's scheduler (enqueue_at) and the periodic jobs."""
    connection = worker_connection(app)
    worker = ProximaWorker([get_queue(name, connection) for name in queues], connection=connection, app=app)
    if with_scheduler and not burst:
        cron = build_cron(app, worker_connection(app))
        threading.Thread(target=cron.start, name="proxima-cron", daemon=True).start()
    return worker.work(burst=burst, with_scheduler=with_scheduler, logging_level="INFO")
