"""gunicorn entry point of the benchmarks: Proxima as in production, with abuse limits raised.

All the benchmark's load comes from one loopback address and a few hundred devices, where production
traffic comes from many addresses and residents. The limiter still runs (its Redis counters are part of
every request's cost); its ceilings are only set out of reach so that no request is refused for volume.
"""
from service import create_app

UNREACHABLE = "100000000 per minute"
BENCH_LIMITS = {
    "RATELIMIT_REGISTRATION_PER_IP": UNREACHABLE,
    "RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE": UNREACHABLE,
    "RATELIMIT_INTAKE_PER_IP": UNREACHABLE,
    "RATELIMIT_REPORTS_PER_DEVICE": UNREACHABLE,
    "REPORTS_PER_DEVICE_PER_DAY": 100_000_000,
    "RATELIMIT_OPEN311_READ_PER_KEY": UNREACHABLE,
    "RATELIMIT_OPEN311_READ_PER_IP": UNREACHABLE,
    "RATELIMIT_OPEN311_WRITE_PER_KEY": UNREACHABLE,
    "RATELIMIT_OPEN311_WRITE_PER_IP": UNREACHABLE,
}

app = create_app(BENCH_LIMITS)
