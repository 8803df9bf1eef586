"""PgBouncer in transaction mode: psycopg's server-side prepared statements break there, Proxima disables them,
and the whole service (intake, a resident's own report, Open311) works through it."""
import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from service import create_app
from tests.faults.support import register, report_body

QUERY = "SELECT count(*) FROM categories"


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run_across_server_connections(conninfo: str, prepare_threshold) -> None:
    """The same statement often enough to be prepared on one server connection, then run again while another
    client holds that server connection in a transaction: PgBouncer hands this client another one."""
    with psycopg.connect(conninfo, autocommit=True, prepare_threshold=prepare_threshold) as client, \
            psycopg.connect(conninfo, prepare_threshold=None) as other:
        for _ in range(6):
            client.execute(QUERY).fetchone()
        other.execute("SELECT 1").fetchone()  # opens a transaction: holds the server connection just released
        client.execute(QUERY).fetchone()
        other.rollback()


def test_prepared_statements_break_behind_pgbouncer_in_transaction_mode(cluster):
    # The server connection a client lands on lacks its statement, or (when an earlier client left one of the same
    # name on it) already holds another: either way psycopg's default breaks in transaction mode.
    with pytest.raises((psycopg.errors.InvalidSqlStatementName, psycopg.errors.DuplicatePreparedStatement)):
        _run_across_server_connections(_libpq(cluster["DATABASE_URL"]), prepare_threshold=5)  # psycopg's default


def test_the_application_engine_prepares_nothing_behind_pgbouncer(cluster):
    app = create_app({"SQLALCHEMY_DATABASE_URI": cluster["DATABASE_URL"], "DATABASE_PGBOUNCER": True,
                      "DATABASE_REPLICA_URL": None, "REDIS_URL": cluster["REDIS_URL"]})
    with app.app_context():
        from models import db
        with db.engine.connect() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold is None
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["prepare_threshold"] is None
    _run_across_server_connections(_libpq(cluster["DATABASE_URL"]), prepare_threshold=None)


def test_intake_and_reads_through_pgbouncer_on_both_web_instances(web_urls):
    """Each statement of an intake runs more than psycopg's 5 times: a prepared statement would show here.
    Three devices per instance, four reports each (the per-device limit is 6 a minute)."""
    for base in web_urls:
        with requests.Session() as http:
            for device in range(3):
                headers = {"Authorization": f"Bearer {register(base, http)}"}
                references = []
                for i in range(4):
                    response = http.post(base + "/api/v1/reports", json=report_body(device * 4 + i),
                                         headers=headers, timeout=30)
                    assert response.status_code == 201, response.text
                    references.append(response.json()["reference"])
                for reference in references:
                    # The resident's own report is read on the primary: seen at once.
                    own = http.get(f"{base}/api/v1/reports/{reference}", headers=headers, timeout=30)
                    assert own.status_code == 200
                listed = http.get(base + "/api/v1/reports", headers=headers, timeout=30)
                assert listed.status_code == 200 and {r["reference"] for r in listed.json()} == set(references)
            assert http.get(base + "/open311/v2/services.json", timeout=30).status_code == 200
