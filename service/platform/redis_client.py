"""One Redis connection pool per process, bound to the app; RQ queues are built on it.

With REDIS_SENTINELS set (host:port,host:port,…), connections ask the Sentinels for the current master of
REDIS_SENTINEL_MASTER and follow it after a failover (the database number still comes from REDIS_URL);
otherwise they go to REDIS_URL.
"""
import redis
from flask import Flask, current_app
from redis.sentinel import Sentinel


def sentinel_addresses(raw: str | None) -> list[tuple[str, int]]:
    """"127.0.0.1:26391,127.0.0.1:26392" → [("127.0.0.1", 26391), ("127.0.0.1", 26392)]."""
    addresses = []
    for part in (raw or "").split(","):
        if part.strip():
            host, _, port = part.strip().rpartition(":")
            addresses.append((host or "127.0.0.1", int(port)))
    return addresses


def limiter_storage_uri(redis_url: str, sentinels: str | None, master: str) -> str:
    """Flask-Limiter's storage: the Redis URL, or the Sentinels and the master's name."""
    if not sentinel_addresses(sentinels):
        return redis_url
    return "redis+sentinel://" + ",".join(f"{h}:{p}" for h, p in sentinel_addresses(sentinels)) + "/" + master


def connect(config: dict, **options) -> redis.Redis:
    """A client on the current master (through the Sentinels when configured); `options` are redis-py's."""
    sentinels = sentinel_addresses(config.get("REDIS_SENTINELS"))
    if not sentinels:
        return redis.Redis.from_url(config["REDIS_URL"], **options)
    db_number = redis.connection.parse_url(config["REDIS_URL"]).get("db", 0)
    # A Sentinel that does not answer is skipped within a second; the others are asked in turn.
    sentinel = Sentinel(sentinels, sentinel_kwargs={"socket_connect_timeout": 1, "socket_timeout": 1})
    return sentinel.master_for(config["REDIS_SENTINEL_MASTER"], db=db_number, **options)


def init_app(app: Flask) -> None:
    if sentinel_addresses(app.config.get("REDIS_SENTINELS")):
        app.config["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(
            app.config["REDIS_URL"], app.config["REDIS_SENTINELS"], app.config["REDIS_SENTINEL_MASTER"])
    # Short timeouts: a Redis outage must delay notifications, never hang an intake.
    app.extensions["redis"] = connect(app.config, socket_connect_timeout=1, socket_timeout=2,
                                      health_check_interval=30)


def get_redis() -> redis.Redis:
    return current_app.extensions["redis"]
