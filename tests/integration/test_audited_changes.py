"""Changes of who sees what leave audit entries: units imported and re-parented, partner keys created and
revoked, synthetic units retired (officer role and unit changes: tests/integration/test_console_auth.py)."""
from sqlalchemy import select

from models import AuditEntry, Unit, db
from service.accounts import partners
from service.platform import audit
from service.reference_data.units_import import import_units_file
from tests.integration.test_units_import import VANNES, feature, valid_features, write


def _entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def test_a_unit_import_and_a_reparenting_are_audited(db_session, tmp_path):
    import_units_file(write(tmp_path, valid_features()))
    first = _entries("units.import")
    assert len(first) == 1 and "CSP-LORIENT" in first[0].details["created"] and not _entries("unit.reparent")
    moved = valid_features() + [feature({"name": "DDSP bis", "kind": "police_nationale", "code": "DDSP-BIS"},
                                        VANNES)]
    moved[1]["properties"]["parent_code"] = "DDSP-BIS"
    import_units_file(write(tmp_path, moved, "again.geojson"))
    lorient = db.session.scalar(select(Unit).where(Unit.code == "CSP-LORIENT"))
    reparent = _entries("unit.reparent")
    assert len(reparent) == 1 and reparent[0].target_id == str(lorient.id)
    assert reparent[0].details["parent_id"] == lorient.parent_id
    assert reparent[0].details["parent_id_before"] != lorient.parent_id
    assert audit.verify().ok


def test_partner_keys_created_and_revoked_are_audited(app, db_session):
    created = partners.create_key("Mairie de Lorient — CRM")
    partners.revoke_key(created.partner_key.id)
    partners.revoke_key(created.partner_key.id)  # idempotent: audited once
    assert [e.details["name"] for e in _entries("partner_key.create")] == ["Mairie de Lorient — CRM"]
    revoked = _entries("partner_key.revoke")
    assert len(revoked) == 1 and revoked[0].target_id == str(created.partner_key.id)
    assert created.secret not in str([e.details for e in _entries("partner_key.create")])


def test_retiring_the_synthetic_units_is_audited(app, db_session):
    result = app.test_cli_runner().invoke(args=["units", "retire-synthetic"])
    assert result.exit_code == 0
    assert not db.session.scalar(select(Unit.id).where(Unit.synthetic.is_(True), Unit.active.is_(True)).limit(1))
    assert _entries("units.retire_synthetic")[0].details["count"] > 0
