"""What the online channel's console tests share: the Hohhot elder's son with a family login
(invited by the hotline, invitation accepted), logged in through the family's own page, and a
small real photo."""

from __future__ import annotations

import requests
from flask.testing import FlaskClient

from platform_core.actors import Actor, Role
from platform_core.family import service as family
from tests.agent_console.conftest import csrf_of
from tests.platform_core.test_chats import png  # noqa: F401  (re-exported for the tests)

SON = "13800471009"
FAMILY_PASSWORD = "Grassland-Sky-2026"


def son_of_hohhot_elder(world) -> None:  # noqa: ANN001
    """The son of world's Hohhot elder, invited by a Hohhot agent, with his own login."""
    inviter = Actor(
        kind="user",
        name="agent_hhht",
        region_code="150100000000",
        role=Role.AGENT,
        user_id=world.users["agent_hhht"],
    )
    with world.runtime.session() as s:
        code = family.invite(
            s,
            actor=inviter,
            elder_id=world.elders["hhht"],
            name="王小明",
            phone=SON,
            relation="儿子",
        ).code
    with world.runtime.session() as s:
        family.accept_invitation(s, code=code, password=FAMILY_PASSWORD)


def family_login(client: FlaskClient) -> str:
    """Log the son in through /family/login; the CSRF token of his pages."""
    page = client.get("/family/login").get_data(as_text=True)
    resp = client.post(
        "/family/login",
        data={"csrf_token": csrf_of(page), "phone": SON, "password": FAMILY_PASSWORD},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_of(client.get("/family").get_data(as_text=True))


def family_http_login(base_url: str) -> tuple[requests.Session, str]:
    s = requests.Session()
    page = s.get(f"{base_url}/family/login").text
    resp = s.post(
        f"{base_url}/family/login",
        data={"csrf_token": csrf_of(page), "phone": SON, "password": FAMILY_PASSWORD},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text
    return s, csrf_of(s.get(f"{base_url}/family").text)
