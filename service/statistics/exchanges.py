"""Exchanges between units and residents (messages on reports), per unit: the share of reports with an exchange
and the time the unit takes to answer a resident's message.

Read from `report_messages` for the reports a dashboard view covers (the filters of service.statistics.filters over
indicator_report_clocks), so these figures cover exactly the reports of the view's other figures:

* an *exchange*: a report on which both the unit and the resident wrote;
* the *answer time*: from the resident's first message to the unit's first message after it (reports where the
  resident wrote and the unit answered); median and 90th percentile.

Computed on demand (one query; message rows are few beside reports), not in the packed frames. The per-report
values are in the CSV export too (`EXCHANGE_COLUMNS_SQL`, used by service.statistics.report_rows).
"""
from sqlalchemy import text

from models import db
from service.statistics.filters import IndicatorFilters, where_sql
from service.statistics.measures import UNIT_ROWS

# Per report (alias c: indicator_report_clocks): the first resident message, the unit's first answer after it,
# and whether both sides wrote. A LEFT JOIN LATERAL on this gives NULLs for a report without messages.
PER_REPORT_SQL = """
    SELECT bool_or(m.author = 'unit') AND bool_or(m.author = 'resident') AS exchange,
           min(m.created_at) FILTER (WHERE m.author = 'resident') AS first_resident_at,
           (SELECT min(a.created_at) FROM report_messages a
             WHERE a.report_id = c.report_id AND a.author = 'unit'
               AND a.created_at >= (SELECT min(q.created_at) FROM report_messages q
                                     WHERE q.report_id = c.report_id AND q.author = 'resident')) AS answered_at
    FROM report_messages m WHERE m.report_id = c.report_id"""

EXCHANGE_COLUMNS_SQL = ("coalesce(x.exchange, false) AS exchange, "
                        "round(CAST(extract(epoch FROM x.answered_at - x.first_resident_at) / 60.0 AS numeric), 1) "
                        "AS answer_min")
EXCHANGE_JOIN_SQL = f"LEFT JOIN LATERAL ({PER_REPORT_SQL}) x ON true"


def exchanges_by_unit(f: IndicatorFilters, limit: int = UNIT_ROWS) -> list[dict]:
    """Per unit (those with most reports first): reports, reports with an exchange and their share, and the
    median and P90 of the answer time (seconds), None where nothing was measured."""
    where, params, _ = where_sql(f)
    sql = f"""
        SELECT c.unit_id, u.name AS unit_name, count(*) AS reports,
               count(*) FILTER (WHERE x.exchange) AS with_exchange,
               count(x.answered_at) AS answered,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM x.answered_at - x.first_resident_at))
                   AS answer_p50,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM x.answered_at - x.first_resident_at))
                   AS answer_p90
        FROM indicator_report_clocks c
        JOIN units u ON u.id = c.unit_id
        {EXCHANGE_JOIN_SQL}
        WHERE {where}
        GROUP BY c.unit_id, u.name
        ORDER BY count(*) DESC, u.name
        LIMIT {int(limit)}"""
    rows = [dict(r) for r in db.session.execute(text(sql), params).mappings()]
    for row in rows:
        row["exchange_share"] = row["with_exchange"] / row["reports"] if row["reports"] else None
    return rows
