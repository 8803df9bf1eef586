"""Audit log: hash chain, tamper detection naming the first bad row, append-only trigger, concurrent writers."""
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from models import AuditEntry, db
from service.platform import audit


def _write(n, actor="test"):
    for i in range(n):
        audit.record(actor, "test.action", "report", i, {"i": i, "nested": {"b": 2, "a": [1, "é"]}})
    db.session.commit()


def test_chain_verifies(db_session):
    _write(5)
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    result = audit.verify()
    assert result.ok and result.checked == 5


def test_update_and_delete_are_refused(db_session):
    _write(1)
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(DBAPIError, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text("DELETE FROM audit_log"))


def _bypass_trigger():
    # What an intruder with superuser rights could do; the chain must still reveal it.
    db.session.execute(text("SET LOCAL session_replication_role = replica"))


def test_modified_row_is_reported(db_session):
    _write(5)
    ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    _bypass_trigger()
    db.session.execute(text("UPDATE audit_log SET details = '{\"i\": 99}' WHERE id = :id"), {"id": ids[2]})
    result = audit.verify()
    assert not result.ok and result.broken_id == ids[2] and result.checked == 2
    assert "modifié" in result.problem


def test_deleted_row_is_reported(db_session):
    _write(5)
    ids = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()
    _bypass_trigger()
    db.session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    result = audit.verify()
    assert result.broken_id == ids[2] and "chaînage" in result.problem


def test_cli_verify(app, db_session):
    _write(3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "3 entrées vérifiées" in result.output
    _bypass_trigger()
    db.session.execute(text("UPDATE audit_log SET actor = 'x' WHERE id = (SELECT max(id) FROM audit_log)"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "ALTÉRÉ" in result.output


def test_concurrent_writers_keep_one_chain(app, committed):
    errors = []

    def writer(n):
        try:
            with app.app_context():
                for i in range(10):
                    audit.record(f"writer-{n}", "concurrent", "test", i, {})
                    db.session.commit()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = audit.verify()
    assert result.ok and result.checked == 40
