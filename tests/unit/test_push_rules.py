"""Pure rules of push delivery: quiet hours, retry back-off, Retry-After parsing."""
from datetime import datetime, timezone

from service.followup.notifications import quiet_hours_end
from service.followup.push.fcm import parse_retry_after
from workers.push import retry_delay

from service.platform.clock import PARIS
NIGHT = {"start": "22:00", "end": "07:00"}


def paris(y, m, d, h, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=PARIS)


def test_overnight_window_before_midnight_waits_until_next_morning():
    end = quiet_hours_end(NIGHT, paris(2026, 3, 2, 23, 30).astimezone(timezone.utc))
    assert end == paris(2026, 3, 3, 7, 0)


def test_overnight_window_after_midnight_waits_until_the_same_morning():
    assert quiet_hours_end(NIGHT, paris(2026, 3, 3, 5, 10)) == paris(2026, 3, 3, 7, 0)


def test_outside_the_window_sends_now():
    assert quiet_hours_end(NIGHT, paris(2026, 3, 3, 7, 0)) is None
    assert quiet_hours_end(NIGHT, paris(2026, 3, 3, 12, 0)) is None
    assert quiet_hours_end(NIGHT, paris(2026, 3, 3, 21, 59)) is None


def test_daytime_window():
    window = {"start": "13:00", "end": "15:30"}
    assert quiet_hours_end(window, paris(2026, 7, 1, 14, 0)) == paris(2026, 7, 1, 15, 30)
    assert quiet_hours_end(window, paris(2026, 7, 1, 16, 0)) is None


def test_window_end_follows_paris_daylight_saving_time():
    # Night of the spring change (29 March 2026): 07:00 Paris is 05:00 UTC, not 06:00.
    end = quiet_hours_end(NIGHT, paris(2026, 3, 28, 23, 0))
    assert end.astimezone(timezone.utc) == datetime(2026, 3, 29, 5, 0, tzinfo=timezone.utc)


def test_no_or_malformed_preference_means_no_quiet_hours():
    now = paris(2026, 3, 3, 23, 0)
    for value in (None, {}, {"start": "22:00"}, {"start": "late", "end": "07:00"}, "22-07",
                  {"start": "07:00", "end": "07:00"}):
        assert quiet_hours_end(value, now) is None


def test_backoff_doubles_and_is_capped():
    assert [retry_delay(n, None, 30, 3600) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(20, None, 30, 3600) == 3600


def test_retry_after_wins_when_longer_than_the_backoff():
    assert retry_delay(1, 90, 30, 3600) == 90
    assert retry_delay(3, 5, 30, 3600) == 120


def test_retry_after_parsing():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = datetime(2026, 3, 3, 12, 0, 0, tzinfo=timezone.utc).timestamp()
    assert parse_retry_after("Tue, 03 Mar 2026 12:00:30 GMT", now=now) == 30.0
