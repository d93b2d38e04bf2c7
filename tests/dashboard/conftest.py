"""Dashboard fixtures: officers of each role, a signed-in client, a flows folder the test may write to."""
from __future__ import annotations

import re
import shutil

import pytest

from engage.officers import create_officer
from tests.conftest import LIBRARY
from tests.support.dashboard import cheap_password_hashing

_cheap_hashing = pytest.fixture(autouse=True)(cheap_password_hashing)

PASSWORD = "correct horse battery staple"


@pytest.fixture
def app_config(app_config, tmp_path):
    """Publish into a copy of the flow library, never into the repository's own folder."""
    folder = tmp_path / "flows"
    shutil.copytree(LIBRARY, folder)
    return {**app_config, "flows_dir": str(folder)}


@pytest.fixture
def officers(services, clock):
    """One account per role, by role name."""
    made = {}
    with services.db.session() as s:
        for role in ("admin", "officer", "viewer"):
            officer = create_officer(s, f"{role}@harlow.gov.uk", PASSWORD, role, now=clock.now())
            made[role] = officer.id
    return made


def csrf_token(html: str) -> str:
    """Read the CSRF token out of a rendered form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client, role: str, password: str = PASSWORD):
    """Sign in through the real form (CSRF token and all); return the response."""
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login", data={"email": f"{role}@harlow.gov.uk", "password": password, "csrf_token": token})


@pytest.fixture
def as_role(client, officers):
    """Return a function that signs the test client in with a role and hands back a CSRF token for forms."""

    def signed_in(role: str) -> str:
        response = sign_in(client, role)
        assert response.status_code == 302, response.get_data(as_text=True)
        home = client.get("/dashboard/")
        return csrf_token(home.get_data(as_text=True))

    return signed_in
