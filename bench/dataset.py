"""The benchmark's data set: real communes and units, points drawn from commune populations, a demo history.

* `bench_points` (a table of the benchmark database only, not of Proxima's schema): realistic report
  locations, each commune receiving points in proportion to its population (PostGIS `ST_GeneratePoints`,
  seeded), then moved by up to ~30 m of GPS error, so a few fall in gaps between the simplified polygons
  or just off the coast, as real phone fixes do;
* the demo history (`flask demo generate`, service/devtools/demo_data.py) for the dashboard, export and Open311
  benchmarks; it is reused when the database already holds about the wanted number of demo reports;
* 60 synthetic overlay territories (discs around the largest communes' town halls), so that every dashboard view
  computes its territory table as a deployment with its quartiers de reconquête républicaine would;
* VACUUM (ANALYZE) afterwards, before any application process starts (plans cached by pooled connections on
  empty tables would scan whole tables on every foreign-key check; without a visibility map, which autovacuum
  would keep on a live database but is off here, index-only scans read the heap).
"""
import subprocess

from bench.common import ROOT, VENV_BIN, app_env, psql, say, step

POINT_SEED = 0.4242
GPS_ERROR_DEG = 0.0003  # about ±30 m (a phone's fix in town)


def ensure_schema() -> None:
    """Migrate (a no-op when `make bench` just did it) and load the reference data if it is missing."""
    with step("Schema (flask db upgrade heads)"):
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "db", "upgrade", "heads"], cwd=ROOT,
                       env=app_env(), check=True, stdout=subprocess.DEVNULL)
    try:
        communes = int(psql("SELECT count(*) FROM communes"))
    except RuntimeError:
        communes = 0
    if communes:
        return
    with step("Reference data (flask data load)"):
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "data", "load"], cwd=ROOT, env=app_env(), check=True)


def ensure_points(n: int) -> int:
    psql("""CREATE TABLE IF NOT EXISTS bench_points (
                id int PRIMARY KEY, insee_code text NOT NULL, lon float8 NOT NULL, lat float8 NOT NULL,
                geom geometry(Point, 4326) NOT NULL)""")
    have = int(psql("SELECT count(*) FROM bench_points"))
    if have == n:
        say(f"bench_points: {n} points already there (seeded, reused)")
        return n
    with step(f"Drawing {n} report locations from commune populations"):
        psql(f"""
            BEGIN;
            SELECT setseed({POINT_SEED});
            TRUNCATE bench_points;
            INSERT INTO bench_points (id, insee_code, lon, lat, geom)
            SELECT row_number() OVER (ORDER BY random()), insee_code, ST_X(g), ST_Y(g), g FROM (
                SELECT insee_code, ST_Translate(p.geom, (random() - 0.5) * {2 * GPS_ERROR_DEG},
                                                (random() - 0.5) * {2 * GPS_ERROR_DEG}) AS g
                FROM (SELECT insee_code, geom,
                             floor({n} * 1.02 * population::float8 / sum(population) OVER () + random())::int AS k
                      FROM communes WHERE population > 0) w,
                     LATERAL ST_Dump(ST_GeneratePoints(w.geom, w.k, 42)) p
                WHERE w.k > 0
            ) drawn ORDER BY random() LIMIT {n};
            COMMIT;""")
        psql("ANALYZE bench_points")
    return int(psql("SELECT count(*) FROM bench_points"))


# Overlay territories like the quartiers de reconquête républicaine: discs of 1.2 km around the town halls of the
# largest communes (synthetic: no such file ships), imported through `flask territories import`.
BENCH_TERRITORIES = 60


def ensure_territories() -> int:
    have = int(psql("SELECT count(*) FROM territories WHERE code LIKE 'BENCH-QRR-%'"))
    if have == BENCH_TERRITORIES:
        say(f"territories: {have} synthetic overlays already there (reused)")
        return have
    with step(f"Importing {BENCH_TERRITORIES} synthetic overlay territories (flask territories import)"):
        collection = psql(f"""
            SELECT json_build_object('type', 'FeatureCollection', 'features', json_agg(json_build_object(
                'type', 'Feature',
                'properties', json_build_object('code', 'BENCH-QRR-' || insee_code,
                                                'name', 'Quartier de banc d''essai, ' || name),
                'geometry', ST_AsGeoJSON(ST_Buffer(coalesce(town_hall, ST_PointOnSurface(geom))::geography,
                                                   1200)::geometry, 6)::json)))
            FROM (SELECT * FROM communes ORDER BY population DESC NULLS LAST LIMIT {BENCH_TERRITORIES}) c""")
        path = ROOT / "var" / "bench_territories.geojson"
        path.parent.mkdir(exist_ok=True)
        path.write_text(collection)
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "territories", "import", str(path), "--kind", "qrr"],
                       cwd=ROOT, env=app_env(), check=True, stdout=subprocess.DEVNULL)
    return int(psql("SELECT count(*) FROM territories WHERE code LIKE 'BENCH-QRR-%'"))


def demo_report_count() -> int:
    from service.devtools.demo_data import DEMO_MARK
    return int(psql(f"SELECT count(*) FROM reports WHERE routing_reason LIKE '%{DEMO_MARK}'"))


def ensure_demo_history(wanted: int, tolerance: float = 0.1) -> int:
    have = demo_report_count()
    if abs(have - wanted) <= wanted * tolerance:
        say(f"demo history: {have} reports already there (reused)")
        return have
    with step(f"Generating the demo history: {wanted} reports with their events (flask demo generate)"):
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", "demo", "generate", "--reports", str(wanted),
                        "--seed", "0.42", "--replace"], cwd=ROOT, env=app_env(), check=True)
    return demo_report_count()


def analyze() -> None:
    """The state a live database keeps its tables in, before any application process starts: fresh statistics,
    and a visibility map. This machine's PostgreSQL runs with autovacuum off (its CI configuration), so without an
    explicit VACUUM a freshly loaded history is never vacuumed: index-only scans then read the heap, and the first
    readers of each page write its hint bits."""
    with step("VACUUM (ANALYZE): visibility map and fresh statistics"):
        psql("VACUUM (ANALYZE)")


def table_counts() -> dict:
    names = ("reports", "report_events", "notifications", "devices", "incidents", "units", "communes",
             "indicator_report_clocks", "bench_points")
    out = {}
    for name in names:
        try:
            out[name] = int(psql(f"SELECT count(*) FROM {name}"))
        except RuntimeError:
            out[name] = None
    return out


def remove_previous_runs() -> int:
    """Reports written by earlier benchmark runs (B1's intake and pgbench): each run starts from the same data."""
    from service.devtools.demo_data import DEMO_MARK
    with step("Removing reports written by earlier benchmark runs"):
        removed = int(psql(f"""WITH d AS (DELETE FROM reports WHERE routing_reason NOT LIKE '%{DEMO_MARK}'
                                         RETURNING incident_id)
                               SELECT count(*) FROM d"""))
        psql("DELETE FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id)")
        psql("DELETE FROM devices d WHERE NOT EXISTS (SELECT 1 FROM reports r WHERE r.device_id = d.id) "
             "AND EXISTS (SELECT 1 FROM push_tokens t WHERE t.device_id = d.id AND t.token LIKE 'bench-fcm-%')")
    say(f"  {removed} reports of earlier runs removed")
    return removed
