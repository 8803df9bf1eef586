"""What every channel stands on: configuration, the clock, errors, security headers, rate limits, logs and metrics,
health probes, Redis, the audit log, the CLI.
"""
