"""Development backend: writes the message to the log instead of sending it (no Google account needed)."""
import json
import logging

from service.followup.push.base import Outcome, PushResult

log = logging.getLogger("proxima.push")


class LoggingBackend:
    name = "log"

    def send(self, token: str, message: dict) -> PushResult:
        log.info("push (journal, non envoyé) token=…%s message=%s", token[-6:],
                 json.dumps(message, ensure_ascii=False, sort_keys=True))
        return PushResult(Outcome.LOGGED)
