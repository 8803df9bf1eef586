"""Realistic demo history (`flask demo generate --reports N`), written set-based in SQL so that large histories stay
practical (temporary tables, one statement per step, nothing row by row in Python).

The model, tunable through `DemoProfile`:

* places: each commune gets reports in proportion to its population, at random points inside its polygon
  (PostGIS `ST_GeneratePoints`);
* categories follow a plausible mix, and each has its own hour-of-day profile (rodéos in the evening,
  noise at night, dumping in the daytime…); days are uniform over the period;
* routing follows the demo units' rule: the first competent force in the category's precedence, the police
  municipale only in its daytime hours; the unit is the one whose jurisdiction contains the commune;
* delays are log-normal around a fraction of the category's SLA, slower for brigades (distances) than for
  commissariats; a share of reports is never dispatched; steps not yet due are left open;
* some transfers (between the police municipale and the State force of the commune), duplicates merged into
  incidents, reopenings, push deliveries ("citizen_notified"), and feedback correlated with reactivity.

Demo reports say so in their routing reason (DEMO_MARK) and can be removed with `--replace`. Their ids come from
the reports' sequence, so a history spanning past months lands in the partition of the current month's block of
ids (reports is partitioned by id, migration 0014): the partitions then say when ids were handed out, not when
the demo reports were received, which nothing reads.

A seed fixes PostgreSQL's `random()`, which draws every choice except the points' coordinates (`ST_GeneratePoints`)
and the device ids (`gen_random_uuid`). The steps keep their statements, and the statistics they gather, in the same
order: a plan that reads rows in another order hands them other draws.
"""
import time
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import text

from models import db
from service.platform import clock

DEMO_MARK = "[données de démonstration]"


@dataclass(frozen=True)
class DemoProfile:
    days: int = 365
    # category: (share of reports, peak hour, spread in hours, probability that a patrol is sent)
    categories: dict = field(default_factory=lambda: {
        "nuisance_sonore": (0.22, 23, 2.5, 0.55),
        "stationnement_genant": (0.14, 10, 3.0, 0.6),
        "rodeo_motorise": (0.12, 19, 2.5, 0.8),
        "depot_sauvage": (0.12, 11, 3.0, 0.3),
        "regroupement_genant": (0.10, 21, 2.5, 0.7),
        "degradation": (0.09, 9, 3.0, 0.4),
        "point_de_deal": (0.08, 18, 3.5, 0.35),
        "vehicule_abandonne": (0.05, 11, 3.0, 0.5),
        "violence_en_cours": (0.02, 22, 3.0, 0.95),
        "autre": (0.06, 14, 4.0, 0.4),
    })
    # Median delay as a fraction of the SLA target, per force (brigades cover larger areas).
    force_speed: dict = field(default_factory=lambda: {
        "police_nationale": 0.45, "gendarmerie": 0.6, "police_municipale": 0.5})
    delay_sigma: float = 0.9
    app_share: float = 0.92           # the rest comes from partners through Open311 (no device to notify)
    notified_share: float = 0.88      # app reports whose device receives pushes
    transfer_share: float = 0.04
    duplicate_share: float = 0.06
    reopen_share: float = 0.015
    feedback_share: float = 0.3       # of informed, closed reports
    stuck_share: float = 0.01         # never answered: the open backlog
    outcomes: dict = field(default_factory=lambda: {
        "default": {"patrouille_engagee_rien_constate": 0.45, "mediation": 0.2, "verbalisation": 0.12,
                    "transmis_enquete": 0.08, "hors_competence": 0.08, "oriente_plainte": 0.07},
        "rodeo_motorise": {"patrouille_engagee_rien_constate": 0.5, "saisie_engin": 0.15, "interpellation": 0.1,
                           "verbalisation": 0.15, "transmis_enquete": 0.1},
        "point_de_deal": {"transmis_enquete": 0.55, "patrouille_engagee_rien_constate": 0.3,
                          "interpellation": 0.15},
        "stationnement_genant": {"verbalisation": 0.5, "patrouille_engagee_rien_constate": 0.35,
                                 "enlevement_demande": 0.15},
        "vehicule_abandonne": {"enlevement_demande": 0.6, "patrouille_engagee_rien_constate": 0.25,
                               "hors_competence": 0.15},
        "depot_sauvage": {"hors_competence": 0.4, "verbalisation": 0.2, "patrouille_engagee_rien_constate": 0.4},
        "violence_en_cours": {"interpellation": 0.35, "patrouille_engagee_rien_constate": 0.35,
                              "oriente_plainte": 0.3},
    })
    descriptions: dict = field(default_factory=lambda: {
        "nuisance_sonore": ["Musique très forte depuis un appartement.", "Tapage nocturne dans la rue."],
        "stationnement_genant": ["Voiture garée sur le passage piéton.", "Camion sur le trottoir devant l'école."],
        "rodeo_motorise": ["Plusieurs motos cross font des rodéos sur le parking.", "Quads sur le terrain de sport."],
        "depot_sauvage": ["Encombrants déposés au pied de l'immeuble.", "Gravats abandonnés au bord du chemin."],
        "regroupement_genant": ["Groupe bruyant dans le hall d'immeuble.", "Attroupement devant l'entrée."],
        "degradation": ["Tags sur la façade de l'école.", "Abribus vandalisé."],
        "point_de_deal": ["Va-et-vient et guetteurs en bas de la tour.", "Trafic visible près du square."],
        "vehicule_abandonne": ["Voiture ventouse depuis des semaines.", "Épave brûlée sur le parking."],
        "violence_en_cours": ["Bagarre devant le bar.", "Altercation violente dans la rue."],
        "autre": ["Situation inquiétante signalée par un habitant.", "Éclairage public cassé, sentiment d'insécurité."],
    })


def _values(rows: list[tuple]) -> str:
    """A literal VALUES list (only our own constants go through here, never user input)."""
    def lit(v):
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(float(v)) if isinstance(v, float) else str(v)
    return ", ".join("(" + ", ".join(lit(v) for v in row) + ")" for row in rows)


def _cumulative(weights: dict) -> list[tuple[str, float, float]]:
    """Each key's range [low, high) of a uniform draw, in proportion to its weight; the last range ends past 1."""
    total = sum(weights.values())
    out, low = [], 0.0
    for key, weight in weights.items():
        high = low + weight / total
        out.append((key, low, high))
        low = high
    out[-1] = (out[-1][0], out[-1][1], 1.0000001)
    return out


def _analyze(*tables: str) -> None:
    # Temporary tables are never auto-analysed: without statistics the planner picks nested loops over millions.
    for table in tables:
        db.session.execute(text(f"ANALYZE {table}"))


def demo_report_count() -> int:
    """How many demo reports the database holds (`--if-empty` generates none when there are some)."""
    return db.session.execute(text("SELECT count(*) FROM reports WHERE routing_reason LIKE '%' || :mark"),
                              {"mark": DEMO_MARK}).scalar_one()


def remove_demo_reports() -> int:
    """Delete the demo reports with the incidents and devices only they used (`--replace`); commits."""
    s = db.session
    s.execute(text("CREATE TEMP TABLE demo_old ON COMMIT DROP AS SELECT id, incident_id FROM reports "
                   "WHERE routing_reason LIKE '%' || :mark"), {"mark": DEMO_MARK})
    n = s.execute(text("DELETE FROM reports WHERE id IN (SELECT id FROM demo_old)")).rowcount
    s.execute(text("DELETE FROM incidents i WHERE id IN (SELECT incident_id FROM demo_old) "
                   "AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.incident_id = i.id)"))
    s.execute(text("DELETE FROM devices d WHERE platform = 'android' AND token_hash LIKE 'demo-%' "
                   "AND NOT EXISTS (SELECT 1 FROM reports r WHERE r.device_id = d.id)"))
    s.commit()
    return n


def generate_demo_history(reports: int, profile: DemoProfile = DemoProfile(), seed: float | None = None,
                          progress: Callable[[str], None] = lambda _: None) -> dict:
    """Insert about `reports` reports with their events, incidents, devices and feedback; commits."""
    started = time.monotonic()
    _seed_session(seed)
    params = _parameters(reports, profile)
    step = _timed(progress)

    step("points dans les communes, au prorata de la population")
    _scatter_points(params)
    step("unités compétentes par commune")
    _find_competent_units()
    step("signalements : catégorie, heure, unité, délais")
    _draw_reports(profile, params)
    step("chronologies")
    _draw_timelines(profile, params)
    step("états, issues, notifications, avis")
    _draw_outcomes(profile, params)
    step("appareils de démonstration")
    devices = _write_devices(reports, profile, params)
    step("incidents (doublons)")
    _write_duplicates(params)
    step("écriture des signalements")
    _gather_reports(params)
    _leave_future_steps_undone(params)
    _write_reports(params, devices)
    step("événements")
    _write_workflow_events()
    step("avis des habitants")
    _write_feedback(params)

    created = _count_written_reports()
    _commit_and_analyse()
    return {"reports": created, "devices": devices, "seconds": round(time.monotonic() - started, 1)}


def _timed(progress: Callable[[str], None]) -> Callable[[str], None]:
    """`progress` for each step's label, which also says how long the previous step took (slow steps stand out)."""
    previous = time.monotonic()

    def step(label: str) -> None:
        nonlocal previous
        progress(f"{label} (étape précédente : {time.monotonic() - previous:.1f} s)")
        previous = time.monotonic()
    return step


def _seed_session(seed: float | None) -> None:
    """The transaction's `random()` seeded (a seed gives the same history) and memory for its large sorts."""
    s = db.session
    if seed is not None:
        s.execute(text("SELECT setseed(:s)"), {"s": seed})
    s.execute(text("SET LOCAL work_mem = '256MB'"))


def _parameters(reports: int, profile: DemoProfile) -> dict:
    """The values bound into the steps' SQL: the profile's shares, the split into first reports and duplicates, now."""
    primaries = max(1, round(reports * (1 - profile.duplicate_share)))
    return {"n": primaries, "days": profile.days, "app": profile.app_share, "notified": profile.notified_share,
            "transfer": profile.transfer_share, "reopen": profile.reopen_share, "feedback": profile.feedback_share,
            "sigma": profile.delay_sigma, "stuck": profile.stuck_share, "mark": DEMO_MARK,
            "dups": reports - primaries, "now": clock.now()}


def _scatter_points(params: dict) -> None:
    """demo_points: random points inside each commune, in proportion to its population (a few spare ones)."""
    db.session.execute(text("""
        CREATE TEMP TABLE demo_points ON COMMIT DROP AS
        SELECT insee_code, (ST_Dump(ST_GeneratePoints(geom, k))).geom AS location
        FROM (SELECT insee_code, geom,
                     floor(:n * 1.03 * population::float8 / sum(population) OVER () + random())::int AS k
              FROM communes WHERE population > 0) w
        WHERE k > 0
    """), params)


def _find_competent_units() -> None:
    """demo_commune: for each commune, the State unit and the police municipale whose jurisdiction contains it."""
    s = db.session
    s.execute(text("""
        CREATE TEMP TABLE demo_commune ON COMMIT DROP AS
        SELECT c.insee_code, c.name, c.departement_code, state.id AS state_unit_id, state.kind AS state_kind,
               pm.id AS pm_unit_id
        FROM (SELECT insee_code, name, departement_code, ST_PointOnSurface(geom) AS p FROM communes
              WHERE population > 0) c
        LEFT JOIN LATERAL (SELECT u.id, u.kind FROM units u
                           WHERE u.receives_reports AND u.active AND u.kind <> 'police_municipale'
                             AND ST_Contains(u.jurisdiction, c.p) ORDER BY u.id LIMIT 1) state ON true
        LEFT JOIN LATERAL (SELECT u.id FROM units u
                           WHERE u.receives_reports AND u.active AND u.kind = 'police_municipale'
                             AND ST_Contains(u.jurisdiction, c.p) ORDER BY u.id LIMIT 1) pm ON true
    """))
    s.execute(text("ALTER TABLE demo_commune ADD PRIMARY KEY (insee_code)"))
    _analyze("demo_points", "demo_commune")


def _draw_reports(profile: DemoProfile, params: dict) -> None:
    """demo_report: each first report's place, category, instant and unit, with the uniform draws of later steps."""
    cats = [(code, low, high, peak, spread, dispatch)
            for (code, low, high), (_, peak, spread, dispatch) in
            zip(_cumulative({k: v[0] for k, v in profile.categories.items()}), profile.categories.values())]
    db.session.execute(text(f"""
        CREATE TEMP TABLE demo_report ON COMMIT DROP AS
        WITH pts AS (
            -- Sampling in a subquery: with ORDER BY random() in the same SELECT, PostgreSQL would reuse that
            -- one value for every random() column.
            SELECT insee_code, location, random() AS u_cat, random() AS u1, random() AS u2, random() AS u_day,
                   random() AS u_min FROM (SELECT insee_code, location FROM demo_points ORDER BY random() LIMIT :n) s
        ), cat AS (SELECT * FROM (VALUES {_values(cats)}) AS v(code, lo, hi, peak, spread, dispatch)),
        placed AS (
            SELECT pts.*, cat.code AS category_code, cat.dispatch,
                   -- Box-Muller: hour of day around the category's peak.
                   (cast(floor(:days * u_day) AS int)) AS days_ago,
                   mod(cast(round(cat.peak + cat.spread * sqrt(-2 * ln(greatest(u1, 1e-9))) * cos(2 * pi() * u2))
                            AS int) + 48, 24) AS hour
            FROM pts JOIN cat ON pts.u_cat >= cat.lo AND pts.u_cat < cat.hi
        ), timed AS (
            SELECT placed.*,
                   ((date_trunc('day', :now AT TIME ZONE 'Europe/Paris') - make_interval(days => days_ago)
                     + make_interval(hours => hour) + make_interval(secs => floor(u_min * 3600)))
                    AT TIME ZONE 'Europe/Paris') AS t
            FROM placed
        )
        SELECT nextval('reports_id_seq') AS id, timed.insee_code, timed.location, timed.category_code,
               timed.dispatch, CASE WHEN t > :now THEN t - interval '7 days' ELSE t END AS received_at,
               dc.name AS commune_name, dc.departement_code,
               -- First competent force in the category's precedence; the police municipale only in its hours.
               CASE WHEN dc.pm_unit_id IS NOT NULL AND c.forces[1] = 'police_municipale'
                         AND timed.hour BETWEEN 7 AND 19
                         AND extract(isodow FROM t AT TIME ZONE 'Europe/Paris') < 7
                    THEN dc.pm_unit_id ELSE dc.state_unit_id END AS unit_id,
               CASE WHEN dc.pm_unit_id IS NOT NULL AND c.forces[1] = 'police_municipale'
                         AND timed.hour BETWEEN 7 AND 19
                         AND extract(isodow FROM t AT TIME ZONE 'Europe/Paris') < 7
                    THEN dc.state_unit_id ELSE dc.pm_unit_id END AS other_unit_id,
               c.priority, c.sla_acknowledge_min, c.sla_dispatch_min, c.sla_resolve_min,
               random() < :app AS from_app, random() AS u_notified, random() AS u_transfer, random() AS u_dispatch,
               random() AS u_reopen, random() AS u_feedback, random() AS u_outcome, random() AS u_desc,
               random() AS z1, random() AS z2, random() AS z3, random() AS z4, random() AS z5, random() AS z6
        FROM timed JOIN demo_commune dc ON dc.insee_code = timed.insee_code
        JOIN categories c ON c.code = timed.category_code
        WHERE dc.state_unit_id IS NOT NULL
    """), params)


def _draw_timelines(profile: DemoProfile, params: dict) -> None:
    """demo_timeline: when each report is transferred, accepted, acknowledged, dispatched and resolved."""
    # Normal deviates from uniform pairs, delays in minutes.
    speeds = list(profile.force_speed.items())
    db.session.execute(text(f"""
        CREATE TEMP TABLE demo_timeline ON COMMIT DROP AS
        WITH speed AS (SELECT * FROM (VALUES {_values(speeds)}) AS v(kind, factor)),
        base AS (
            SELECT r.*, u.kind AS unit_kind, sp.factor,
                   r.u_transfer < :transfer AND r.other_unit_id IS NOT NULL AS transferred,
                   sqrt(-2 * ln(greatest(r.z1, 1e-9))) * cos(2 * pi() * r.z2) AS n1,
                   sqrt(-2 * ln(greatest(r.z1, 1e-9))) * sin(2 * pi() * r.z2) AS n2,
                   sqrt(-2 * ln(greatest(r.z3, 1e-9))) * cos(2 * pi() * r.z4) AS n3,
                   sqrt(-2 * ln(greatest(r.z3, 1e-9))) * sin(2 * pi() * r.z4) AS n4,
                   sqrt(-2 * ln(greatest(r.z5, 1e-9))) * cos(2 * pi() * r.z6) AS n5
            FROM demo_report r JOIN units u ON u.id = r.unit_id JOIN speed sp ON sp.kind = u.kind
        ), steps AS (
            SELECT b.*,
                   CASE WHEN transferred THEN received_at + make_interval(secs => 60 * (3 + 20 * z5)) END
                       AS transferred_at,
                   make_interval(secs => 60 * sla_acknowledge_min * factor * exp(:sigma * n1)) AS ack_delay,
                   CASE WHEN u_dispatch < dispatch THEN make_interval(
                       secs => 60 * greatest(sla_dispatch_min - sla_acknowledge_min, 5) * factor * 0.6
                               * exp(:sigma * n2)) END AS dispatch_delay,
                   -- A few reports are left unanswered (forgotten, waiting): they make the open backlog age.
                   CASE WHEN u_feedback * 1000 - floor(u_feedback * 1000) < :stuck THEN interval '100 years'
                        ELSE make_interval(secs => 60 * sla_resolve_min * factor * 0.5 * exp(:sigma * 0.8 * n3))
                   END AS resolve_delay
            FROM base b
        ), at AS (
            SELECT s.*,
                   s.transferred_at + make_interval(secs => 60 * (5 + 30 * z6)) AS accepted_at,
                   coalesce(s.transferred_at + make_interval(secs => 60 * (5 + 30 * z6)), s.received_at)
                       + s.ack_delay AS ack_at
            FROM steps s
        )
        SELECT at.*, ack_at + dispatch_delay AS dispatch_at,
               greatest(ack_at + coalesce(dispatch_delay, interval '0'), received_at + resolve_delay)
                   + make_interval(secs => 60 * 5 * (1 + z2)) AS resolve_at
        FROM at
    """), params)


def _draw_outcomes(profile: DemoProfile, params: dict) -> None:
    """demo_final: each report's final unit, outcome and description, when it closes, reopens, informs its author."""
    outcomes = [(cat, code, low, high) for cat in profile.categories
                for code, low, high in _cumulative(profile.outcomes.get(cat, profile.outcomes["default"]))]
    descriptions = [(cat, i, len(items), d) for cat, items in profile.descriptions.items()
                    for i, d in enumerate(items)]
    s = db.session
    s.execute(text(f"""
        CREATE TEMP TABLE demo_final ON COMMIT DROP AS
        WITH o AS (SELECT * FROM (VALUES {_values(outcomes)}) AS v(category_code, code, lo, hi)),
        d AS (SELECT * FROM (VALUES {_values(descriptions)}) AS v(category_code, i, n, text)),
        t AS (
            SELECT tl.*,
                   CASE WHEN tl.transferred THEN tl.other_unit_id ELSE tl.unit_id END AS final_unit_id,
                   CASE WHEN tl.from_app AND tl.u_notified < :notified
                        THEN tl.resolve_at + make_interval(secs => 20 + 240 * tl.z4) END AS informed_at,
                   tl.resolve_at + make_interval(secs => 60 * (1 + 10 * tl.z3)) AS closed_at,
                   CASE WHEN tl.u_reopen < :reopen
                        THEN tl.resolve_at + make_interval(secs => 3600 * (12 + 100 * tl.z5)) END AS reopened_at
            FROM demo_timeline tl
        )
        SELECT t.*,
               t.reopened_at + make_interval(secs => 3600 * (4 + 40 * t.z1)) AS resolve2_at,
               o.code AS outcome_code, d.text AS description
        FROM t
        JOIN o ON o.category_code = t.category_code AND t.u_outcome >= o.lo AND t.u_outcome < o.hi
        JOIN d ON d.category_code = t.category_code AND d.i = floor(t.u_desc * d.n)
    """), params)
    s.execute(text("ALTER TABLE demo_final ADD PRIMARY KEY (id)"))
    _analyze("demo_report", "demo_timeline", "demo_final")


def _write_devices(reports: int, profile: DemoProfile, params: dict) -> int:
    """devices (and demo_device, numbered): the phones that send the app reports, about three reports each."""
    s = db.session
    devices = max(1, int(reports * profile.app_share / 3))
    s.execute(text("""
        CREATE TEMP TABLE demo_device ON COMMIT DROP AS
        SELECT g AS no, gen_random_uuid() AS id FROM generate_series(1, :k) g
    """), {"k": devices})
    s.execute(text("ALTER TABLE demo_device ADD PRIMARY KEY (no)"))
    _analyze("demo_device")
    s.execute(text("""
        INSERT INTO devices (id, token_hash, platform, locale, preferences, created_at, last_seen_at)
        SELECT id, 'demo-' || md5(id::text || random()::text),
               (ARRAY['android', 'android', 'ios'])[1 + floor(random() * 3)::int], 'fr', '{}'::jsonb,
               :now - interval '400 days', :now
        FROM demo_device
    """), params)
    return devices


def _write_duplicates(params: dict) -> None:
    """demo_dup and incidents: later reports of a fact a few dozen metres away, answered together with the first."""
    s = db.session
    s.execute(text("""
        CREATE TEMP TABLE demo_dup ON COMMIT DROP AS
        SELECT nextval('reports_id_seq') AS id, f.id AS primary_id, nextval('incidents_id_seq') AS incident_id,
               ST_Translate(f.location, (random() - 0.5) * 0.0012, (random() - 0.5) * 0.0008) AS location,
               f.received_at + make_interval(secs => 60 * (3 + 60 * random())) AS received_at,
               random() < :app AS from_app
        FROM (SELECT * FROM demo_final WHERE NOT transferred ORDER BY random() LIMIT :dups) f
    """), params)
    s.execute(text("""
        INSERT INTO incidents (id, category_code, unit_id, location, first_report_at, last_report_at, report_count,
                               status)
        SELECT d.incident_id, f.category_code, f.final_unit_id, f.location, f.received_at, d.received_at, 2,
               CASE WHEN f.resolve_at <= :now THEN 'closed' ELSE 'open' END
        FROM demo_dup d JOIN demo_final f ON f.id = d.primary_id
    """), params)


def _gather_reports(params: dict) -> None:
    """demo_all: first reports and duplicates in one table, a duplicate's steps following its first report's."""
    s = db.session
    s.execute(text("""
        CREATE TEMP TABLE demo_all ON COMMIT DROP AS
        SELECT f.id, f.location, f.insee_code, f.commune_name, f.departement_code, f.category_code, f.priority,
               f.received_at, f.unit_id, f.final_unit_id, f.other_unit_id, f.transferred, f.transferred_at,
               f.accepted_at, f.from_app, f.u_feedback, f.z1, f.description, f.outcome_code,
               f.sla_acknowledge_min, f.sla_dispatch_min, f.sla_resolve_min,
               f.ack_at, f.dispatch_at, f.resolve_at, f.informed_at, f.closed_at, f.reopened_at, f.resolve2_at,
               NULL::bigint AS incident_id, NULL::bigint AS merged_into
        FROM demo_final f
        UNION ALL
        SELECT d.id, d.location, f.insee_code, f.commune_name, f.departement_code, f.category_code, f.priority,
               d.received_at, f.final_unit_id, f.final_unit_id, NULL, false, NULL, NULL, d.from_app, random(),
               random(), f.description, f.outcome_code, f.sla_acknowledge_min, f.sla_dispatch_min,
               f.sla_resolve_min,
               greatest(f.ack_at, d.received_at + interval '1 minute'),
               CASE WHEN f.dispatch_at IS NOT NULL
                    THEN greatest(f.dispatch_at, d.received_at + interval '2 minutes') END,
               greatest(f.resolve_at, d.received_at + interval '3 minutes'),
               CASE WHEN d.from_app AND random() < :notified
                    THEN greatest(f.resolve_at, d.received_at + interval '3 minutes') + interval '1 minute' END,
               greatest(f.closed_at, d.received_at + interval '4 minutes'), NULL, NULL, d.incident_id, d.primary_id
        FROM demo_dup d JOIN demo_final f ON f.id = d.primary_id
    """), params)
    s.execute(text("ALTER TABLE demo_all ADD PRIMARY KEY (id)"))
    _analyze("demo_dup", "demo_all")
    s.execute(text("UPDATE demo_all a SET incident_id = d.incident_id FROM demo_dup d WHERE a.id = d.primary_id"))


def _leave_future_steps_undone(params: dict) -> None:
    """demo_all without the steps still in the future at the clock's instant: they have not happened yet."""
    s = db.session
    s.execute(text("""
        UPDATE demo_all SET
            ack_at = CASE WHEN ack_at <= :now THEN ack_at END,
            dispatch_at = CASE WHEN dispatch_at <= :now THEN dispatch_at END,
            resolve_at = CASE WHEN resolve_at <= :now THEN resolve_at END,
            informed_at = CASE WHEN informed_at <= :now THEN informed_at END,
            closed_at = CASE WHEN closed_at <= :now THEN closed_at END,
            reopened_at = CASE WHEN reopened_at <= :now AND closed_at <= :now THEN reopened_at END,
            accepted_at = CASE WHEN accepted_at <= :now THEN accepted_at END,
            transferred_at = CASE WHEN transferred_at <= :now THEN transferred_at END
    """), params)
    s.execute(text("""
        UPDATE demo_all SET resolve2_at = CASE WHEN reopened_at IS NOT NULL AND resolve2_at <= :now
                                               THEN resolve2_at END
        WHERE resolve2_at IS NOT NULL
    """), params)
    s.execute(text("""
        UPDATE demo_all SET final_unit_id = unit_id WHERE transferred AND accepted_at IS NULL
    """))


def _write_reports(params: dict, devices: int) -> None:
    """reports: one row per demo report, its status the last step that happened, its routing reason DEMO_MARK."""
    db.session.execute(text("""
        WITH drawn AS (
            SELECT a.*, 'PX-' || array_to_string(ARRAY(SELECT substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ',
                                                                      1 + floor(random() * 32)::int, 1)
                                                        FROM generate_series(1, 10) WHERE a.id IS NOT NULL), '')
                        AS reference
            FROM demo_all a
        ), fresh AS (
            -- A reference drawn twice or already taken skips its report (report_references keeps them unique).
            SELECT DISTINCT ON (d.reference) d.* FROM drawn d
            WHERE NOT EXISTS (SELECT 1 FROM report_references taken WHERE taken.reference = d.reference)
            ORDER BY d.reference, d.id
        )
        INSERT INTO reports (id, reference, category_code, description, location, accuracy_m, commune_insee,
                             commune_name, departement_code, observed_at, received_at, ongoing, status, priority,
                             emergency, unit_id, routing_reason, incident_id, device_id, source, reopen_count,
                             outcome_code, acknowledge_due_at, dispatch_due_at, resolve_due_at, closed_at,
                             updated_at)
        SELECT a.id, a.reference, a.category_code, a.description, a.location, 10 + floor(40 * a.z1), a.insee_code,
               a.commune_name, a.departement_code, a.received_at - interval '5 minutes', a.received_at, false,
               CASE WHEN a.reopened_at IS NOT NULL AND a.resolve2_at IS NULL THEN 'acknowledged'
                    WHEN a.closed_at IS NOT NULL THEN 'closed'
                    WHEN a.resolve_at IS NOT NULL THEN 'resolved'
                    WHEN a.dispatch_at IS NOT NULL THEN 'dispatched'
                    WHEN a.ack_at IS NOT NULL THEN 'acknowledged' ELSE 'received' END,
               a.priority, false, a.final_unit_id,
               'Unité compétente sur la commune ' || coalesce(a.commune_name, '') || ' ' || :mark,
               a.incident_id,
               dev.id,
               CASE WHEN a.from_app THEN 'app' ELSE 'open311' END,
               CASE WHEN a.reopened_at IS NOT NULL THEN 1 ELSE 0 END,
               CASE WHEN a.resolve_at IS NOT NULL THEN a.outcome_code END,
               a.received_at + make_interval(mins => a.sla_acknowledge_min),
               a.received_at + make_interval(mins => a.sla_dispatch_min),
               a.received_at + make_interval(mins => a.sla_resolve_min),
               CASE WHEN a.reopened_at IS NOT NULL THEN a.resolve2_at ELSE a.closed_at END,
               greatest(a.received_at, a.closed_at, a.resolve2_at)
        FROM fresh a
        LEFT JOIN demo_device dev ON a.from_app AND dev.no = 1 + floor(a.z1 * :k)::int
    """), params | {"k": devices})


def _write_workflow_events() -> None:
    """report_events: each written report's history, one event per step that happened (as the console records it)."""
    db.session.execute(text("""
        INSERT INTO report_events (report_id, type, at, actor_kind, unit_id, target_unit_id, outcome_code, text,
                                   citizen_visible, data)
        SELECT a.id, e.type, e.at, e.actor, e.unit_id, e.target, e.outcome, e.text, e.visible, '{}'::jsonb
        FROM demo_all a JOIN reports r ON r.id = a.id
        CROSS JOIN LATERAL (VALUES
            ('created', a.received_at, CASE WHEN a.from_app THEN 'resident' ELSE 'partner' END, a.unit_id,
             NULL::int, NULL, NULL, true),
            ('routed', a.received_at, 'system', a.unit_id, NULL, NULL, r.routing_reason, true),
            ('merged', CASE WHEN a.merged_into IS NOT NULL THEN a.received_at END, 'system', a.unit_id, NULL, NULL,
             'Regroupé avec d''autres signalements du même fait.', true),
            ('transferred', a.transferred_at, 'officer', a.unit_id, a.final_unit_id, NULL,
             'Relève de la compétence de l''autre force sur la commune.', false),
            ('transfer_accepted', a.accepted_at, 'officer', a.final_unit_id, NULL, NULL, NULL, true),
            ('acknowledged', a.ack_at, 'officer', a.final_unit_id, NULL, NULL, NULL, true),
            ('citizen_notified', CASE WHEN a.informed_at IS NOT NULL AND a.ack_at IS NOT NULL
                                      THEN a.ack_at + interval '30 seconds' END,
             'system', a.final_unit_id, NULL, NULL, NULL, false),
            ('dispatched', a.dispatch_at, 'officer', a.final_unit_id, NULL, NULL, NULL, true),
            ('resolved', a.resolve_at, 'officer', a.final_unit_id, NULL, a.outcome_code, NULL, true),
            ('citizen_notified', a.informed_at, 'system', a.final_unit_id, NULL, NULL, NULL, false),
            ('closed', a.closed_at, 'officer', a.final_unit_id, NULL, NULL, NULL, true),
            ('reopened', a.reopened_at, 'resident', a.final_unit_id, NULL, NULL,
             'Le problème a repris.', true),
            ('resolved', a.resolve2_at, 'officer', a.final_unit_id, NULL, a.outcome_code, NULL, true),
            ('closed', a.resolve2_at + interval '2 minutes', 'officer', a.final_unit_id, NULL, NULL, NULL, true)
        ) AS e(type, at, actor, unit_id, target, outcome, text, visible)
        WHERE e.at IS NOT NULL
    """))


def _write_feedback(params: dict) -> None:
    """feedback and its events: residents' ratings of closed reports they were told of, better for quick answers."""
    db.session.execute(text("""
        WITH chosen AS (
            SELECT a.id, a.informed_at, a.z1,
                   -- Reactive answers are rated better.
                   4.6 - 1.6 * least(extract(epoch FROM a.ack_at - a.received_at) / (60.0 * a.sla_acknowledge_min),
                                     2) AS base
            FROM demo_all a JOIN reports r ON r.id = a.id
            WHERE r.status = 'closed' AND a.informed_at IS NOT NULL AND a.u_feedback < :feedback
              AND a.informed_at + interval '2 hours' < :now
        ), scored AS (
            SELECT id, informed_at + make_interval(secs => 3600 * (1 + 40 * z1)) AS at,
                   least(5, greatest(1, round(base + (random() - 0.5) * 2)))::int AS reactivite,
                   least(5, greatest(1, round(4.3 + (random() - 0.5) * 2)))::int AS courtoisie,
                   least(5, greatest(1, round(base - 0.3 + (random() - 0.5) * 2)))::int AS information
            FROM chosen
        ), ins AS (
            INSERT INTO feedback (report_id, reactivite, courtoisie, information, created_at)
            SELECT id, reactivite, courtoisie, information, least(at, :now) FROM scored
            RETURNING report_id, reactivite, courtoisie, information, created_at
        )
        INSERT INTO report_events (report_id, type, at, actor_kind, citizen_visible, data)
        SELECT report_id, 'feedback', created_at, 'resident', false,
               jsonb_build_object('reactivite', reactivite, 'courtoisie', courtoisie, 'information', information)
        FROM ins
    """), params)


def _count_written_reports() -> int:
    """How many demo reports were written (a drawn reference that collides with an existing one skips its report)."""
    return db.session.execute(text("SELECT count(*) FROM demo_all a JOIN reports r ON r.id = a.id")).scalar_one()


def _commit_and_analyse() -> None:
    """Commit, then fresh statistics on the tables that grew, so that the dashboard's first queries plan well."""
    s = db.session
    s.commit()
    for table in ("reports", "report_events", "incidents", "feedback", "devices"):
        s.execute(text(f"ANALYZE {table}"))
    s.commit()
