"""A console over a real PostgreSQL database: users of two 盟市, an elder in each."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from agent_console import create_app
from agent_console.server import ConsoleServer
from platform_core.accounts import service as accounts
from platform_core.actors import Role, system_actor
from platform_core.calls.models import AgentOffer, Call
from platform_core.db import utcnow
from platform_core.elders import service as elders
from platform_core.elders.idcard import make_id_number
from platform_core.elders.schemas import ContactIn, ElderIn, PhoneIn
from platform_core.ivr.models import IvrSession
from platform_core.runtime import Runtime

PASSWORD = "Steppe-Wind-2026"
HOHHOT, BAOTOU = "150100000000", "150200000000"
USERS = {
    # username: (role, region, interface)
    "agent_hhht": (Role.AGENT, HOHHOT, "PJSIP/8001"),
    "agent_bt": (Role.AGENT, BAOTOU, "PJSIP/8002"),
    "sup_hhht": (Role.SUPERVISOR, HOHHOT, "PJSIP/8101"),
    "sup_bt": (Role.SUPERVISOR, BAOTOU, "PJSIP/8102"),
    "admin_all": (Role.ADMIN, "150000000000", None),
    "officer_hhht": (Role.OFFICER, HOHHOT, None),
}


@dataclass
class World:
    runtime: Runtime
    users: dict[str, int] = field(default_factory=dict)
    elders: dict[str, int] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)


def _elder(
    rt: Runtime, *, name: str, region: str, area: str, seq: int, phone: str, contact_phone: str
) -> int:
    with rt.session() as s:
        data = ElderIn(
            name=name,
            id_number=make_id_number(area, date(1941, 3, 9), seq),
            address=f"{name}家 1号楼 3单元 502",
            region_code=region,
            living_arrangement="alone",
            phones=[PhoneIn(number=phone)],
            contacts=[
                ContactIn(name="王小明", relation="儿子", phone=contact_phone, holds_key=True)
            ],
        )
        return elders.register_elder(s, data=data, actor=system_actor()).id


@pytest.fixture
def world(regions: Runtime) -> World:
    w = World(regions)
    with regions.session() as s:
        for username, (role, region, interface) in USERS.items():
            w.users[username] = accounts.create_user(
                s,
                actor=system_actor(),
                username=username,
                password=PASSWORD,
                role=role,
                region_code=region,
                display_name=username,
                sip_interface=interface,
            ).id
    w.phones = {"hhht": "13900471001", "bt": "13900472002", "hhht_son": "13800471009"}
    w.elders["hhht"] = _elder(
        regions,
        name="巴特尔",
        region="150102000000",
        area="150102",
        seq=11,
        phone=w.phones["hhht"],
        contact_phone=w.phones["hhht_son"],
    )
    w.elders["bt"] = _elder(
        regions,
        name="其其格",
        region="150202000000",
        area="150202",
        seq=22,
        phone=w.phones["bt"],
        contact_phone="13800472008",
    )
    return w


@pytest.fixture
def app(world: World) -> Iterator[Flask]:
    app = create_app(world.runtime)
    app.testing = True
    yield app
    app.extensions["hotline_realtime"].stop_relay()


def csrf_of(html: str) -> str:
    match = re.search(
        r'<script type="application/json" id="page-config">(.*?)</script>', html, re.S
    )
    assert match, "page without config"
    return str(json.loads(match.group(1))["csrf"])


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form and return the CSRF token of the logged-in pages."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return csrf_of(client.get("/no-console").get_data(as_text=True))


@pytest.fixture
def live(app: Flask) -> Iterator[ConsoleServer]:
    server = ConsoleServer(app, "127.0.0.1", 0).start()
    yield server
    server.stop()


def http_login(
    base_url: str, username: str, password: str = PASSWORD
) -> tuple[requests.Session, str]:
    s = requests.Session()
    token = csrf_of(s.get(f"{base_url}/login").text)
    resp = s.post(
        f"{base_url}/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert resp.status_code == 302, resp.text
    return s, csrf_of(s.get(f"{base_url}/no-console").text)


def _queued_call(
    linkedid: str, number: str, region_code: str, queue: str, *, at: datetime, **fields: Any
) -> Call:
    return Call(
        linkedid=linkedid,
        uniqueid=linkedid,
        caller_number=number,
        region_code=region_code,
        started_at=at,
        queued_at=at,
        first_queue=queue,
        **fields,
    )


def answered_at_desk(
    rt: Runtime,
    linkedid: str,
    *,
    interface: str = "PJSIP/8001",
    caller_number: str = "13900471001",
    queue: str = "hotline-general",
    region_code: str = "150102000000",
) -> None:
    """The records of a call rung at and answered by the desk ``interface`` and since ended
    (orders and care processes attach only to a call answered at the user's own desk); the
    desk's state is left as it is."""
    now = utcnow()
    with rt.session() as s:
        s.add(
            _queued_call(
                linkedid,
                caller_number,
                region_code,
                queue,
                at=now,
                answered_at=now,
                answered_queue=queue,
                agent_interface=interface,
                outcome="answered",
                ended_at=now,
            )
        )
        s.flush()
        s.add(
            AgentOffer(
                dest_uniqueid=f"{linkedid}.1",
                linkedid=linkedid,
                queue=queue,
                interface=interface,
                offered_at=now,
                status="completed",
                connected_at=now,
                ended_at=now,
            )
        )


def recorded_call(
    rt: Runtime,
    linkedid: str,
    *,
    number: str,
    elder_id: int | None,
    kind: str | None,
    region: str = "150102000000",
) -> None:
    """A call ringing at agent_hhht's desk as callcenter recorded it, and the IVR's verdict on the
    caller (``kind`` None: the call skipped the IVR)."""
    now = utcnow()
    with rt.session() as s:
        s.add(_queued_call(linkedid, number, region, "hotline-general", at=now, elder_id=elder_id))
        if kind is not None:
            s.add(
                IvrSession(
                    uniqueid=linkedid,
                    linkedid=linkedid,
                    channel="PJSIP/trunk-00000001",
                    script="main",
                    caller_number=number,
                    region_code=region,
                    elder_id=elder_id,
                    caller_kind=kind,
                    outcome="handed_off",
                    started_at=now,
                    ended_at=now,
                )
            )
