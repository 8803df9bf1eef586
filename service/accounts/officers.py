"""Officer accounts: creation, password hashing, login, audited changes of password, role, unit and activity,
demo accounts. Throttling of failed logins: service.accounts.login_throttle."""
import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from models import Officer, Role, Unit, db
from service.accounts import sessions
from service.platform import audit, clock

MIN_PASSWORD_LENGTH = 12


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the e-mail is unknown, so that a wrong e-mail costs as much as a wrong password."""
    return generate_password_hash("proxima-timing-equaliser")


class OfficerError(ValueError):
    """Invalid account data; the message is French and shown as is."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise OfficerError(f"Le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères.")
    return generate_password_hash(password)


def find_unit(code_or_id) -> Unit | None:
    if code_or_id is None or code_or_id == "":
        return None
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        return db.session.get(Unit, int(code_or_id))
    return db.session.scalar(select(Unit).where(Unit.code == str(code_or_id)))


def create_officer(email: str, role: str, password: str, unit: Unit | None = None, display_name: str = "",
                   actor: str = "cli") -> Officer:
    """Create an account (commits). Agents and superviseurs belong to a unit; admins may have none."""
    email = normalise_email(email)
    if "@" not in email:
        raise OfficerError("Adresse électronique invalide.")
    if role not in {r.value for r in Role}:
        raise OfficerError("Rôle inconnu : agent, superviseur ou admin.")
    if role != Role.ADMIN.value and unit is None:
        raise OfficerError("Un agent ou un superviseur doit être rattaché à une unité.")
    if db.session.scalar(select(Officer.id).where(func.lower(Officer.email) == email)):
        raise OfficerError("Un compte existe déjà pour cette adresse.")
    officer = Officer(email=email, role=role, unit_id=unit.id if unit else None,
                      display_name=display_name or email.split("@")[0], password_hash=hash_password(password))
    db.session.add(officer)
    db.session.flush()
    audit.record(actor, "officer.create", "officer", officer.id,
                 {"email": email, "role": role, "unit_id": officer.unit_id})
    db.session.commit()
    return officer


@dataclass
class LoginResult:
    officer: Officer | None
    locked: bool = False


def authenticate(email: str, password: str, remote_addr: str | None = None) -> LoginResult:
    """Check credentials; every attempt is audited. Commits.

    Failures never lock the account (a stranger could then keep its owner out): the console throttles them per
    account × address (service.accounts.login_throttle). An account locked by an administrator's earlier lock
    (`locked_until`) refuses even the right password until it expires.
    """
    email = normalise_email(email)
    officer = db.session.scalar(select(Officer).where(func.lower(Officer.email) == email))
    if officer is None or not officer.active:
        check_password_hash(_dummy_hash(), password or "")
        audit.record(email or "?", "login.failure", "officer", officer.id if officer else None,
                     {"reason": "unknown" if officer is None else "inactive", "ip": remote_addr})
        db.session.commit()
        return LoginResult(None)
    now = clock.now()
    if officer.locked_until is not None and officer.locked_until > now:
        check_password_hash(_dummy_hash(), password or "")
        audit.record(officer, "login.refused_locked", "officer", officer.id, {"ip": remote_addr})
        db.session.commit()
        return LoginResult(None, locked=True)
    if check_password_hash(officer.password_hash, password or ""):
        officer.failed_logins = 0
        officer.locked_until = None
        officer.last_login_at = now
        audit.record(officer, "login.success", "officer", officer.id, {"ip": remote_addr})
        db.session.commit()
        return LoginResult(officer)
    # Atomic increment: concurrent wrong guesses must all count (shown to administrators, never locks).
    failures = db.session.execute(
        update(Officer).where(Officer.id == officer.id)
        .values(failed_logins=Officer.failed_logins + 1).returning(Officer.failed_logins)).scalar_one()
    audit.record(officer, "login.failure", "officer", officer.id, {"ip": remote_addr, "failures": failures})
    db.session.commit()
    db.session.refresh(officer)
    return LoginResult(None)


def find_by_email(email: str) -> Officer | None:
    return db.session.scalar(select(Officer).where(func.lower(Officer.email) == normalise_email(email)))


def load_active(officer_id) -> Officer | None:
    try:
        officer = db.session.get(Officer, int(officer_id))
    except (TypeError, ValueError):
        return None
    return officer if officer is not None and officer.active else None


# Demo accounts: (e-mail, role, how to find the unit, display name).
DEMO_ACCOUNTS = (
    ("agent.paris4@demo.proxima.fr", "agent", {"code": "PN-75104"}, "Agent — Commissariat Paris 4e"),
    ("agent.lyon2@demo.proxima.fr", "agent", {"code": "PN-69382"}, "Agent — Commissariat Lyon 2e"),
    ("agent.brigade69@demo.proxima.fr", "agent", {"kind": "gendarmerie", "departement": "69"},
     "Gendarme — brigade du Rhône"),
    ("agent.pm-paris@demo.proxima.fr", "agent", {"code": "PM-75056"}, "Policier municipal — Paris"),
    ("superviseur.ddpn75@demo.proxima.fr", "superviseur", {"code": "DDPN-75"}, "Superviseur — DDPN de Paris"),
    ("admin@demo.proxima.fr", "admin", None, "Administrateur"),
)


def demo_password(email: str) -> str:
    """Deterministic per SECRET_KEY, so that seeding twice prints the same, still unguessable, credentials."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), b"demo-officer:" + email.encode(),
                      hashlib.sha256).digest()
    return "Px-" + base64.b32encode(digest).decode()[:16].lower()


def _demo_unit(spec: dict | None) -> Unit | None:
    if spec is None:
        return None
    if "code" in spec:
        return db.session.scalar(select(Unit).where(Unit.code == spec["code"]))
    return db.session.scalar(select(Unit).where(Unit.kind == spec["kind"], Unit.departement_code == spec["departement"],
                                                Unit.receives_reports.is_(True)).order_by(Unit.code).limit(1))


def seed_demo_officers() -> list[dict]:
    """Create or reset the demo accounts (idempotent); returns their credentials. Missing units are skipped."""
    rows = []
    for email, role, spec, name in DEMO_ACCOUNTS:
        unit = _demo_unit(spec)
        if spec is not None and unit is None:
            continue
        password = demo_password(email)
        officer = db.session.scalar(select(Officer).where(Officer.email == email))
        if officer is None:
            officer = Officer(email=email, role=role, display_name=name)
            db.session.add(officer)
        officer.role = role
        officer.unit_id = unit.id if unit else None
        officer.display_name = name
        officer.active = True
        officer.failed_logins = 0
        officer.locked_until = None
        officer.password_hash = generate_password_hash(password)
        db.session.flush()
        rows.append({"email": email, "password": password, "role": role,
                     "unit": f"{unit.name} ({unit.code})" if unit else "toutes les unités"})
    audit.record("cli", "officer.seed_demo", "officer", None, {"emails": [r["email"] for r in rows]})
    db.session.commit()
    return rows


def deactivate_demo_officers(actor) -> list[str]:
    """Deactivate the demo accounts still active (production refuses to serve with them). Commits."""
    emails = [email for email, *_ in DEMO_ACCOUNTS]
    demo = db.session.scalars(select(Officer).where(Officer.email.in_(emails), Officer.active.is_(True))).all()
    for officer in demo:
        officer.active = False
        audit.record(actor, "officer.deactivate", "officer", officer.id, {"email": officer.email, "demo": True})
    db.session.commit()
    return [officer.email for officer in demo]


def set_active(officer: Officer, active: bool, actor) -> Officer:
    """Deactivate (every session ends at once) or reactivate an account. Commits."""
    officer.active = active
    if not active:
        sessions.end_all(officer)
    audit.record(actor, "officer.activate" if active else "officer.deactivate", "officer", officer.id,
                 {"email": officer.email})
    db.session.commit()
    return officer


def set_password(officer: Officer, password: str, actor) -> Officer:
    """Change the password; every session of the account ends (a copied cookie stops working). Commits."""
    officer.password_hash = hash_password(password)
    sessions.end_all(officer)
    audit.record(actor, "officer.password_change", "officer", officer.id, {"email": officer.email})
    db.session.commit()
    return officer


def change_assignment(officer: Officer, role: str, unit: Unit | None, actor) -> Officer:
    """Change who the officer is (role) and which reports they see (unit); their sessions end. Commits."""
    if role not in {r.value for r in Role}:
        raise OfficerError("Rôle inconnu : agent, superviseur ou admin.")
    if role != Role.ADMIN.value and unit is None:
        raise OfficerError("Un agent ou un superviseur doit être rattaché à une unité.")
    before = {"role": officer.role, "unit_id": officer.unit_id}
    officer.role, officer.unit_id = role, unit.id if unit else None
    sessions.end_all(officer)
    audit.record(actor, "officer.assignment_change", "officer", officer.id,
                 {"email": officer.email, "before": before, "after": {"role": role, "unit_id": officer.unit_id}})
    db.session.commit()
    return officer


def unlock(officer: Officer, actor) -> Officer:
    """Lift a temporary lock after failed logins. Commits."""
    officer.locked_until = None
    officer.failed_logins = 0
    audit.record(actor, "officer.unlock", "officer", officer.id, {"email": officer.email})
    db.session.commit()
    return officer
