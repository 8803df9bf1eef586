"""FCM HTTP v1 through pyfcm, bounded to one HTTP attempt per call; retries are the job queue's business.

pyfcm 2.1 sleeps and resends forever while FCM answers 429 with Retry-After, and its default adapter
retries 502/503 for minutes. `BoundedFCMNotification` keeps pyfcm's payload building, OAuth token and
session handling, and replaces only the sending loop; urllib3 retries are off (`max_retries=0`).
"""
import email.utils
import os
import threading
import time

import google.auth.transport.requests
import requests
from google.oauth2 import service_account
from pyfcm import FCMNotification
from pyfcm.errors import (AuthenticationError, FCMNotRegisteredError, FCMSenderIdMismatchError, FCMServerError,
                          InvalidDataError)
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from service.followup.push.base import Outcome, PushResult

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


class BoundedFCMNotification(FCMNotification):
    """pyfcm client that makes exactly one POST per `send_request`, against a configurable endpoint."""

    def __init__(self, credentials, project_id: str, endpoint: str, pool_size: int = 4):
        # max_retries=0: no urllib3 retry on connection errors or 502/503; one pool of kept-alive connections.
        adapter = HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=pool_size)
        super().__init__(credentials=credentials, project_id=project_id, adapter=adapter)
        self._fcm_end_point = f"{endpoint.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._token_lock = threading.Lock()
        self._rejected_token: str | None = None

    def _get_access_token(self):
        # pyfcm refreshes the token once per thread; the sending threads of a worker share one instead.
        with self._token_lock:
            if not self.credentials.valid or self.credentials.token == self._rejected_token:
                try:
                    self.credentials.refresh(google.auth.transport.requests.Request())
                except Exception as exc:
                    raise InvalidDataError(exc)
            return self.credentials.token

    @property
    def requests_session(self):
        session = super().requests_session
        if session.trust_env:
            # With trust_env requests scans os.environ for proxies and looks for ~/.netrc at every request:
            # a third of the CPU of a send. The environment is read once per session instead.
            session.proxies.update(get_environ_proxies(self._fcm_end_point))
            session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
            session.trust_env = False
        return session

    def send_request(self, payload=None, timeout=None):
        session = self.requests_session  # this thread's session; its Authorization header renewed when due
        # Session.post would merge settings and prepare URL and headers anew for every message: the request
        # is prepared once per thread and token, and each message only sets its body.
        template = getattr(self.thread_local, "template", None)
        if template is None or template.headers.get("Authorization") != session.headers.get("Authorization"):
            template = session.prepare_request(requests.Request("POST", self.fcm_end_point, data=b"{}"))
            self.thread_local.template = template
        request = template.copy()
        request.prepare_body(payload, None)
        response = session.send(request, timeout=timeout, allow_redirects=False)
        if self._is_access_token_expired(response):
            # Not delivered; the next attempt fetches a fresh token instead of resending now.
            self._rejected_token = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ")
            self.thread_local.token_expiry = 0
        return response


class FCMBackend:
    name = "fcm"

    def __init__(self, client: BoundedFCMNotification, timeout_s: float):
        self.client = client
        self.timeout_s = timeout_s

    @classmethod
    def from_service_account_file(cls, path: str, project_id: str | None, endpoint: str,
                                  timeout_s: float, pool_size: int = 4) -> "FCMBackend":
        credentials = service_account.Credentials.from_service_account_file(path, scopes=[FCM_SCOPE])
        project = project_id or credentials.project_id
        if not project:
            raise ValueError("FCM_PROJECT_ID absent et le fichier de compte de service n'a pas de project_id.")
        return cls(BoundedFCMNotification(credentials, project, endpoint, pool_size), timeout_s)

    def send(self, token: str, message: dict) -> PushResult:
        notification = message.get("notification") or {}
        try:
            payload = self.client.parse_payload(
                fcm_token=token, notification_title=notification.get("title"),
                notification_body=notification.get("body"), data_payload=message.get("data"),
                android_config=message.get("android"), apns_config=message.get("apns"))
        except InvalidDataError as exc:
            return PushResult(Outcome.PERMANENT, error_code="INVALID_PAYLOAD", detail=str(exc))
        try:
            response = self.client.send_request(payload, self.timeout_s)
        except InvalidDataError as exc:
            # pyfcm wraps OAuth token failures in InvalidDataError; nothing was sent to FCM.
            return PushResult(Outcome.RETRY, error_code="OAUTH_UNAVAILABLE", detail=str(exc)[:500])
        except requests.ConnectionError as exc:
            if _never_reached_server(exc):
                return PushResult(Outcome.RETRY, error_code="UNAVAILABLE", detail=str(exc)[:500])
            return PushResult(Outcome.UNKNOWN, error_code="CONNECTION_LOST", detail=str(exc)[:500])
        except requests.Timeout as exc:
            return PushResult(Outcome.UNKNOWN, error_code="TIMEOUT", detail=str(exc)[:500])
        return classify(self.client, response)


def classify(client: FCMNotification, response: requests.Response) -> PushResult:
    """Map FCM's answer to an outcome, through pyfcm's own response parsing."""
    try:
        body = client.parse_response(response)
    except FCMNotRegisteredError:
        return PushResult(Outcome.TOKEN_DEAD, error_code=_status(response, "UNREGISTERED"), detail=_text(response))
    except (InvalidDataError, FCMSenderIdMismatchError):
        return PushResult(Outcome.PERMANENT, error_code=_status(response, f"HTTP_{response.status_code}"),
                          detail=_text(response))
    except AuthenticationError:
        return PushResult(Outcome.RETRY, error_code=_status(response, "UNAUTHENTICATED"), detail=_text(response))
    except FCMServerError:
        return PushResult(Outcome.RETRY, error_code=_status(response, f"HTTP_{response.status_code}"),
                          detail=_text(response), retry_after_s=parse_retry_after(response.headers.get("Retry-After")))
    name = body.get("name") if isinstance(body, dict) else None
    if not name:
        # 200 without a message name: FCM took something; resending could duplicate it.
        return PushResult(Outcome.UNKNOWN, error_code="NO_MESSAGE_NAME", detail=_text(response))
    return PushResult(Outcome.DELIVERED, message_name=name)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _never_reached_server(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never made, so FCM cannot have received the message."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _status(response: requests.Response, default: str) -> str:
    """FCM's error status (INVALID_ARGUMENT, UNREGISTERED…), from the v1 error body when it has one."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return default
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("errorCode"):
            return detail["errorCode"]
    return error.get("status") or default


def _text(response: requests.Response) -> str:
    return (response.text or "")[:500]
