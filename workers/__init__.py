"""RQ jobs, queues, the push client and scheduled follow-ups. Placeholder until the push issue lands."""
from flask import Flask


def init_app(app: Flask) -> None:
    pass
