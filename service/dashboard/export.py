"""CSV export of the reports behind the dashboard's filters: RFC 4180 (CRLF, quoted as needed), UTF-8, streamed."""
import csv
import io
from datetime import datetime

from service.indicators import EXPORT_COLUMNS, IndicatorFilters, iter_report_rows

ROWS_PER_CHUNK = 2000


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")  # local time (Europe/Paris), as on screen
    return str(value)


def csv_stream(f: IndicatorFilters):
    """Header line, then rows in chunks: memory stays flat however many reports match."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(EXPORT_COLUMNS)
    pending = 0
    for row in iter_report_rows(f):
        writer.writerow([_cell(row._mapping[c]) for c in EXPORT_COLUMNS])
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def export_filename(f: IndicatorFilters) -> str:
    start = f.start.isoformat() if f.start else "debut"
    end = f.end.isoformat() if f.end else "fin"
    return f"proxima-signalements-{start}-{end}.csv"
