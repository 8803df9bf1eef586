"""PostgreSQL roles: an owner that runs the migrations, an application role for the web and worker processes.

The owner owns every table (it alone may alter, truncate or drop them); the application role reads and writes
rows, and on the audit tables may only add and read them (INSERT and SELECT: no UPDATE, DELETE, TRUNCATE, no
DDL). `ensure_roles` is what an administrator does once per database (`make run` / `make test` do it through
scripts/dbtool.py, production follows docs/deploy.md); `grant_application_role` runs after every migration so
that new tables get their grants (migrations/env.py).
"""
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url

# Tables the application may only append to and read.
APPEND_ONLY_TABLES = ("audit_log", "audit_checkpoints")
# Tables the application only reads (report_id_blocks: written by create_report_partitions, as the owner).
READ_ONLY_TABLES = ("alembic_version", "report_id_blocks")
# Tables the application empties as a whole (a full rebuild of the dashboard's clocks, service.statistics).
TRUNCATED_TABLES = ("indicator_report_clocks",)


def role_names(database: str) -> tuple[str, str]:
    """The owner and application roles of a database, named after it: `proxima_owner`, `proxima_app`."""
    return f"{database}_owner", f"{database}_app"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def ensure_roles(admin_url: str) -> tuple[str, str]:
    """As an administrator (superuser): create the two roles of the database of `admin_url` if missing, give the
    owner the schema and every object in it, install PostGIS (an untrusted extension). Idempotent.

    Returns the owner's and the application's URLs (same host, no password: local trust or a .pgpass).
    """
    url = make_url(admin_url)
    owner, app = role_names(url.database)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for role in (owner, app):
                if not conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                    conn.execute(text(f"CREATE ROLE {_quote(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"))
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
            conn.execute(text(f"ALTER DATABASE {_quote(url.database)} OWNER TO {_quote(owner)}"))
            conn.execute(text(f"ALTER SCHEMA public OWNER TO {_quote(owner)}"))
            conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM PUBLIC, {_quote(app)}"))
            # Objects made by an earlier superuser-run migration change hands; the extension's stay its own.
            for kind, name in conn.execute(text(_FOREIGN_OBJECTS), {"owner": owner}).all():
                conn.execute(text(f"ALTER {kind} {name} OWNER TO {_quote(owner)}"))
    finally:
        engine.dispose()
    return (url.set(username=owner, password=None).render_as_string(hide_password=False),
            url.set(username=app, password=None).render_as_string(hide_password=False))


_FOREIGN_OBJECTS = """
    SELECT CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'S' THEN 'SEQUENCE'
                          WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' END,
           format('%I.%I', n.nspname, c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
      AND pg_get_userbyid(c.relowner) <> :owner
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
    UNION ALL
    SELECT 'FUNCTION', p.oid::regprocedure::text
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :owner
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
"""


def grant_application_role(connection: Connection, app_role: str) -> None:
    """Grants of the application role on the current schema (run by the owner after the migrations)."""
    role = _quote(app_role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
    ]
    existing = set(connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
    for table in APPEND_ONLY_TABLES + READ_ONLY_TABLES:
        if table not in existing:
            continue
        statements.append(f"REVOKE ALL ON {_quote(table)} FROM {role}")
        statements.append(f"GRANT {'SELECT, INSERT' if table in APPEND_ONLY_TABLES else 'SELECT'} "
                          f"ON {_quote(table)} TO {role}")
    statements += [f"GRANT TRUNCATE ON {_quote(table)} TO {role}" for table in TRUNCATED_TABLES if table in existing]
    for statement in statements:
        connection.execute(text(statement))
