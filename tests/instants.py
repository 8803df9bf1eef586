"""Named instants at which tests run: routing depends on the hour and the day (Europe/Paris).

The demo police municipale is open Monday to Saturday 07:00-20:00; outside those hours a non-sensitive report
goes to the police nationale or the gendarmerie. A test whose outcome depends on that states its instant with
`@pytest.mark.instant(...)`.
"""
# Tuesday 24 November 2026 (UTC+1).
WEEKDAY_DAYTIME = "2026-11-24T10:00:00+01:00"  # police municipale open
WEEKDAY_NIGHT = "2026-11-24T03:00:00+01:00"  # police municipale closed: the commissariat handles it
SUNDAY_DAYTIME = "2026-11-29T10:00:00+01:00"  # police municipale closed all day
