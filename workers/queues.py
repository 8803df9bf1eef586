"""RQ queues and the `job` declaration: each job states its queue, timeout and retry where it is defined."""
from dataclasses import dataclass
from datetime import datetime

import redis
from flask import current_app
from rq import Queue, Retry
from rq.job import Job

from service.platform.redis_client import connect, get_redis

# Worker listening order: pushes first, then follow-ups, then the daily maintenance.
PUSH, DEFAULT, MAINTENANCE = "push", "default", "maintenance"
QUEUES = (PUSH, DEFAULT, MAINTENANCE)


@dataclass(frozen=True)
class JobSpec:
    queue: str
    timeout: int
    retry: Retry | None = None
    result_ttl: int = 3600
    failure_ttl: int = 7 * 24 * 3600


def job(queue: str, timeout: int, retry: Retry | None = None, result_ttl: int = 3600):
    """Declare a function as an RQ job; it must take ids (or plain values) and be idempotent."""
    def declare(func):
        func.spec = JobSpec(queue=queue, timeout=timeout, retry=retry, result_ttl=result_ttl)
        return func
    return declare


def pushes_waiting(connection: redis.Redis | None = None) -> int:
    """Push jobs queued and not yet taken by a worker."""
    return get_queue(PUSH, connection).count


def get_queue(name: str, connection: redis.Redis | None = None) -> Queue:
    return Queue(name, connection=connection or get_redis())


def enqueue(func, *args, job_id: str | None = None, at: datetime | None = None,
            connection: redis.Redis | None = None) -> Job:
    """Enqueue `func` now, or at `at` (on the machine's clock, which RQ's scheduler reads: see
    `service.platform.clock.on_system_clock`) through RQ's scheduler, with the options it declared."""
    spec = func.spec
    queue = get_queue(spec.queue, connection)
    options = dict(job_timeout=spec.timeout, retry=spec.retry, result_ttl=spec.result_ttl,
                   failure_ttl=spec.failure_ttl, job_id=job_id)
    if at is not None:
        return queue.enqueue_at(at, func, *args, **options)
    return queue.enqueue(func, *args, **options)


def enqueue_many(func, calls: list[tuple[tuple, str | None]], connection: redis.Redis | None = None) -> list[Job]:
    """Enqueue several calls of `func` in one Redis round trip; `calls` is [(args, job_id), …]."""
    if not calls:
        return []
    spec = func.spec
    queue = get_queue(spec.queue, connection)
    data = [Queue.prepare_data(func, args=args, job_id=job_id, timeout=spec.timeout, retry=spec.retry,
                               result_ttl=spec.result_ttl, failure_ttl=spec.failure_ttl)
            for args, job_id in calls]
    with queue.connection.pipeline() as pipe:
        jobs = queue.enqueue_many(data, pipeline=pipe)
        pipe.execute()
    return jobs


def worker_connection(app=None) -> redis.Redis:
    """A connection of its own for workers: RQ raises its socket timeout for blocking pops."""
    app = app or current_app
    return connect(app.config, socket_connect_timeout=5, health_check_interval=30)
