"""CLI of the indicators: territories import, refresh, and a small demo history with its invariants."""
import json

from sqlalchemy import text

from models import db


def test_territories_import_cli(app, db_session, tmp_path):
    square = [[2.34, 48.85], [2.36, 48.85], [2.36, 48.86], [2.34, 48.86], [2.34, 48.85]]
    good = tmp_path / "qrr.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "QRR-75-01", "name": "QRR Châtelet"},
         "geometry": {"type": "Polygon", "coordinates": [square]}}]}), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["territories", "import", str(good), "--kind", "qrr"])
    assert result.exit_code == 0, result.output
    assert "1 territoires créés" in result.output
    row = db.session.execute(text("SELECT name, kind, ST_GeometryType(geom) FROM territories WHERE code = 'QRR-75-01'")
                             ).one()
    assert tuple(row) == ("QRR Châtelet", "qrr", "ST_MultiPolygon")
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Feature"}', encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["territories", "import", str(bad)])
    assert result.exit_code == 1 and "FeatureCollection" in result.output


def test_demo_history_is_plausible_and_feeds_the_indicators(app, db_session, monkeypatch):
    monkeypatch.setitem(app.config, "PROXIMA_ENV", "development")  # demo data: development only
    result = app.test_cli_runner().invoke(args=["demo", "generate", "--reports", "400", "--days", "60",
                                                "--seed", "0.3"])
    assert result.exit_code == 0, result.output
    counts = dict(db.session.execute(text(
        "SELECT 'reports', count(*) FROM reports UNION ALL SELECT 'clocks', count(*) FROM indicator_report_clocks "
        "UNION ALL SELECT 'incidents', count(*) FROM reports WHERE incident_id IS NOT NULL")).all())
    assert 380 <= counts["reports"] <= 400 and counts["clocks"] == counts["reports"]
    assert counts["incidents"] > 0
    # Every report sits inside its commune, and (unless transferred) inside the jurisdiction of its unit.
    outside = db.session.execute(text("""
        SELECT count(*) FROM reports r JOIN communes c ON c.insee_code = r.commune_insee
        WHERE r.incident_id IS NULL AND NOT ST_Contains(c.geom, r.location)""")).scalar()
    assert outside == 0
    misrouted = db.session.execute(text("""
        SELECT count(*) FROM reports r JOIN units u ON u.id = r.unit_id
        WHERE r.incident_id IS NULL AND NOT ST_Intersects(u.jurisdiction, r.location)
          AND NOT EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id AND e.type = 'transfer_accepted')
    """)).scalar()
    assert misrouted == 0
    # Timelines are ordered, clocks non-negative, and consistent with the statuses.
    bad = db.session.execute(text("""
        SELECT count(*) FROM indicator_report_clocks
        WHERE acknowledge_s < 0 OR dispatch_s < acknowledge_s OR resolve_s < acknowledge_s OR inform_s < resolve_s
           OR (NOT is_open AND resolve_s IS NULL) OR received_at > now()""")).scalar()
    assert bad == 0
    assert db.session.execute(text("SELECT count(*) FROM feedback")).scalar() > 0
    again = app.test_cli_runner().invoke(args=["demo", "generate", "--reports", "50", "--if-empty"])
    assert again.exit_code == 0 and "rien à faire" in again.output
    refreshed = app.test_cli_runner().invoke(args=["indicators", "refresh"])
    assert refreshed.exit_code == 0 and "incrémental" in refreshed.output
