"""Residents' devices: registration, FCM token rotation, preferences."""
import hashlib
import secrets


from models import Device, PushToken, db
from service.platform import clock


def new_device_secret() -> tuple[str, str]:
    """A random bearer secret (shown once) and the hash that is stored."""
    secret = secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def register(platform: str, locale: str = "fr", fcm_token: str | None = None,
             preferences: dict | None = None) -> tuple[Device, str]:
    secret, token_hash = new_device_secret()
    device = Device(token_hash=token_hash, platform=platform, locale=locale, preferences=preferences or {})
    if fcm_token:
        device.push_tokens.append(PushToken(token=fcm_token))
    db.session.add(device)
    db.session.commit()
    return device, secret


def update(device: Device, fcm_token: str | None = None, locale: str | None = None,
           preferences: dict | None = None) -> Device:
    if fcm_token is not None:
        _replace_push_token(device, fcm_token)
    if locale is not None:
        device.locale = locale
    if preferences is not None:
        device.preferences = {**device.preferences, **preferences}
    device.last_seen_at = clock.now()
    db.session.commit()
    return device


def _replace_push_token(device: Device, fcm_token: str) -> None:
    """The app got a new FCM token: it replaces the old ones (FCM invalidates them on rotation)."""
    if any(t.active and t.token == fcm_token for t in device.push_tokens):
        return
    for token in device.active_push_tokens:
        token.active = False
        token.retired_at = clock.now()
        token.retired_reason = "replaced"
    device.push_tokens.append(PushToken(token=fcm_token))


def describe(device: Device) -> dict:
    return {"id": device.id, "platform": device.platform, "locale": device.locale,
            "preferences": device.preferences, "push_tokens": len(device.active_push_tokens)}
