"""gunicorn entry point of the fault scenarios: Proxima from the environment, abuse limits out of reach.

The scenarios send many reports from one address and a handful of devices on purpose; the limiter still
runs against its Redis (an outage of that Redis is part of what they test).
"""
from service import create_app

UNREACHABLE = "100000000 per minute"
app = create_app({
    "RATELIMIT_REGISTRATION_PER_IP": UNREACHABLE,
    "RATELIMIT_INTAKE_ATTEMPTS_PER_DEVICE": UNREACHABLE,
    "RATELIMIT_INTAKE_PER_IP": UNREACHABLE,
    "RATELIMIT_PHOTOS_PER_DEVICE": UNREACHABLE,
    "REPORTS_PER_DEVICE_PER_DAY": 100_000_000,
    "REPORTS_PER_DEVICE_PER_MINUTE": 100_000_000,
    "STORM_REPORTS": 100_000_000,
})
