"""`flask officer create|seed-demo`: accounts from the command line."""
from sqlalchemy import func, select

from models import Officer, db
from service.accounts import officers


def test_officer_create_with_password(app, db_session):
    result = app.test_cli_runner().invoke(args=[
        "officer", "create", "--email", "Chef@Test.fr", "--unit", "PN-75104", "--role", "superviseur",
        "--password", "un mot de passe solide"])
    assert result.exit_code == 0, result.output
    assert "Compte créé : chef@test.fr" in result.output
    officer = db.session.scalar(select(Officer).where(Officer.email == "chef@test.fr"))
    assert officer.role == "superviseur" and officer.unit.code == "PN-75104"
    assert officer.password_hash != "un mot de passe solide"
    assert officers.authenticate("chef@test.fr", "un mot de passe solide").officer.id == officer.id


def test_officer_create_prompts_for_password(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["officer", "create", "--email", "a@test.fr", "--unit", "PN-75104", "--role", "agent"],
        input="un mot de passe solide\nun mot de passe solide\n")
    assert result.exit_code == 0, result.output


def test_officer_create_refuses_bad_input(app, db_session):
    runner = app.test_cli_runner()
    assert "Unité inconnue" in runner.invoke(args=["officer", "create", "--email", "a@test.fr", "--unit", "NOPE",
                                                   "--role", "agent", "--password", "x" * 12]).output
    short = runner.invoke(args=["officer", "create", "--email", "a@test.fr", "--unit", "PN-75104", "--role", "agent",
                                "--password", "court"])
    assert short.exit_code != 0 and "12 caractères" in short.output
    no_unit = runner.invoke(args=["officer", "create", "--email", "a@test.fr", "--role", "agent",
                                  "--password", "x" * 12])
    assert no_unit.exit_code != 0 and "rattaché à une unité" in no_unit.output


def test_seed_demo_is_idempotent_and_prints_working_credentials(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "PROXIMA_ENV", "development")  # demo data: development only
    runner = app.test_cli_runner()
    first = runner.invoke(args=["officer", "seed-demo"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["officer", "seed-demo"])
    assert second.output == first.output
    count = db.session.scalar(select(func.count()).select_from(Officer).where(Officer.email.like("%@demo.proxima.fr")))
    assert count == 6
    for line in first.output.splitlines()[1:]:
        role, email, password = line.split()[:3]
        result = officers.authenticate(email, password)
        assert result.officer is not None and result.officer.role == role
    assert "Paris 4e" in first.output and "Lyon 2e" in first.output and "gendarmerie" in first.output
