"""The online channel: a family member's message opens a conversation about the elder they
follow, the chat queue offers it to one ready agent of the elder's region at a time, the agent
takes it, answers, opens an order from it and closes it; it stays on the elder's record; its
KPIs are their own channel and leave the voice answer rate alone."""

from __future__ import annotations

import struct
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from platform_core.accounts import service as accounts
from platform_core.accounts.models import User
from platform_core.actors import Actor, Role, system_actor
from platform_core.audit import service as audit
from platform_core.calls import kpi as call_kpi
from platform_core.calls.models import Agent
from platform_core.chats import kpi as chat_kpi
from platform_core.chats import queue
from platform_core.chats import service as chats
from platform_core.chats.models import Chat, ChatMessage, ChatOffer
from platform_core.db import utcnow
from platform_core.errors import OutOfRegion, ValidationFailed
from platform_core.family import service as family
from platform_core.flows import care_orders
from platform_core.orders.models import ServiceOrder
from tests.platform_core import after_call_support as support
from tests.platform_core.after_call_support import SON_MOBILE

rt, world = support.rt, support.world  # the shared fixtures

HOHHOT, BAOTOU = "150100000000", "150200000000"
PASSWORD = "Grassland-Sky-2026"


def png(size: int = 64) -> bytes:
    """A real (tiny) PNG, padded with an ancillary chunk to ``size`` bytes or more."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
    body = chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")
    pad = max(0, size - len(head) - len(body) - 12)
    return head + (chunk(b"tEXt", b"c\x00" + b"x" * pad) if pad else b"") + body


def _desk_user(s, name: str, region: str, interface: str) -> int:
    return accounts.create_user(
        s,
        actor=system_actor(),
        username=name,
        password="Steppe-Wind-2026",
        role=Role.AGENT,
        region_code=region,
        display_name=name,
        sip_interface=interface,
    ).id


def _state(rt, interface: str, state: str, since=None) -> None:
    with rt.session() as s:
        agent = s.get(Agent, interface) or Agent(interface=interface, member_name=interface)
        agent.state, agent.since, agent.reason = state, since or utcnow(), None
        s.add(agent)


@pytest.fixture
def channel(rt, world):
    """The Hohhot elder's son with his family login, two Hohhot desks and a Baotou one."""
    with rt.session() as s:
        code = family.invite(
            s,
            actor=Actor(kind="user", name="坐席", region_code=HOHHOT, role=Role.AGENT, user_id=7),
            elder_id=world.elder,
            name="王小明",
            phone=SON_MOBILE,
            relation="儿子",
        ).code
    with rt.session() as s:
        family.accept_invitation(s, code=code, password=PASSWORD)
    with rt.session() as s:
        son = s.scalar(select(User).where(User.username == family.username_for(SON_MOBILE)))
        world.son = accounts.actor_for(son)
        world.desks = {
            "a": _desk_user(s, "hhht_a", HOHHOT, "PJSIP/8001"),
            "b": _desk_user(s, "hhht_b", HOHHOT, "PJSIP/8002"),
            "bt": _desk_user(s, "bt_a", BAOTOU, "PJSIP/8003"),
        }
        world.actors = {k: accounts.actor_for(s.get(User, uid)) for k, uid in world.desks.items()}
    return world


def _send(rt, w, text="我父亲家里水管漏水了", **kw) -> ChatMessage:
    with rt.session() as s:
        m = chats.send_as_family(s, actor=w.son, elder_id=w.elder, text=text, **kw)
        s.flush()
        return m


def _offers(rt) -> dict[int, int]:
    with rt.session() as s:
        return dict(
            s.execute(
                select(ChatOffer.chat_id, ChatOffer.user_id).where(ChatOffer.status == "offered")
            ).all()
        )


def test_a_message_opens_one_conversation_that_waits_sealed_with_its_photo_and_position(
    rt,
    channel,
) -> None:
    w = channel
    first = _send(rt, w, photo=png(), position=chats.Position(40.8414, 111.7519, 15))
    again = _send(rt, w, text="水已经流到楼下了")  # joins the open conversation
    assert first.chat_id == again.chat_id
    with rt.session() as s:
        chat = s.get(Chat, first.chat_id)
        assert (chat.status, chat.region_code, chat.sender_relation) == (
            "waiting",
            "150102003001",
            "儿子",
        )
        row = s.get(ChatMessage, first.id)
        assert "水管" not in (row.text_sealed or "") and "40.84" not in (row.position_sealed or "")
        assert row.photo_type == "image/png" and len(row.photo_sha256) == 64
        view = chats.family_view(s, actor=w.son)
        [mine] = view["chats"]
        assert [m["text"] for m in mine["messages"]] == ["我父亲家里水管漏水了", "水已经流到楼下了"]
        assert mine["messages"][0]["position"]["latitude"] == 40.8414
        assert audit.list_records(s, action="chat.open")
        data, kind = chats.read_photo(s, actor=w.son, chat_id=chat.id, message_id=first.id)
        assert kind == "image/png" and data.startswith(b"\x89PNG")


def test_bad_input_is_refused_in_chinese_and_nothing_is_kept(rt, channel) -> None:
    w = channel
    cases = [
        ({"text": "  "}, "message_empty"),
        ({"text": "长" * 1001}, "message_too_long"),
        ({"text": "看照片", "photo": b"GIF89a" + b"\x00" * 50}, "photo_type_not_allowed"),
        ({"text": "看照片", "photo": png(6 * 1024 * 1024)}, "photo_too_large"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ValidationFailed) as err, rt.session() as s:
            chats.send_as_family(s, actor=w.son, elder_id=w.elder, **kwargs)
        assert err.value.code == code
        assert any("\u4e00" <= ch <= "\u9fff" for ch in err.value.message)
    with pytest.raises(ValidationFailed) as err:
        chats.check_position(91.0, 111.0)
    assert err.value.code == "invalid_position"
    with rt.session() as s:
        assert s.scalar(select(Chat)) is None


def test_a_family_member_writes_only_about_the_elders_they_follow(rt, channel) -> None:
    w = channel
    with rt.session() as s, pytest.raises(family.FamilyElderNotFound):
        chats.send_as_family(s, actor=w.son, elder_id=w.poor_elder, text="你好")
    with rt.session() as s:
        assert audit.list_records(s, action="chat.send")[0].result == "denied"


def test_the_queue_offers_one_ready_desk_of_the_region_at_a_time_and_lapses_to_the_next(
    rt,
    channel,
) -> None:
    w = channel
    chat_id = _send(rt, w).chat_id
    with rt.session() as s:
        assert queue.route(s).offered == []  # nobody ready: it waits
        assert not queue.has_work(s)  # and costs the router no pass until a desk is ready
    start = utcnow()
    _state(rt, "PJSIP/8003", "ready", since=start - timedelta(minutes=9))  # Baotou: never
    _state(rt, "PJSIP/8002", "ready", since=start - timedelta(minutes=5))
    _state(rt, "PJSIP/8001", "ready", since=start - timedelta(minutes=1))
    with rt.session() as s:
        assert len(queue.route(s).offered) == 1
    assert _offers(rt) == {chat_id: w.desks["b"]}  # the longest ready of Hohhot
    with rt.session() as s:
        assert chats.desk_chats(s, user_id=w.desks["b"])["offer"]["chat_id"] == chat_id
        assert queue.route(s).offered == []  # one reservation per conversation
    later = utcnow() + timedelta(seconds=rt.settings.chat_offer_timeout_s + 1)
    with rt.session() as s:
        done = queue.route(s, now=later)
    assert len(done.lapsed) == 1 and done.commands == []  # a chat never pauses the phone
    assert _offers(rt) == {chat_id: w.desks["a"]}
    # the desk that let it lapse is offered nothing until it is ready again
    with rt.session() as s:
        desks = [d.user_id for d in queue._ready_desks(s)]
    assert w.desks["b"] not in desks


def test_take_answer_order_close_and_the_elders_record(rt, channel) -> None:
    w = channel
    chat_id = _send(rt, w, position=chats.Position(40.8414, 111.7519)).chat_id
    _state(rt, "PJSIP/8001", "ready")
    with rt.session() as s:
        queue.route(s)
    with rt.session() as s, pytest.raises(OutOfRegion):
        chats.take(s, actor=w.actors["bt"], chat_id=chat_id)
    with rt.session() as s:
        chats.take(s, actor=w.actors["a"], chat_id=chat_id)
    with rt.session() as s, pytest.raises(chats.ChatNotWaiting):
        chats.take(s, actor=w.actors["b"], chat_id=chat_id)
    with rt.session() as s:
        offer = s.scalar(select(ChatOffer))
        assert offer.status == "taken"
        with pytest.raises(chats.NotYourChat):
            chats.reply(s, actor=w.actors["b"], chat_id=chat_id, text="您好")
    with rt.session() as s:
        chats.reply(s, actor=w.actors["a"], chat_id=chat_id, text="您好, 马上安排维修")
        opened = care_orders.open_chat_order(
            s,
            actor=w.actors["a"],
            chat_id=chat_id,
            service_type_code="care_cleaning",
            notes="家属在线反映",
        )
        order_id = opened.order.id
        again = care_orders.open_chat_order(  # a second click names the order of the first
            s, actor=w.actors["a"], chat_id=chat_id, service_type_code="care_cleaning"
        )
        assert again.already_open and again.order.id == order_id
    with rt.session() as s:
        order = s.get(ServiceOrder, order_id)
        assert (order.source, order.source_ref, order.elder_id) == (
            "online",
            f"chat-{chat_id}",
            w.elder,
        )
        view = chats.conversation(s, actor=w.actors["a"], chat_id=chat_id)
        assert view["mine"] and view["sender_name"] == "王**"
        assert view["sender_phone"] == "138****1009"
        assert view["messages"][0]["position"]["longitude"] == 111.7519
        with pytest.raises(chats.NotYourChat):
            care_orders.open_chat_order(
                s, actor=w.actors["b"], chat_id=chat_id, service_type_code="care_cleaning"
            )
    with rt.session() as s:
        chats.close(s, actor=w.actors["a"], chat_id=chat_id)
    # the family member's next message opens a new conversation
    assert _send(rt, w, text="谢谢").chat_id != chat_id
    with rt.session() as s:
        officer = Actor(kind="user", name="民政", region_code=HOHHOT, role=Role.OFFICER, user_id=3)
        history = chats.history_for_elder(s, actor=officer, elder_id=w.elder)
        assert [h["status"] for h in history] == ["waiting", "closed"]
        assert history[1]["messages"][1]["text"] == "您好, 马上安排维修"
        assert history[1]["messages"][0]["position"] == {"sent": True}  # not on the record
        assert audit.list_records(s, action="chat.history")
        with pytest.raises(OutOfRegion):
            chats.history_for_elder(s, actor=w.actors["bt"], elder_id=w.elder)


def test_kpis_count_the_channel_on_its_own(rt, channel) -> None:
    w = channel
    target = rt.settings.chat_answer_target_s
    ids = [_send(rt, w, text=f"第{n}条").chat_id for n in range(1)]
    with rt.session() as s:
        chats.take(s, actor=w.actors["a"], chat_id=ids[0])  # answered at once
        chats.close(s, actor=w.actors["a"], chat_id=ids[0])
    late = _send(rt, w, text="晚接").chat_id
    with rt.session() as s:
        s.get(Chat, late).opened_at = utcnow() - timedelta(seconds=target + 30)
    with rt.session() as s:
        chats.take(s, actor=w.actors["b"], chat_id=late)
        chats.close(s, actor=w.actors["b"], chat_id=late)
    gone = _send(rt, w, text="算了").chat_id
    with rt.session() as s:
        s.get(Chat, gone).opened_at = utcnow() - timedelta(seconds=target + 5)
        chats.withdraw(s, actor=w.son, chat_id=gone)
    _send(rt, w, text="刚发的")  # still waiting, younger than the target: not counted yet
    start, end = utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1)
    with rt.session() as s:
        k = chat_kpi.kpi(s, start=start, end=end, region_code=HOHHOT)
        voice = call_kpi.kpi_report(s, start=start, end=end, region_code=HOHHOT).total
        baotou = chat_kpi.kpi(s, start=start, end=end, region_code=BAOTOU)
    assert (k["offered"], k["pending"], k["counted"]) == (4, 1, 3)
    assert (k["answered"], k["answered_within_target"], k["abandoned"]) == (2, 1, 1)
    assert k["within_target_rate"] == round(1 / 3, 4) and k["target_s"] == target
    assert baotou["offered"] == 0
    assert voice.offered == 0  # conversations are not calls: the voice answer rate is untouched
