"""The push backend interface and the outcome of one delivery attempt."""
import enum
from dataclasses import dataclass
from typing import Protocol


class Outcome(str, enum.Enum):
    DELIVERED = "delivered"      # FCM accepted the message (message name returned)
    LOGGED = "logged"            # logging backend: recorded instead of sent
    RETRY = "retry"              # FCM answered but did not take the message (429, 5xx, auth): safe to resend
    TOKEN_DEAD = "token_dead"    # UNREGISTERED: the token must be retired
    PERMANENT = "permanent"      # the message itself is refused (400 INVALID_ARGUMENT, 403 SENDER_ID_MISMATCH)
    UNKNOWN = "unknown"          # the request may have reached FCM (read timeout, connection cut): never resend


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    message_name: str | None = None
    error_code: str | None = None
    detail: str = ""
    retry_after_s: float | None = None


class PushBackend(Protocol):
    name: str

    def send(self, token: str, message: dict) -> PushResult:
        """Make at most one delivery attempt of `message` (an FCM v1 message without its token) to `token`."""
        ...
