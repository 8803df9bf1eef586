"""CSV export of the reports behind the dashboard's filters: RFC 4180 (CRLF, quoted as needed), UTF-8, streamed.

PostgreSQL writes the CSV itself: `COPY (the report list's query, cells formatted in SQL) TO STDOUT WITH CSV
HEADER`, read chunk by chunk. The rows never become Python objects, so the export runs close to COPY's own speed
in constant memory. COPY ends records with LF where RFC 4180 wants CRLF: line breaks inside the free-text cells
(names of units, communes, categories) are replaced by spaces in SQL, so every LF left ends a record and becomes
CRLF on the way out.

Every cell that is not a number, a time or a fixed word is neutralised against spreadsheet formulas: a cell
starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, so a name imported by an
administrator (or any text column added to the export later) is shown, never run.
"""
from models import db
from service.statistics.filters import IndicatorFilters, driver_statement
from service.statistics.report_rows import EXPORT_COLUMNS, report_rows_sql

# Bytes gathered before handing a piece to the WSGI server (COPY sends one message per row).
CHUNK_BYTES = 64 * 1024

_LOCAL_TIMES = {"received_at", "acknowledged_at", "dispatched_at", "resolved_at", "informed_at"}
_YES_NO = {"reopened", "transferred", "exchange"}
_FREE_TEXT = {"category_label", "unit_name", "commune_name"}
_SLA_VERDICTS = {"acknowledge_sla", "dispatch_sla", "resolve_sla"}
_NUMBERS = {"acknowledge_min", "dispatch_min", "resolve_min", "inform_min", "feedback_reactivite",
            "feedback_courtoisie", "feedback_information", "answer_min"}
# What a spreadsheet reads as the start of a formula (OWASP "CSV injection").
_FORMULA_START = r"'=', '+', '-', '@', E'\t', E'\r'"


def _neutralised(expression: str, column: str) -> str:
    return (f"CASE WHEN left({expression}, 1) IN ({_FORMULA_START}) THEN chr(39) || {expression} "
            f"ELSE {expression} END AS {column}")


def _cell(column: str) -> str:
    """One exported cell, formatted as on screen: local times to the second, oui/non, empty when unknown."""
    if column in _LOCAL_TIMES:
        return f"to_char(r.{column}, 'YYYY-MM-DD HH24:MI:SS') AS {column}"
    if column in _YES_NO:
        return f"CASE WHEN r.{column} THEN 'oui' ELSE 'non' END AS {column}"
    if column in _FREE_TEXT:
        return _neutralised(f"translate(r.{column}, E'\\r\\n', '  ')", column)
    if column in _SLA_VERDICTS:
        return f"NULLIF(r.{column}, '') AS {column}"  # empty, not "" (COPY quotes an empty string)
    if column in _NUMBERS:
        return f"r.{column}"
    return _neutralised(f"r.{column}", column)


def copy_statement(f: IndicatorFilters) -> tuple[str, dict]:
    """The COPY statement of the export and its values (for the driver)."""
    sql, params = report_rows_sql(f, order="c.report_id")
    query, values = driver_statement(f"SELECT {', '.join(_cell(c) for c in EXPORT_COLUMNS)} FROM ({sql}) r", params)
    return f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", values


def csv_stream(f: IndicatorFilters):
    """The header line, then the rows in pieces of about CHUNK_BYTES: memory stays flat however many match."""
    statement, values = copy_statement(f)
    cursor = db.session.connection().connection.driver_connection.cursor()
    try:
        with cursor.copy(statement, values) as copy:
            piece = bytearray()
            for data in copy:
                piece += data
                if len(piece) >= CHUNK_BYTES:
                    yield bytes(piece).replace(b"\n", b"\r\n")
                    piece.clear()
            yield bytes(piece).replace(b"\n", b"\r\n")
    finally:
        cursor.close()


def export_filename(f: IndicatorFilters) -> str:
    start = f.start.isoformat() if f.start else "debut"
    end = f.end.isoformat() if f.end else "fin"
    return f"proxima-signalements-{start}-{end}.csv"
