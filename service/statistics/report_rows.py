"""One row per report behind a figure, with its clocks and SLA verdicts: the report list and the CSV export."""
from sqlalchemy import text

from models import db
from service.statistics.exchanges import EXCHANGE_COLUMNS_SQL, EXCHANGE_JOIN_SQL
from service.statistics.filters import IndicatorFilters, where_sql
from service.statistics.measures import CLOCKS, SLA_CLOCKS, sla_breached_sql, sla_met_sql

EXPORT_COLUMNS = (
    "reference", "received_at", "category_code", "category_label", "unit_code", "unit_name", "commune_insee",
    "commune_name", "departement_code", "status", "outcome_code", "reopened", "transferred",
    "acknowledged_at", "dispatched_at", "resolved_at", "informed_at",
    "acknowledge_min", "dispatch_min", "resolve_min", "inform_min",
    "acknowledge_sla", "dispatch_sla", "resolve_sla",
    "feedback_reactivite", "feedback_courtoisie", "feedback_information",
    "exchange", "answer_min",
)


def _sla_verdict(clock: str) -> str:
    return (f"CASE WHEN {sla_met_sql(clock)} THEN 'respecte' WHEN {sla_breached_sql(clock)} THEN 'depasse' "
            f"ELSE '' END AS {clock}_sla")


def report_rows_sql(f: IndicatorFilters, order: str = "c.received_at DESC, c.report_id DESC",
                    limit: int | None = None, offset: int = 0) -> tuple[str, dict]:
    """One row per report behind a figure, with its clocks: the report list and the CSV export share it."""
    where, params, _ = where_sql(f)
    minutes = ", ".join(f"round(CAST(c.{k}_s / 60.0 AS numeric), 1) AS {k}_min" for k in CLOCKS)
    local = ", ".join(f"c.{k} AT TIME ZONE 'Europe/Paris' AS {k}" for k in
                      ("received_at", "acknowledged_at", "dispatched_at", "resolved_at", "informed_at"))
    sql = f"""
        SELECT c.report_id, c.reference, {local}, c.category_code, cat.label_fr AS category_label, u.code AS unit_code,
               u.name AS unit_name, c.commune_insee, m.name AS commune_name, c.departement_code, c.status,
               c.outcome_code, c.reopened, c.transferred, {minutes},
               {", ".join(_sla_verdict(k) for k in SLA_CLOCKS)},
               c.feedback_reactivite, c.feedback_courtoisie, c.feedback_information, {EXCHANGE_COLUMNS_SQL}
        FROM indicator_report_clocks c
        JOIN categories cat ON cat.code = c.category_code
        JOIN units u ON u.id = c.unit_id
        LEFT JOIN communes m ON m.insee_code = c.commune_insee
        {EXCHANGE_JOIN_SQL}
        WHERE {where}
        ORDER BY {order}
    """
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return sql, params


def count_reports(f: IndicatorFilters) -> int:
    where, params, _ = where_sql(f)
    return db.session.execute(text(f"SELECT count(*) FROM indicator_report_clocks c WHERE {where}"),
                              params).scalar_one()


def report_rows(f: IndicatorFilters, limit: int = 100, offset: int = 0) -> list[dict]:
    sql, params = report_rows_sql(f, limit=limit, offset=offset)
    return [dict(r) for r in db.session.execute(text(sql), params).mappings()]
