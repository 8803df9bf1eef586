"""Bearer-token authentication of residents' devices (no account, no name)."""
from copy import deepcopy
from functools import wraps

from flask import g, request
from flask_smorest import abort
from sqlalchemy import bindparam, select

from models import Device, db
from service.accounts.devices import hash_secret


# Built once: every authenticated request runs it, and building a statement costs more than running this one.
_DEVICE_BY_TOKEN_HASH = select(Device).where(Device.token_hash == bindparam("token_hash"))


def _authenticate() -> Device | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return db.session.execute(_DEVICE_BY_TOKEN_HASH,
                              {"token_hash": hash_secret(token.strip())}).scalar_one_or_none()


def device_required(view):
    """401 without a valid `Authorization: Bearer <token>`; the device is then `current_device()`."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        device = _authenticate()
        if device is None:
            abort(401, message="Jeton d'appareil absent ou invalide (Authorization: Bearer <token>).",
                  headers={"WWW-Authenticate": 'Bearer realm="proxima"'})
        g.device = device
        return view(*args, **kwargs)
    _document_bearer(wrapper, view)
    return wrapper


def _document_bearer(wrapper, view) -> None:
    """Declare the bearer scheme and the 401 in the operation's OpenAPI entry (flask-smorest's `_apidoc`)."""
    apidoc = deepcopy(getattr(view, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    manual["security"] = [{"device": []}]
    manual.setdefault("responses", {})["401"] = "UNAUTHORIZED"  # the error shape, with WWW-Authenticate: Bearer
    wrapper._apidoc = apidoc


def current_device() -> Device:
    return g.device
