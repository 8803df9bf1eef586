"""gunicorn entry point of the load test: Proxima from the environment, abuse limits out of reach.

The load comes from one loopback address; the limiter still runs against Redis (its counters are part of
every request's cost), its ceilings are only set where no request is refused for volume.
"""
from service import create_app

UNREACHABLE = "100000000 per minute"
app = create_app({
    "RATELIMIT_REGISTRATION_PER_IP": UNREACHABLE,
    "RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE": UNREACHABLE,
    "RATELIMIT_INTAKE_PER_IP": UNREACHABLE,
    "RATELIMIT_REPORTS_PER_DEVICE": UNREACHABLE,
    "RATELIMIT_OPEN311_READ_PER_IP": UNREACHABLE,
    "RATELIMIT_OPEN311_READ_PER_KEY": UNREACHABLE,
    "REPORTS_PER_DEVICE_PER_DAY": 100_000_000,
})
