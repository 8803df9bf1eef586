"""Request ids in and out (and into RQ jobs), JSON logs with personal data masked, Prometheus metrics."""
import io
import json
import logging

import pytest
from rq import Queue, SimpleWorker

from service.platform import observability

NOTRE_DAME = {"lat": 48.8530, "lon": 2.3499}


@pytest.fixture
def log_lines(app):
    """What the application's log handler writes, as parsed JSON objects."""
    # The app fixture runs the migrations in this process: Alembic's fileConfig replaced the root handlers and
    # disabled the loggers that existed then. A real process runs `flask db upgrade` on its own.
    observability.configure_logging(app)
    logging.getLogger("proxima.access").disabled = False
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "proxima", False))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    finally:
        handler.setStream(previous)


def test_request_id_is_echoed_or_made_up(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123-def-456"})
    assert given.headers["X-Request-ID"] == "abc-123-def-456"
    made_up = client.get("/healthz")
    assert len(made_up.headers["X-Request-ID"]) == 32
    # A header that could forge log lines is replaced, not echoed.
    hostile = client.get("/healthz", headers={"X-Request-ID": "x" * 300})
    assert hostile.headers["X-Request-ID"] != "x" * 300 and len(hostile.headers["X-Request-ID"]) == 32


def test_access_log_is_json_with_request_id_and_without_query_string(client, log_lines):
    client.get("/api/v1/coverage?lat=48.853&lon=2.3499", headers={"X-Request-ID": "req-coverage-1"})
    lines = [line for line in log_lines() if line["logger"] == "proxima.access"]
    assert lines, "no access log line"
    line = lines[-1]
    assert line["request_id"] == "req-coverage-1" and line["status"] == 200 and line["method"] == "GET"
    assert line["path"] == "/api/v1/coverage" and "48.853" not in json.dumps(line)
    assert isinstance(line["duration_ms"], float) and line["level"] == "info"


@pytest.mark.parametrize("raw, leaked", [
    ("contact jean.dupont@example.fr", "jean.dupont@example.fr"),
    ("rappeler au 06 12 34 56 78", "06 12 34 56 78"),
    ("rappeler au +33 6 12 34 56 78", "6 12 34 56 78"),
    ("Authorization: Bearer s3cr3t-device-token", "s3cr3t-device-token"),
    ("GET /open311/v2/requests.json?api_key=pxk_abcDEF123&page=2", "pxk_abcDEF123"),
    ("token fcm=" + "d" * 20 + ":APA91b" + "x" * 140, "APA91b" + "x" * 140),
    ('{"email": "a@b.fr", "phone": "0612345678"}', "0612345678"),
    ("password=hunter2", "hunter2"),
])
def test_personal_data_and_secrets_are_masked(raw, leaked):
    masked = observability.mask(raw)
    assert leaked not in masked and "masqu" in masked
    assert observability.mask(masked) == masked


def test_log_records_are_masked_before_any_handler(app, log_lines):
    with app.test_request_context("/", headers={"X-Request-ID": "req-mask-0001"}):
        observability._start_request()
        logging.getLogger("proxima.test").warning("contact %s, tel %s", "marie@example.fr", "07 00 11 22 33")
    line = log_lines()[-1]
    assert "marie@example.fr" not in line["message"] and "07 00 11 22 33" not in line["message"]
    assert line["request_id"] == "req-mask-0001"


def log_from_job(text: str) -> str:
    logging.getLogger("proxima.test.job").warning("job says %s", text)
    return text


def test_request_id_travels_into_rq_jobs_and_their_log_lines(app, redis_conn, log_lines):
    queue = Queue("observability-test", connection=redis_conn)
    with app.test_request_context("/", headers={"X-Request-ID": "req-job-00042"}):
        observability._start_request()
        meta = observability.job_meta()
        job = queue.enqueue(log_from_job, "bonjour", meta=meta)
    assert meta == {"request_id": "req-job-00042"}
    with app.app_context():
        SimpleWorker([queue], connection=redis_conn).work(burst=True)
    assert job.get_status(refresh=True) == "finished"
    lines = [line for line in log_lines() if line["logger"] == "proxima.test.job"]
    assert lines and lines[-1]["request_id"] == "req-job-00042" and lines[-1]["job_id"] == job.id


def test_metrics_expose_latency_intake_outcomes_queue_depth_and_push_states(client):
    registered = client.post("/api/v1/devices", json={"platform": "android", "fcm_token": "fcm-metrics"})
    headers = {"Authorization": f"Bearer {registered.json['token']}"}
    body = {"category": "degradation", "description": "Tags", "location": NOTRE_DAME}
    assert client.post("/api/v1/reports", json=body, headers=headers).status_code == 201
    assert client.post("/api/v1/reports", json={"category": "?"}, headers=headers).status_code == 422
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'proxima_http_request_duration_seconds_bucket{endpoint="reports.create_report"' in text
    assert 'proxima_intake_total{channel="app",outcome="created"}' in text
    assert 'proxima_intake_total{channel="app",outcome="rejected"}' in text
    assert 'proxima_queue_depth{queue="push"}' in text
    assert 'proxima_push_notifications{state=' in text
    assert 'proxima_backend_up{backend="postgresql"} 1.0' in text
    assert 'proxima_backend_up{backend="redis"} 1.0' in text


def test_metrics_are_not_served_to_the_public(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 404
