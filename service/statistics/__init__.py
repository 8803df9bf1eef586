"""The proximity indicator. Modules, each importing only those above it:

    measures           what every figure measures, declared once (counters, clocks, scores, ratios)
    report_clocks      each report's response-time clocks, materialised from its events (the refresh)
    filters            a dashboard view's filters and the SQL selecting the reports they cover
    packed_frame       the packed per-report rows decoded, and every figure computed from them with NumPy
    frame_store        every report's packed rows kept in the process for long views
    report_rows        one row per report behind a figure: the report list and the CSV export
    dashboard_figures  everything the dashboard draws, cached in Redis, computed ahead for the default views
    indicator_snapshots  long national views computed ahead by a job, served as stored
    territories        overlay territories imported from GeoJSON
    exchanges          messages between units and residents: share of reports with an exchange, answer time
    reference_sql      every figure as one SQL query: what the tests compare packed_frame with (not used at runtime)
"""
