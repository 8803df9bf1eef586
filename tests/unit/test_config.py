"""Configuration: the settings table read with typed parsing, and its two copies for people (.env.example,
docs/configuration.md) held to it: same names, same order, same defaults."""
import re
from pathlib import Path

import pytest

from service.platform.config import SETTINGS, normalise_database_url, read_environment

ROOT = Path(__file__).resolve().parents[2]
TABLE = [setting.name for setting in SETTINGS]


def as_environment_text(value) -> str:
    """A default as the environment would hold it: the form .env.example and the docs show."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def env_example_entries() -> list[tuple[str, str]]:
    """(name, default) of every `# NAME=value` line of .env.example, in order."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    return [(m[1], m[2]) for m in (re.fullmatch(r"#? ?([A-Z][A-Z0-9_]*)=(.*)", line) for line in lines) if m]


def documented_entries() -> list[tuple[str, str]]:
    """(name, default) of every row of the tables under "## Settings" in docs/configuration.md, in order."""
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = text.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    entries = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")] if line.startswith("|") else []
        if not cells or cells[0] in ("variable", "---|---|---"):
            continue
        name = re.fullmatch(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        assert name, f"docs/configuration.md: one variable per row, in backquotes: {line!r}"
        default = "" if cells[1] in ("*(unset)*", "*(empty)*") else cells[1].removeprefix("`").removesuffix("`")
        entries.append((name[1], default))
    return entries


# --- reading the environment --------------------------------------------------------------------------------

def test_database_urls_get_the_psycopg_driver():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_settings_are_read_typed_and_empty_means_unset():
    settings = read_environment({
        "PROXY_FIX_X_FOR": "1", "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8, 127.0.0.1/32",
        "RATELIMIT_INTAKE_PER_IP": "5 per minute", "STORM_REPORTS": "", "ROUTING_INDEX_TTL_S": "0.5",
        "SESSION_COOKIE_SECURE": "Yes", "RATELIMIT_ENABLED": "0", "DATABASE_URL": "postgres://u@h/db",
        "TEST_CLOCK_OFFSET_S": "-3600.5"})
    assert settings["PROXY_FIX_X_FOR"] == 1
    assert settings["METRICS_ALLOWED_NETWORKS"] == ("10.0.0.0/8", "127.0.0.1/32")
    assert settings["RATELIMIT_INTAKE_PER_IP"] == "5 per minute"
    assert settings["STORM_REPORTS"] == 4
    assert settings["ROUTING_INDEX_TTL_S"] == 0.5
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["RATELIMIT_ENABLED"] is False
    assert settings["DATABASE_URL"] == "postgresql+psycopg://u@h/db"
    assert settings["TEST_CLOCK_OFFSET_S"] == -3600.5
    assert settings["PUSH_SEND_THREADS"] == 16 and settings["FCM_CREDENTIALS_FILE"] is None
    assert list(settings) == TABLE


def test_every_documented_default_reads_back_as_the_default():
    for setting in SETTINGS:
        text = as_environment_text(setting.default)
        assert read_environment({setting.name: text})[setting.name] == setting.default, setting.name


def test_the_environment_beats_the_default_and_create_app_config_beats_the_environment(monkeypatch):
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("PROXY_FIX_X_FOR", "2")
    monkeypatch.setenv("PHOTO_MAX_COUNT", "2")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/whatever")
    from service import create_app
    app = create_app()
    assert app.config["PROXY_FIX_X_FOR"] == 2
    assert app.config["ROUTING_FALLBACK_DISTANCE_M"] == 2000
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://postgres@127.0.0.1/whatever"
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 8 * 1024 * 1024 + 256 * 1024
    assert app.config["REMEMBER_COOKIE_SECURE"] is False

    # Derived keys follow the overrides; an override of a derived key itself wins.
    app = create_app({"PROXY_FIX_X_FOR": 0, "SESSION_COOKIE_SECURE": True, "PHOTO_MAX_BYTES": 1000,
                      "RATELIMIT_STORAGE_URI": "memory://"})
    assert app.config["PROXY_FIX_X_FOR"] == 0
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1000 + 256 * 1024
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_every_key_the_code_reads_is_in_the_application_config(monkeypatch):
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    from service import create_app
    from service.platform.limits import POLICY
    config = create_app().config
    read = set()
    for folder in ("service", "workers"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".html"):
                read.update(re.findall(r"config(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]+)[\"']", path.read_text("utf-8")))
    read.update(rule.setting for rules in POLICY.values() for rule in rules)
    read -= {"CLOCK"}  # a clock object that tests pass to create_app, never a setting
    assert read - set(config) == set()


# --- the copies for people ----------------------------------------------------------------------------------

@pytest.mark.parametrize("source, entries", [(".env.example", env_example_entries),
                                             ("docs/configuration.md", documented_entries)])
def test_the_copies_list_every_setting_with_its_default_in_the_table_order(source, entries):
    listed = entries()
    names = [name for name, _ in listed]
    assert sorted(set(TABLE) - set(names)) == [], f"{source} misses these settings"
    assert sorted(set(names) - set(TABLE)) == [], f"{source} lists variables that are not settings"
    assert names == TABLE, f"{source} lists the settings in another order (or twice)"
    expected = {setting.name: as_environment_text(setting.default) for setting in SETTINGS}
    wrong = {name: (default, expected[name]) for name, default in listed if default != expected[name]}
    assert wrong == {}, f"{source}: (written default, the table's default)"
