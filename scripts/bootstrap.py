"""Provisioning steps that need the app, in one process (loading the app costs seconds): the same CLI commands a
user would type, `flask db upgrade heads`, `flask data load` and, for `make run`, `flask officer seed-demo`,
`flask demo generate --if-empty` (a modest history so the dashboard is alive), `flask indicators refresh` and
`flask indicators snapshots`.

    bootstrap.py [--seed-demo] [--report FILE]

--report FILE receives the demo credentials printed by `flask officer seed-demo`, for scripts/run.sh to show
again once the server is up.
"""
import argparse
import contextlib
import io
import sys
import time
from pathlib import Path

import click
from flask.cli import ScriptInfo


def step(message: str) -> None:
    print(f"\n==> {message}", file=sys.stderr, flush=True)


def invoke(app, command: click.Command, args: list[str]) -> None:
    """Run a click command of the app's CLI in this process, as `flask --app wsgi …` would."""
    command.main(args=args, prog_name="flask", standalone_mode=False, obj=ScriptInfo(create_app=lambda: app))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed-demo", action="store_true", help="create the demo officer accounts")
    parser.add_argument("--report", help="file receiving the demo credentials")
    options = parser.parse_args()

    started = time.monotonic()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # wsgi.py lives at the root
    from flask_migrate.cli import db as db_group
    from wsgi import app
    print(f"    application loaded in {time.monotonic() - started:.1f} s", file=sys.stderr)
    commands = app.cli.commands

    step("Database schema (flask db upgrade heads)")
    invoke(app, db_group, ["upgrade", "heads"])

    step("Reference data (flask data load): categories, communes, demo units")
    invoke(app, commands["data"], ["load"])

    credentials = ""
    if options.seed_demo:
        step("Demo officer accounts (flask officer seed-demo)")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            invoke(app, commands["officer"], ["seed-demo"])
        credentials = buffer.getvalue()
        print(credentials, end="", flush=True)

        step("Demo history for the dashboard (flask demo generate --reports 5000 --if-empty)")
        invoke(app, commands["demo"], ["generate", "--reports", "5000", "--if-empty"])
        step("Indicators (flask indicators refresh)")
        invoke(app, commands["indicators"], ["refresh"])
        step("Long national dashboard views (flask indicators snapshots)")
        invoke(app, commands["indicators"], ["snapshots"])

    if options.report:
        with open(options.report, "w", encoding="utf-8") as report:
            report.write(credentials)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
