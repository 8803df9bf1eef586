"""Configuration from the environment: typed parsing, module settings overridable."""
from service.platform.config import Settings, module_settings_from_env, normalise_database_url


def test_database_urls_get_the_psycopg_driver():
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_module_settings_are_read_typed_from_the_environment(monkeypatch):
    monkeypatch.setenv("PROXY_FIX_X_FOR", "1")
    monkeypatch.setenv("METRICS_ALLOWED_NETWORKS", "10.0.0.0/8, 127.0.0.1/32")
    monkeypatch.setenv("RATELIMIT_INTAKE_PER_IP", "5 per minute")
    monkeypatch.setenv("STORM_REPORTS", "")
    settings = module_settings_from_env()
    assert settings == {"PROXY_FIX_X_FOR": 1, "METRICS_ALLOWED_NETWORKS": ("10.0.0.0/8", "127.0.0.1/32"),
                        "RATELIMIT_INTAKE_PER_IP": "5 per minute"}


def test_an_environment_value_beats_the_module_default(monkeypatch):
    monkeypatch.setenv("PROXY_FIX_X_FOR", "2")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1/whatever")
    from service import create_app
    app = create_app()
    assert app.config["PROXY_FIX_X_FOR"] == 2
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://postgres@127.0.0.1/whatever"
    assert Settings.from_env().fallback_distance_m == 2000
