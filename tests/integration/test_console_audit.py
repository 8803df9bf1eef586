"""Audit log: keyed chain, signed checkpoints, what the service's database role may do, and tampering by someone
with more than that role (the owner, bypassing the triggers) detected by `flask audit verify`."""
import hashlib
import json
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from models import AuditCheckpoint, AuditEntry, db
from service.platform import audit
from tests.conftest import owner_engine
from tests.integration.console_support import login, make_officer, new_client


def _write(n, actor="test"):
    for i in range(n):
        audit.record(actor, "test.action", "report", i, {"i": i, "nested": {"b": 2, "a": [1, "é"]}})
    db.session.commit()


def _as_owner_bypassing_triggers(*statements, params=None):
    """What an intruder with the owner's (or a superuser's) rights could do; the chain must still reveal it."""
    with owner_engine().begin() as conn:
        conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        rows = [conn.execute(text(s), params or {}) for s in statements]
        conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        conn.execute(text("ALTER TABLE audit_checkpoints ENABLE TRIGGER USER"))
        return rows


def _verify(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


def test_chain_verifies_and_is_keyed(db_session, app):
    _write(5)
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    # Not a plain SHA-256 of the content: recomputing it needs AUDIT_HMAC_KEY.
    assert rows[0].hash != hashlib.sha256(b"anything").hexdigest() and len(rows[0].hash) == 64
    result = audit.verify()
    assert result.ok and result.checked == 5 and result.head_id == rows[-1].id


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER USER",
    "DROP TABLE audit_log",
    "DELETE FROM audit_checkpoints",
    "TRUNCATE audit_checkpoints",
])
def test_the_service_role_may_only_insert_and_read_the_audit_tables(db_session, statement):
    _write(1)
    audit.verify_and_checkpoint()
    with pytest.raises(DBAPIError) as refused:
        with db.session.begin_nested():
            db.session.execute(text(statement))
    assert "permission denied" in str(refused.value) or "must be owner" in str(refused.value)


def test_the_service_role_neither_owns_the_audit_log_nor_is_superuser(db_session):
    facts = db.session.execute(text(
        "SELECT current_user AS me, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser, "
        "(SELECT tableowner FROM pg_tables WHERE tablename = 'audit_log') AS owner, "
        "has_table_privilege('audit_log', 'INSERT') AS can_insert, "
        "has_table_privilege('audit_log', 'SELECT') AS can_select, "
        "has_table_privilege('audit_log', 'UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS can_more")).one()
    assert not facts.superuser and facts.owner != facts.me
    assert facts.can_insert and facts.can_select and not facts.can_more


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log",
                                       "TRUNCATE audit_log", "TRUNCATE audit_checkpoints"])
def test_even_the_owner_is_refused_while_the_triggers_stand(app, committed, statement):
    _write(1)
    audit.verify_and_checkpoint()
    with pytest.raises(DBAPIError, match="append-only"):
        with owner_engine().begin() as conn:
            conn.execute(text(statement))


def test_a_deleted_last_entry_fails_verify_and_holds_once_put_back(app, committed):
    _write(5)
    assert _verify(app).exit_code == 0  # signs a checkpoint at the head
    last = db.session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    saved = {c.name: getattr(last, c.key) for c in AuditEntry.__table__.columns}
    db.session.remove()
    _as_owner_bypassing_triggers("DELETE FROM audit_log WHERE id = :id", params={"id": saved["id"]})

    result = _verify(app)
    assert result.exit_code == 1 and "ALTÉRÉ" in result.output and "absente" in result.output

    _as_owner_bypassing_triggers(
        "INSERT INTO audit_log (id, at, officer_id, actor, action, target_type, target_id, details, prev_hash, hash) "
        "VALUES (:id, :at, :officer_id, :actor, :action, :target_type, :target_id, CAST(:details AS jsonb), "
        ":prev_hash, :hash)", params={**saved, "details": json.dumps(saved["details"])})
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "5 entrées vérifiées" in result.output


def test_a_truncation_fails_verify(app, committed):
    _write(3)
    assert _verify(app).exit_code == 0
    db.session.remove()
    _as_owner_bypassing_triggers("TRUNCATE audit_log")
    result = _verify(app)
    assert result.exit_code == 1 and "tronqué" in result.output


def test_a_rewritten_row_fails_verify_even_with_a_recomputed_chain(app, committed):
    _write(5)
    assert _verify(app).exit_code == 0
    _write(3)  # after the checkpoint
    rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    db.session.remove()
    # The intruder rewrites entry 7 and re-chains the tail consistently, as the unkeyed SHA-256 chain allowed.
    prev = rows[5].hash
    statements, params = [], {}
    for n, row in enumerate(rows[6:]):
        details = {"i": 99} if n == 0 else row.details
        payload = {"prev": prev, "at": row.at.isoformat(), "officer_id": None, "actor": row.actor,
                   "action": row.action, "target_type": row.target_type, "target_id": row.target_id,
                   "details": details}
        new_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        statements.append(f"UPDATE audit_log SET details = CAST(:d{n} AS jsonb), prev_hash = :p{n}, hash = :h{n} "
                          f"WHERE id = :id{n}")
        params.update({f"d{n}": json.dumps(details), f"p{n}": prev, f"h{n}": new_hash, f"id{n}": row.id})
        prev = new_hash
    _as_owner_bypassing_triggers(*statements, params=params)
    result = _verify(app)
    assert result.exit_code == 1 and f"n° {rows[6].id}" in result.output and "modifié" in result.output


def test_verify_resumes_from_the_last_checkpoint_and_full_checks_everything(app, committed):
    _write(4)
    assert _verify(app).exit_code == 0
    first = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).first()
    db.session.remove()
    _as_owner_bypassing_triggers("UPDATE audit_log SET actor = 'x' WHERE id = :id", params={"id": first})
    _write(2)
    # The journal page's check covers what came after the last checkpoint…
    assert audit.verify().ok and audit.verify().checked == 6
    # …the full one finds the older rewrite.
    result = _verify(app, "--full")
    assert result.exit_code == 1 and f"n° {first}" in result.output


def test_a_forged_checkpoint_is_refused(app, committed):
    _write(2)
    assert _verify(app).exit_code == 0
    db.session.remove()
    _as_owner_bypassing_triggers("UPDATE audit_checkpoints SET entries = entries + 1")
    result = _verify(app)
    assert result.exit_code == 1 and "falsifié" in result.output


def test_the_checkpoint_file_reveals_a_deleted_tail_and_checkpoints(app, committed, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_FILE", str(tmp_path / "audit-checkpoints.jsonl"))
    _write(3)
    assert _verify(app).exit_code == 0
    assert json.loads((tmp_path / "audit-checkpoints.jsonl").read_text())["entries"] == 3
    db.session.remove()
    _as_owner_bypassing_triggers("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
                                 "DELETE FROM audit_checkpoints")
    result = _verify(app)
    assert result.exit_code == 1 and "fichier" in result.output


def test_the_journal_page_signs_a_checkpoint(app, committed):
    _write(2)
    result = audit.verify_and_checkpoint()
    assert result.ok
    checkpoint = db.session.scalars(select(AuditCheckpoint)).one()
    assert checkpoint.entries == 2 and checkpoint.entry_id == result.head_id
    # Nothing new: no second checkpoint.
    audit.verify_and_checkpoint()
    assert len(db.session.scalars(select(AuditCheckpoint)).all()) == 1


def test_the_journal_page_shows_a_rewritten_entry(app, committed):
    make_officer("admin-journal@example.fr", "admin", None)
    client = new_client(app)
    login(client, "admin-journal@example.fr")
    page = client.get("/console/tableau-de-bord/journal").get_data(as_text=True)
    assert "Chaîne d&#39;empreintes intègre" in page or "Chaîne d'empreintes intègre" in page
    _write(2)
    victim = db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id.desc())).first()
    db.session.remove()
    _as_owner_bypassing_triggers("UPDATE audit_log SET actor = 'quelquun@example.fr' WHERE id = :id",
                                 params={"id": victim})
    page = client.get("/console/tableau-de-bord/journal").get_data(as_text=True)
    assert "Chaîne d&#39;empreintes rompue" in page or "Chaîne d'empreintes rompue" in page
    assert f"entrée n° {victim}" in page


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
