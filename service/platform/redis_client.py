"""One Redis connection pool per process, bound to the app; RQ queues are built on it."""
import redis
from flask import Flask, current_app


def init_app(app: Flask) -> None:
    # Short timeouts: a Redis outage must delay notifications, never hang an intake.
    app.extensions["redis"] = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=2, health_check_interval=30)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
