"""A local FCM HTTP v1 test server on 127.0.0.1: the OAuth token endpoint and messages:send.

It records what it receives and answers what the test scripts: success (with a message name), 400
INVALID_ARGUMENT, 404 UNREGISTERED, 429 with Retry-After, 500, 503, optionally after a delay. Answers can
be scripted per registration token (a queue of answers, then the default) or for every message.
Also: `service_account_file()` writes a Google service-account JSON whose token_uri points here, with a
fresh RSA key, so pyfcm and google-auth run unpatched without any network.
"""
import itertools
import json
import re
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
TOKEN_PATH = "/token"

ERRORS = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"),
    401: ("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
    404: ("NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", "Quota exceeded for quota metric 'Send messages'."),
    500: ("INTERNAL", "INTERNAL", "Internal error encountered."),
    503: ("UNAVAILABLE", "UNAVAILABLE", "The service is currently unavailable."),
}


@dataclass(frozen=True)
class Answer:
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0

    @classmethod
    def ok(cls, delay_s: float = 0.0) -> "Answer":
        return cls(200, delay_s=delay_s)

    @classmethod
    def error(cls, status: int, retry_after: float | str | None = None, delay_s: float = 0.0) -> "Answer":
        return cls(status, None if retry_after is None else str(retry_after), delay_s)


@dataclass
class Received:
    project: str
    token: str | None
    message: dict
    body: dict
    headers: dict
    at: float
    status: int = 0
    name: str | None = None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a burst of new connections from the push workers' threads would
    # wait a SYN retransmission (1 s) for a place, which FCM itself never makes anyone do.
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # A client closing its kept-alive connection (wrk at the end of a run) is not an error of the server.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class FCMTestServer:
    """Start with `start()`, point FCM_ENDPOINT at `endpoint`, read `messages` and `token_requests`."""

    project_id: str = "proxima-test"
    messages: list[Received] = field(default_factory=list)
    token_requests: list[dict] = field(default_factory=list)
    default: Answer = field(default_factory=Answer.ok)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._by_token: dict[str, deque[Answer]] = defaultdict(deque)
        self._for_all: deque[Answer] = deque()
        self._ids = itertools.count(1)
        self._issued: set[str] = set()
        self._expired: set[str] = set()
        self.release = threading.Event()  # set() to let "hold" answers finish
        self.release.set()
        self.connections = 0
        self._server: ThreadingHTTPServer | None = None

    # --- control -----------------------------------------------------------------------------------
    def start(self) -> "FCMTestServer":
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        threading.Thread(target=server.serve_forever, name="fcm-test-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.token_requests.clear()
            self._by_token.clear()
            self._for_all.clear()
            self.default = Answer.ok()
            self.connections = 0
        self.release.set()

    def script(self, token: str | None, *answers: Answer) -> None:
        """Next answers for messages to `token` (or to any token when None), in order, then the default."""
        with self._lock:
            (self._by_token[token] if token else self._for_all).extend(answers)

    def expire_tokens(self) -> None:
        """Every OAuth token issued so far is now refused with 401 ACCESS_TOKEN_EXPIRED, as FCM does."""
        with self._lock:
            self._expired |= self._issued
            self._issued = set()

    def hold(self) -> None:
        """Keep answers with a delay waiting until `release.set()` (to kill a worker mid-call)."""
        self.release.clear()

    def sent_to(self, token: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.token == token]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"the FCM test server received {len(self.messages)} message(s), expected {count}")

    def service_account_file(self, path) -> str:
        """Write a service-account JSON for this server (new RSA key) and return its path."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        info = {
            "type": "service_account", "project_id": self.project_id, "private_key_id": "test-key",
            "private_key": pem, "client_email": f"proxima@{self.project_id}.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": self.endpoint + TOKEN_PATH,
        }
        with open(path, "w") as fh:
            json.dump(info, fh)
        return str(path)

    # --- server side -------------------------------------------------------------------------------
    def _next_answer(self, token: str | None) -> Answer:
        with self._lock:
            queue = self._by_token.get(token) if token else None
            if queue:
                return queue.popleft()
            if self._for_all:
                return self._for_all.popleft()
            return self.default

    def _issue_token(self, form: dict) -> str:
        with self._lock:
            self.token_requests.append(form)
            token = f"ya29.test-{next(self._ids)}"
            self._issued.add(token)
            return token

    def _was_issued(self, header: str | None) -> bool:
        with self._lock:
            return bool(header) and header[7:] in self._expired

    def _authorised(self, header: str | None) -> bool:
        with self._lock:
            return bool(header) and header.startswith("Bearer ") and header[7:] in self._issued


def _handler_for(server: FCMTestServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible
        # One write per response, no Nagle: otherwise delayed ACKs cap keep-alive clients at ~25 requests/s.
        wbufsize = 64 * 1024
        disable_nagle_algorithm = True

        def setup(self):
            super().setup()
            with server._lock:
                server.connections += 1

        def log_message(self, *args):  # quiet test output
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == TOKEN_PATH:
                return self._token(raw)
            match = SEND_PATH.match(self.path)
            if not match:
                return self._json(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no such path"}})
            if not server._authorised(self.headers.get("Authorization")):
                return self._error(401, expired=server._was_issued(self.headers.get("Authorization")))
            try:
                body = json.loads(raw)
                message = body["message"]
            except (ValueError, KeyError):
                return self._error(400)
            received = Received(project=match["project"], token=message.get("token"), message=message, body=body,
                                headers=dict(self.headers), at=time.time())
            with server._lock:
                server.messages.append(received)
            answer = server._next_answer(received.token)
            if answer.delay_s:
                # Wait for the delay, or until released when the test holds answers.
                deadline = time.monotonic() + answer.delay_s
                while time.monotonic() < deadline or not server.release.is_set():
                    time.sleep(0.01)
            received.status = answer.status
            if answer.status == 200:
                received.name = f"projects/{match['project']}/messages/{next(server._ids)}"
                return self._json(200, {"name": received.name})
            return self._error(answer.status, answer.retry_after)

        def _token(self, raw: bytes):
            from urllib.parse import parse_qs
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get("assertion"):
                return self._json(400, {"error": "invalid_grant"})
            token = server._issue_token(form)
            return self._json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        def _error(self, status: int, retry_after: str | None = None, expired: bool = False):
            status_name, code, text = ERRORS.get(status, ("UNKNOWN", "UNSPECIFIED_ERROR", "error"))
            body = {"error": {"code": status, "message": text, "status": status_name, "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]}}
            if expired:
                body["error"]["details"].append({"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                 "reason": "ACCESS_TOKEN_EXPIRED"})
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return self._json(status, body, headers)

        def _json(self, status: int, body: dict, headers: dict | None = None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler
