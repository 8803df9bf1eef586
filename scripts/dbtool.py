"""Small provisioning helper for the shell scripts: reach PostgreSQL and Redis, create a database, rewrite URLs.

Run with the project's virtualenv (psycopg and redis are its dependencies):
    dbtool.py pg-ping URL            exit 0 when the server at URL answers (the database itself may not exist yet)
    dbtool.py pg-wait URL SECONDS    same, retrying for a while (a server that is starting)
    dbtool.py pg-ensure-db URL       create the database of URL when missing (PostGIS comes with the migrations)
    dbtool.py pg-ensure-roles URL    as the administrator of URL: create the database's owner and application roles
                                     (service.platform.database_roles); prints "OWNER_URL APP_URL", or nothing when
                                     URL's role is not a superuser (then it is used as it is)
    dbtool.py redis-ping URL         exit 0 when Redis answers PING
    dbtool.py redis-wait URL SECONDS
    dbtool.py with-database URL NAME print URL with its database replaced by NAME
    dbtool.py with-redis-db URL N    print the Redis URL with its database number replaced by N
    dbtool.py http-wait URL SECONDS  exit 0 once URL answers 200
    dbtool.py port-free PORT         exit 0 when nothing listens on 127.0.0.1:PORT
    dbtool.py describe URL           print URL without its password (for progress messages)
"""
import socket
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql


def _libpq(url: str) -> str:
    """psycopg wants `postgresql://`, the app wants `postgresql+psycopg://`: accept both."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


def _database(url: str) -> str:
    return urlsplit(_libpq(url)).path.lstrip("/") or "postgres"


def _connect(url: str, database: str | None = None):
    conninfo = _libpq(url)
    if database is not None:
        conninfo = with_database(conninfo, database)
    return psycopg.connect(conninfo, connect_timeout=3, autocommit=True)


def pg_ping(url: str, quiet: bool = False) -> bool:
    # The target database may not exist yet: fall back on the maintenance database of the same server.
    for database in (None, "postgres"):
        try:
            with _connect(url, database) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError as exc:
            last = exc
    if not quiet:
        print(f"    PostgreSQL not reachable ({describe(url)}) : {str(last).strip().splitlines()[0]}", file=sys.stderr)
    return False


def pg_ensure_db(url: str) -> None:
    name = _database(url)
    with _connect(url, "postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            print(f"    database {name}: present")
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"    database {name}: created")


def pg_ensure_roles(url: str) -> str:
    with _connect(url) as conn:
        if not conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]:
            return ""
    from service.platform.config import normalise_database_url
    from service.platform.database_roles import ensure_roles
    owner_url, app_url = ensure_roles(normalise_database_url(url))
    return f"{owner_url} {app_url}"


def redis_ping(url: str, quiet: bool = False) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        return True
    except (redis.RedisError, OSError) as exc:
        if not quiet:
            print(f"    Redis not reachable ({describe(url)}) : {exc}", file=sys.stderr)
        return False


def wait(check, url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check(url, quiet=True):
            return True
        time.sleep(0.5)
    return check(url)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def with_redis_db(url: str, number: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + str(int(number))))


def http_wait(url: str, seconds: float) -> bool:
    """Poll until URL answers 200 (the readiness probe of a server that is starting)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    return False


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def describe(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command, args = argv[1], argv[2:]
    if command == "pg-ping":
        return 0 if pg_ping(args[0]) else 1
    if command == "pg-wait":
        return 0 if wait(pg_ping, args[0], float(args[1])) else 1
    if command == "pg-ensure-db":
        pg_ensure_db(args[0])
        return 0
    if command == "pg-ensure-roles":
        print(pg_ensure_roles(args[0]))
        return 0
    if command == "redis-ping":
        return 0 if redis_ping(args[0]) else 1
    if command == "redis-wait":
        return 0 if wait(redis_ping, args[0], float(args[1])) else 1
    if command == "with-database":
        print(with_database(args[0], args[1]))
        return 0
    if command == "with-redis-db":
        print(with_redis_db(args[0], args[1]))
        return 0
    if command == "http-wait":
        return 0 if http_wait(args[0], float(args[1])) else 1
    if command == "port-free":
        return 0 if port_free(int(args[0])) else 1
    if command == "describe":
        print(describe(args[0]))
        return 0
    print(f"dbtool: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
