"""Property-based fuzzing of the citizen API from its own OpenAPI document (schemathesis).

Every operation of /api/v1/openapi.json gets a bounded number of generated requests (valid and invalid
bodies, parameters and headers, deterministic: derandomized), sent with a registered device's bearer
token. Whatever is sent: no 5xx, and the status code, content type, headers and body of every answer
conform to the document.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

MAX_EXAMPLES = 25
# Random coordinates fall outside France (a 422 before any routing): a third run puts the generated reports
# where units are, with real categories, so routing, duplicates, storms and the outbox are fuzzed too.
PLACES = [(48.8530, 2.3499), (45.7578, 4.8320), (43.2965, 5.3698), (47.2184, -1.5536), (44.8378, -0.5792),
          (49.0500, 2.1000), (45.1885, 5.7245)]
CATEGORIES = ["rodeo_motorise", "nuisance_sonore", "point_de_deal", "violence_en_cours", "degradation",
              "depot_sauvage", "stationnement_genant", "autre", "regroupement_genant", "vehicule_abandonne"]
REALISTIC = "realistic"
HOSTILE = "hostile"
# What a hostile or broken client slips into text: NUL (PostgreSQL refuses it) and control characters. (Lone
# surrogates cannot be sent by this client; tests/integration/test_hostile_input.py sends them as JSON escapes.)
POISONS = ["\x00", "\x1f", "\x7f", "\x85"]

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def bearer(client):
    """A registered device: the requests carry its token, so fuzzing reaches past authentication."""
    response = client.post("/api/v1/devices", json={"platform": "android", "fcm_token": "fuzz-token"})
    assert response.status_code == 201
    return {"Authorization": f"Bearer {response.json['token']}"}


@pytest.fixture
def wide_limits(app):
    """Limits wide enough that fuzzing explores the API rather than the 429 (tested in test_limits)."""
    keys = ("RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE", "RATELIMIT_INTAKE_PER_IP", "RATELIMIT_REGISTRATION_PER_IP",
            "RATELIMIT_PHOTOS_PER_DEVICE", "RATELIMIT_FEEDBACK_PER_DEVICE", "RATELIMIT_FEEDBACK_PER_IP",
            "REPORTS_PER_DEVICE_PER_DAY", "REPORTS_PER_DEVICE_PER_MINUTE")
    saved = {key: app.config[key] for key in keys}
    app.config.update({key: "10000 per minute" for key in keys}, REPORTS_PER_DEVICE_PER_DAY=10000,
                      REPORTS_PER_DEVICE_PER_MINUTE=10000)
    yield
    app.config.update(saved)


# schemathesis' pytest plugin (lazy fixtures) does not run on pytest 9: the operations are walked here.
def realistic(strategy):
    """Cases of `strategy` whose JSON report body (if any) is placed at a served place with a real category."""
    def place(args):
        case, (lat, lon), category = args
        if isinstance(case.body, dict) and isinstance(case.body.get("location"), dict):
            case.body["location"].update(lat=lat, lon=lon)
            case.body["category"] = category
            # Random answers and dates are refused before routing; the other runs fuzz them.
            case.body.pop("answers", None)
            case.body.pop("observed_at", None)
        return case
    return st.tuples(strategy, st.sampled_from(PLACES), st.sampled_from(CATEGORIES)).map(place)


def _strings(value, path=()):
    """Paths of the strings in a JSON-like value."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, path + (index,))


def hostile(strategy):
    """Valid cases where one string of the body or query string carries a poison character."""
    def poison(args):
        case, poison_char, pick = args
        targets = [("body", p) for p in _strings(case.body)] if isinstance(case.body, (dict, list)) else []
        targets += [("query", p) for p in _strings(case.query or {})]
        if targets:
            where, path = targets[pick % len(targets)]
            container = case.body if where == "body" else case.query
            for key in path[:-1]:
                container = container[key]
            container[path[-1]] = container[path[-1]] + poison_char
        return case
    return st.tuples(strategy, st.sampled_from(POISONS), st.integers(0, 1000)).map(poison)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE, REALISTIC, HOSTILE])
def test_citizen_api_conforms_to_its_openapi_document(app, db_session, bearer, wide_limits, mode):
    # Loaded through the app itself; the requests then run in the test's transaction (rolled back).
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        if mode == REALISTIC:
            if operation.path != "/api/v1/reports" or operation.method.upper() != "POST":
                continue
            strategy = realistic(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        elif mode == HOSTILE:
            strategy = hostile(operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        else:
            strategy = operation.as_strategy(generation_mode=mode)

        @given(case=strategy)
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def exercise(case):
            response = case.call_and_validate(headers=bearer, checks=CHECKS)
            statuses.setdefault(f"{operation.method.upper()} {operation.path}", set()).add(response.status_code)

        try:
            exercise()
        except Unsatisfiable:
            # Nothing to make invalid (no parameters and no body): the positive run covers the operation.
            assert mode is GenerationMode.NEGATIVE, f"{operation.method.upper()} {operation.path}"
            continue
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path} ({mode}): {exc}") from exc
    # The fuzzing reached the API's logic, not only its validation.
    print(sorted((k, sorted(v)) for k, v in statuses.items()))
    if mode is GenerationMode.POSITIVE:
        assert 200 in statuses["GET /api/v1/categories"] and 200 in statuses["GET /api/v1/devices/me"]
        assert 201 in statuses["POST /api/v1/devices"]
    elif mode == REALISTIC:
        assert 201 in statuses["POST /api/v1/reports"]
    elif mode == HOSTILE:
        assert 422 in statuses["POST /api/v1/reports"] and 422 in statuses["POST /api/v1/devices"]
    else:
        assert all(code < 500 for codes in statuses.values() for code in codes)
