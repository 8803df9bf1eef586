"""Alembic environment: Flask-Migrate + GeoAlchemy2 helpers (keeps spatial_ref_sys, no duplicate spatial indexes)."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from service.platform.database_roles import grant_application_role

from service.platform import partitions

config = context.config
# Keep the application's loggers alive when migrations run inside it (tests, bootstrap).
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def get_engine():
    """The owner's connection when DATABASE_OWNER_URL is set (the application role may not alter the schema)."""
    owner_url = current_app.config.get("DATABASE_OWNER_URL")
    if owner_url:
        return create_engine(owner_url, poolclass=NullPool)
    return current_app.extensions["migrate"].db.engine


def application_role() -> str | None:
    """The role of DATABASE_URL when migrations run as another one: it gets its grants after every upgrade."""
    if not current_app.config.get("DATABASE_OWNER_URL"):
        return None
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).username


def get_metadata():
    return current_app.extensions["migrate"].db.metadata


config.set_main_option("sqlalchemy.url", get_engine().url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=get_metadata(), literal_binds=True,
        include_object=partitions.include_object, process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    def process_revision_directives(context_, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")
                return
        alembic_helpers.writer(context_, revision, directives)

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    conf_args["compare_type"] = True
    connectable = get_engine()
    with connectable.connect() as connection:
        context.configure(
            connection=connection, target_metadata=get_metadata(),
            include_object=partitions.include_object, render_item=alembic_helpers.render_item,
            **conf_args)
        with context.begin_transaction():
            context.run_migrations()
            app_role = application_role()
            if app_role and app_role != connection.engine.url.username:
                grant_application_role(connection, app_role)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
