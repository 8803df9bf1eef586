"""The pieces of `make cluster` are up and wired as docs/scaling.md says."""
import psycopg
import redis
import requests
from psycopg.rows import dict_row
from sqlalchemy import text
from sqlalchemy.engine import make_url

from service.platform.redis_client import sentinel_addresses


def test_the_replica_is_a_hot_standby_streaming_from_the_primary(primary, replica):
    with primary.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is False
        assert conn.execute(text("SELECT state FROM pg_stat_replication")).scalars().all() == ["streaming"]
    with replica.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        assert conn.execute(text("SELECT status FROM pg_stat_wal_receiver")).scalar() == "streaming"


def test_pgbouncer_pools_in_transaction_mode_in_front_of_the_primary(cluster):
    admin = make_url(cluster["DATABASE_URL"]).set(drivername="postgresql", database="pgbouncer", username="postgres")
    # PgBouncer's admin console speaks the simple query protocol only.
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True, prepare_threshold=None,
                         row_factory=dict_row) as conn:
        pools = conn.execute("SHOW POOLS", prepare=False).fetchall()
        databases = conn.execute("SHOW DATABASES", prepare=False).fetchall()
    primary_port = make_url(cluster["DATABASE_PRIMARY_DIRECT_URL"]).port
    assert {p["pool_mode"] for p in pools if p["database"] == "proxima"} == {"transaction"}
    assert {d["port"] for d in databases if d["name"] == "proxima"} == {primary_port}


def test_three_sentinels_agree_on_the_master_and_see_its_replica(cluster):
    masters = set()
    for host, port in sentinel_addresses(cluster["REDIS_SENTINELS"]):
        sentinel = redis.Redis(host=host, port=port, decode_responses=True)
        masters.add(tuple(sentinel.sentinel_get_master_addr_by_name(cluster["REDIS_SENTINEL_MASTER"])))
        assert len(sentinel.sentinel_slaves(cluster["REDIS_SENTINEL_MASTER"])) >= 1
        assert len(sentinel.sentinel_sentinels(cluster["REDIS_SENTINEL_MASTER"])) == 2  # the other two
    assert len(masters) == 1


def test_every_web_instance_is_ready(web_urls):
    assert len(web_urls) == 2
    for url in web_urls:
        assert requests.get(url + "/readyz", timeout=10).status_code == 200
