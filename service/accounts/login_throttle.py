"""Failed console logins counted per account × address, per address and per account, in fixed windows.

- account × address (an IPv6 /64 counts as one address): LOGIN_MAX_FAILURES failures refuse further attempts on
  that account from that address for the rest of the window. The owner, elsewhere, still logs in: a stranger
  cannot lock them out (the account itself is never locked by failures).
- address, any account: LOGIN_MAX_FAILURES_PER_IP failures refuse that address (one attacker, many accounts).
- account, any address: LOGIN_ALERT_FAILURES failures alert the account's supervisors (many addresses, one
  account), without refusing anyone.

Counters live in Redis; when Redis is unreachable they fall back to this process's memory, so a Redis outage
loosens the limits by the number of web processes, never lifts them. Windows follow the service's clock.
"""
import hashlib
import threading
from dataclasses import dataclass

from flask import current_app

from service.platform import clock
from service.platform.addresses import address_bucket
from service.platform.redis_client import get_redis

_fallback: dict[str, int] = {}
_fallback_lock = threading.Lock()


def _account(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode("utf-8")).hexdigest()[:32]


def _window() -> tuple[int, int]:
    seconds = current_app.config["LOGIN_LOCK_MINUTES"] * 60
    return int(clock.now().timestamp() // seconds), seconds


def _keys(email: str, address: str | None) -> dict[str, str]:
    number, _ = _window()
    net = address_bucket(address)
    return {"pair": f"console:login:pair:{number}:{_account(email)}:{net}",
            "address": f"console:login:address:{number}:{net}",
            "account": f"console:login:account:{number}:{_account(email)}"}


def _read(keys: list[str]) -> list[int]:
    try:
        return [int(v or 0) for v in get_redis().mget(keys)]
    except Exception:  # Redis down: this process's counters
        with _fallback_lock:
            return [_fallback.get(k, 0) for k in keys]


def _increment(keys: list[str]) -> list[int]:
    _, seconds = _window()
    try:
        pipe = get_redis().pipeline()
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, 2 * seconds)
        return pipe.execute()[::2]
    except Exception:
        with _fallback_lock:
            if len(_fallback) > 100_000:  # old windows: forget them rather than grow without bound
                _fallback.clear()
            for key in keys:
                _fallback[key] = _fallback.get(key, 0) + 1
            return [_fallback[k] for k in keys]


def refusal(email: str, address: str | None) -> str | None:
    """"pair" or "address" when the attempt is refused before any password is checked, else None."""
    keys = _keys(email, address)
    pair, per_address = _read([keys["pair"], keys["address"]])
    if per_address >= current_app.config["LOGIN_MAX_FAILURES_PER_IP"]:
        return "address"
    if pair >= current_app.config["LOGIN_MAX_FAILURES"]:
        return "pair"
    return None


@dataclass(frozen=True)
class Crossed:
    """Thresholds this failure reached (each is reached once per window: audited once)."""
    pair: bool
    address: bool
    alert: bool


def count_failure(email: str, address: str | None) -> Crossed:
    keys = _keys(email, address)
    pair, per_address, account = _increment([keys["pair"], keys["address"], keys["account"]])
    config = current_app.config
    return Crossed(pair=pair == config["LOGIN_MAX_FAILURES"],
                   address=per_address == config["LOGIN_MAX_FAILURES_PER_IP"],
                   alert=account == config["LOGIN_ALERT_FAILURES"])


def forget_pair(email: str, address: str | None) -> None:
    """A successful login clears its own pair's failures (a typo earlier in the window is forgiven)."""
    key = _keys(email, address)["pair"]
    try:
        get_redis().delete(key)
    except Exception:
        with _fallback_lock:
            _fallback.pop(key, None)
