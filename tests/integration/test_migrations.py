"""Migrations: one head, reversible, and in step with the models."""
import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from models import db
from service.platform import partitions
from tests.conftest import TEST_ADMIN_URL, _ensure_database

# A scratch database migrated by the administrator: the roles are not what this file tests.
SCRATCH_URL = TEST_ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_ADMIN_URL.rsplit("/", 1)[1] + "_migrations"


def _script(app):
    return ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())


def test_there_is_exactly_one_head(app):
    with app.app_context():
        assert len(_script(app).get_heads()) == 1, _script(app).get_heads()


def test_migrations_upgrade_downgrade_and_upgrade_again_on_an_empty_database():
    _ensure_database(SCRATCH_URL)
    from service import create_app
    from tests.conftest import _test_config
    scratch = create_app({**_test_config(), "SQLALCHEMY_DATABASE_URI": SCRATCH_URL,
                          "DATABASE_OWNER_URL": None})
    with scratch.app_context():
        downgrade(revision="base")
        upgrade(revision="heads")
        assert db.session.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar() == 1
        downgrade(revision="base")
        tables = db.session.execute(text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' AND table_name NOT IN ('spatial_ref_sys', 'alembic_version')")).scalar()
        assert tables == 0
        upgrade(revision="heads")
        db.session.remove()


def test_the_models_match_the_migrated_schema(app):
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "include_object": partitions.include_object, "compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
