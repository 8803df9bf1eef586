"""Helpers for the console tests: officers, reports through the real intake, CSRF-aware logins."""
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from models import Report, Unit, db
from service.accounts import officers
from service.reports.intake import ReportSubmission, submit_report

PASSWORD = "correct horse battery staple"
# Points whose competent unit is known in the demo territory.
PARIS_4E = (48.8566, 2.3522)      # Hôtel de Ville → Commissariat de Paris 4e (PN-75104)
LYON_2E = (45.7578, 4.8320)       # Bellecour → Commissariat de Lyon 2e (PN-69382)
_CSRF = re.compile(r'name="[\w-]*csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="[\w-]*csrf_token"')


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in production: `g` (CSRF token, Flask-Login's user) and the
    request's database session are not shared with the test or with other requests."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()  # the test's own session must see what the request committed
        return response


@pytest.fixture
def console_client(app, db_session):
    return new_client(app)


def new_client(app) -> FreshContextClient:
    return FreshContextClient(app, app.response_class, use_cookies=True)


def unit(code: str) -> Unit:
    return db.session.scalar(select(Unit).where(Unit.code == code))


def make_officer(email: str, role: str = "agent", unit_code: str | None = "PN-75104"):
    return officers.create_officer(email, role, PASSWORD, unit=unit(unit_code) if unit_code else None,
                                   display_name=email.split("@")[0])


def make_report(category: str = "point_de_deal", at=PARIS_4E, description: str = "Deal au pied de l'immeuble",
                **kwargs) -> Report:
    result = submit_report(ReportSubmission(category_code=category, description=description, lat=at[0], lon=at[1],
                                            **kwargs))
    return db.session.get(Report, result.report.id)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in page"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = PASSWORD, next_url: str | None = None):
    page = client.get("/console/login")
    token = csrf_token(page.get_data(as_text=True))
    url = "/console/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"csrf_token": token, "email": email, "password": password})


def token_from(client, url: str = "/console/") -> str:
    return csrf_token(client.get(url).get_data(as_text=True))


def act(client, report_id: int, action: str, **fields):
    token = token_from(client)
    data = {f"{action}-csrf_token": token, **{f"{action}-{k}": v for k, v in fields.items()}}
    return client.post(f"/console/reports/{report_id}/actions/{action}", data=data)
