"""gunicorn entry point of the benchmarks: Proxima as in production, with abuse limits raised.

All the benchmark's load comes from one loopback address and a few hundred devices, where production
traffic comes from many addresses and residents. The limiter still runs (its Redis counters are part of
every request's cost); its ceilings are only set out of reach so that no request is refused for volume.
"""
from service import create_app
from service.platform.config import SETTINGS

UNREACHABLE = "100000000 per minute"
# Every limit of the policy (a Flask-Limiter string in the settings table), and the daily counts, out of reach.
BENCH_LIMITS = {
    **{s.name: UNREACHABLE for s in SETTINGS if s.name.startswith("RATELIMIT_") and s.parse is str},
    "REPORTS_PER_DEVICE_PER_DAY": 100_000_000,
    "REPORTS_PER_DEVICE_PER_MINUTE": 100_000_000,
    "MESSAGES_PER_REPORT_PER_DAY": 100_000_000,
}

app = create_app(BENCH_LIMITS)
