"""Push delivery behind a small interface: the real pyfcm backend, or a logging one when FCM is not configured.

`get_backend()` returns one backend per process and configuration, so a worker keeps a single OAuth token
and one pool of kept-alive HTTP connections (shared by its sending threads) for all the messages it sends.
"""
import threading

from flask import current_app

from service.followup.push.base import Outcome, PushBackend, PushResult  # noqa: F401
from service.followup.push.fcm import FCMBackend
from service.followup.push.log_backend import LoggingBackend


_backends: dict[tuple, PushBackend] = {}
_lock = threading.Lock()


def backend_key(config) -> tuple:
    return (config.get("FCM_CREDENTIALS_FILE"), config.get("FCM_PROJECT_ID"), config.get("FCM_ENDPOINT"),
            config["PUSH_HTTP_TIMEOUT_S"], config["PUSH_SEND_THREADS"])


def get_backend(config=None) -> PushBackend:
    """The backend the configuration asks for: pyfcm with credentials, the logging backend without."""
    config = config if config is not None else current_app.config
    key = backend_key(config)
    with _lock:
        backend = _backends.get(key)
        if backend is None:
            backend = _build(config)
            _backends[key] = backend
        return backend


def _build(config) -> PushBackend:
    if config.get("FCM_CREDENTIALS_FILE"):
        return FCMBackend.from_service_account_file(
            config["FCM_CREDENTIALS_FILE"], project_id=config.get("FCM_PROJECT_ID"),
            endpoint=config.get("FCM_ENDPOINT") or "https://fcm.googleapis.com",
            timeout_s=config["PUSH_HTTP_TIMEOUT_S"],
            # As many kept-alive connections as the worker keeps calls in flight (workers/push.py).
            pool_size=config["PUSH_SEND_THREADS"])
    return LoggingBackend()
