"""Development backend: logs that a message would have been sent instead of sending it (no Google account needed).

It logs the message's kind and report reference only: never its title, body or token, which are personal.
"""
import logging

from service.followup.push.base import Outcome, PushResult

log = logging.getLogger("proxima.push")


class LoggingBackend:
    name = "log"

    def send(self, token: str, message: dict) -> PushResult:
        data = message.get("data", {})
        log.info("push (journal, non envoyé) kind=%s reference=%s", data.get("kind"), data.get("reference"),
                 extra={"push_kind": data.get("kind"), "reference": data.get("reference")})
        return PushResult(Outcome.LOGGED)
