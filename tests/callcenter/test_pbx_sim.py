"""The simulator's fidelity to Asterisk 20's AMI, read as raw bytes from a plain TCP socket.

Expected field lists and orders are written here from reference/asterisk/AMI-FIELDS.md (the
wire, which follows the source where the docs differ) and the shapes of the captures.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from callcenter.pbx_sim import CallerConfig, PbxSimulator
from callcenter.pbx_sim.server import AmiServer
from tests.callcenter.conftest import SECRET, sim_config

SNAPSHOT = [
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
]
DEST = ["Dest" + k for k in SNAPSHOT]
HEAD = ["Event", "Privilege", "Timestamp"]
MEMBER_BODY = [
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
]
BRIDGE = [
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
]
EXPECTED_ORDER = {
    "Newchannel": HEAD + SNAPSHOT,
    "QueueCallerJoin": HEAD + SNAPSHOT + ["Queue", "Position", "Count"],
    "QueueCallerLeave": HEAD + SNAPSHOT + ["Queue", "Position", "Count"],
    "QueueCallerAbandon": HEAD + SNAPSHOT + ["Queue", "Position", "OriginalPosition", "HoldTime"],
    "AgentCalled": HEAD + SNAPSHOT + DEST + ["Queue", "Interface", "MemberName"],
    "AgentConnect": HEAD
    + SNAPSHOT
    + DEST
    + ["Queue", "Interface", "MemberName", "HoldTime", "RingTime"],
    "AgentComplete": HEAD
    + SNAPSHOT
    + DEST
    + ["Queue", "Interface", "MemberName", "HoldTime", "TalkTime", "Reason"],
    "AgentRingNoAnswer": HEAD + SNAPSHOT + DEST + ["Queue", "Interface", "MemberName", "RingTime"],
    "DialBegin": HEAD + SNAPSHOT + DEST + ["DialString"],
    "DialEnd": HEAD + SNAPSHOT + DEST + ["DialStatus"],
    "Hangup": HEAD + SNAPSHOT + ["Cause", "Cause-txt"],
    "VarSet": HEAD + SNAPSHOT + ["Variable", "Value"],
    "QueueMemberStatus": HEAD + MEMBER_BODY,
    "QueueMemberPause": HEAD + MEMBER_BODY,
    "QueueMemberAdded": HEAD + MEMBER_BODY,
    "BridgeEnter": HEAD + BRIDGE + SNAPSHOT,
    "BridgeCreate": HEAD + BRIDGE,
}
PRIVILEGE = {
    "QueueCallerJoin": "agent,all",
    "AgentCalled": "agent,all",
    "Newchannel": "call,all",
    "VarSet": "dialplan,all",
    "QueueMemberStatus": "agent,all",
    "Hangup": "call,all",
}


class Raw:
    """A bare AMI client: writes actions, reads CRLF-framed messages as ordered pairs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.raw = b""

    @classmethod
    async def open(cls, port: int) -> Raw:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        return cls(r, w)

    async def banner(self) -> bytes:
        return await self.reader.readline()

    def send(self, *pairs: tuple[str, str]) -> None:
        self.writer.write(("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode())

    async def read(self, timeout: float = 5) -> list[tuple[str, str]]:
        data = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        self.raw += data
        assert b"\n" not in data.replace(b"\r\n", b""), "bare LF inside a message"
        pairs = []
        for line in data.decode().split("\r\n"):
            if line:
                k, _, v = line.partition(": ")
                pairs.append((k, v))
        return pairs

    async def until(self, predicate: Any, timeout: float = 5) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.read(max(0.01, deadline - time.monotonic()))
            if predicate(dict(msg)):
                return msg

    async def login(self, secret: str = SECRET) -> list[tuple[str, str]]:
        self.send(
            ("Action", "Login"), ("ActionID", "l1"), ("Username", "hotline"), ("Secret", secret)
        )
        return await self.read()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def _server(**changes: Any) -> tuple[PbxSimulator, AmiServer]:
    pbx = PbxSimulator(sim_config(**changes))
    server = AmiServer(pbx)
    await server.start()
    return pbx, server


def test_banner_login_fullybooted_ping_and_errors() -> None:
    async def main() -> None:
        pbx, server = await _server()
        c = await Raw.open(server.port)
        assert await c.banner() == b"Asterisk Call Manager/9.0.0\r\n"
        c.send(("Action", "Ping"), ("ActionID", "p0"))
        assert await c.read() == [
            ("Response", "Error"),
            ("ActionID", "p0"),
            ("Message", "Permission denied"),
        ]
        assert await c.login() == [
            ("Response", "Success"),
            ("ActionID", "l1"),
            ("Message", "Authentication accepted"),
        ]
        booted = await c.read()
        assert [k for k, _ in booted] == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
        assert dict(booted)["Status"] == "Fully Booted"
        c.send(("Action", "Ping"), ("ActionID", "p1"))
        pong = await c.read()
        assert [k for k, _ in pong] == ["Response", "ActionID", "Ping", "Timestamp"] and dict(pong)[
            "Ping"
        ] == "Pong"
        c.send(("Action", "Frobnicate"), ("ActionID", "x"))
        assert dict(await c.read())["Message"] == (
            "Invalid/unknown command: Frobnicate. Use Action: ListCommands to show available commands."
        )
        c.send(
            ("ActionID", "y"),
        )
        assert dict(await c.read())["Message"] == "Missing action in request"
        c.send(("Action", "Login"), ("ActionID", "l2"), ("Username", "hotline"), ("Secret", SECRET))
        assert dict(await c.read())["Message"] == "Already authenticated"
        c.send(("Action", "Logoff"), ("ActionID", "bye"))
        assert await c.read() == [
            ("Response", "Goodbye"),
            ("ActionID", "bye"),
            ("Message", "Thanks for all the fish."),
        ]
        assert await c.reader.read() == b""
        await server.stop()

    run(main())


def test_md5_challenge_login_and_failed_login_delay_then_close() -> None:
    async def main() -> float:
        pbx, server = await _server(failed_login_delay=0.5)
        c = await Raw.open(server.port)
        await c.banner()
        c.send(("Action", "Challenge"), ("AuthType", "MD5"), ("ActionID", "c1"))
        ch = await c.read()
        assert [k for k, _ in ch] == ["Response", "ActionID", "Challenge"]
        key = hashlib.md5((dict(ch)["Challenge"] + SECRET).encode()).hexdigest()
        c.send(
            ("Action", "Login"),
            ("AuthType", "MD5"),
            ("Username", "hotline"),
            ("Key", key),
            ("ActionID", "l1"),
        )
        assert dict(await c.read())["Message"] == "Authentication accepted"
        bad = await Raw.open(server.port)
        await bad.banner()
        t0 = time.monotonic()
        assert await bad.login("wrong") == [
            ("Response", "Error"),
            ("ActionID", "l1"),
            ("Message", "Authentication failed"),
        ]
        elapsed = time.monotonic() - t0
        assert await bad.reader.read() == b""  # then the socket is closed
        await server.stop()
        return elapsed

    assert run(main()) >= 0.45


def test_list_actions_ack_items_complete_and_actionid_placement() -> None:
    async def main() -> None:
        cfg = sim_config(agents=1)
        cfg.agents[0].paused = True
        cfg.agents[0].paused_reason = "午餐"
        pbx = PbxSimulator(cfg)
        server = AmiServer(pbx)
        await server.start()
        c = await Raw.open(server.port)
        await c.banner()
        await c.login()
        await c.read()
        pbx.place_call(CallerConfig(number="13800000001", name="张三丰"))
        await asyncio.sleep(0.2)
        c.send(("Action", "QueueStatus"), ("ActionID", "qs"))
        ack = await c.until(lambda m: m.get("ActionID") == "qs" and "Response" in m)
        assert ack == [
            ("Response", "Success"),
            ("ActionID", "qs"),
            ("EventList", "start"),
            ("Message", "Queue status will follow"),
        ]
        items = []
        while True:
            m = await c.until(lambda m: m.get("ActionID") == "qs")
            if dict(m)["Event"] == "QueueStatusComplete":
                assert m == [
                    ("Event", "QueueStatusComplete"),
                    ("ActionID", "qs"),
                    ("EventList", "Complete"),
                    ("ListItems", str(len(items))),
                ]
                break
            items.append(m)
        kinds = [dict(m)["Event"] for m in items]
        assert kinds == ["QueueParams", "QueueMember", "QueueParams", "QueueMember", "QueueEntry"]
        for m in items:
            assert m[-1] == ("ActionID", "qs") and "Privilege" not in dict(m)
        assert [k for k, _ in items[0]] == [
            "Event",
            "Queue",
            "Max",
            "Strategy",
            "Calls",
            "Holdtime",
            "TalkTime",
            "Completed",
            "Abandoned",
            "ServiceLevel",
            "ServicelevelPerf",
            "ServicelevelPerf2",
            "Weight",
            "ActionID",
        ]
        assert [k for k, _ in items[1]] == [
            "Event",
            "Queue",
            "Name",
            "Location",
            "StateInterface",
            "Membership",
            "Penalty",
            "CallsTaken",
            "LastCall",
            "LastPause",
            "LoginTime",
            "InCall",
            "Status",
            "Paused",
            "PausedReason",
            "Wrapuptime",
            "ActionID",
        ]
        assert dict(items[1])["PausedReason"] == "午餐"
        entry = dict(items[4])
        assert [k for k, _ in items[4]] == [
            "Event",
            "Queue",
            "Position",
            "Channel",
            "Uniqueid",
            "CallerIDNum",
            "CallerIDName",
            "ConnectedLineNum",
            "ConnectedLineName",
            "Wait",
            "Priority",
            "ActionID",
        ]
        assert (entry["CallerIDName"], entry["ConnectedLineNum"]) == ("张三丰", "unknown")

        c.send(("Action", "CoreShowChannels"), ("ActionID", "cs"))
        await c.until(lambda m: m.get("ActionID") == "cs" and m.get("EventList") == "start")
        chan = await c.until(lambda m: m.get("ActionID") == "cs")
        assert [k for k, _ in chan] == [
            "Event",
            "ActionID",
            *SNAPSHOT,
            "Application",
            "ApplicationData",
            "Duration",
            "BridgeId",
        ]
        assert dict(chan)["Application"] == "Queue"
        done = await c.until(lambda m: m.get("ActionID") == "cs" and "EventList" in m)
        assert done == [
            ("Event", "CoreShowChannelsComplete"),
            ("ActionID", "cs"),
            ("EventList", "Complete"),
            ("ListItems", "1"),
        ]

        c.send(("Action", "QueueSummary"), ("ActionID", "sum"))
        await c.until(lambda m: m.get("ActionID") == "sum" and m.get("EventList") == "start")
        s = await c.until(lambda m: m.get("ActionID") == "sum")
        assert [k for k, _ in s] == [
            "Event",
            "Queue",
            "LoggedIn",
            "Available",
            "Callers",
            "HoldTime",
            "TalkTime",
            "LongestHoldTime",
            "ActionID",
        ]
        await server.stop()

    run(main())


def _keys(fields: list[tuple[str, str]]) -> list[str]:
    return [k for k, _ in fields]


def test_event_sequences_and_field_orders_of_real_calls() -> None:
    """Answered, ring-no-answer then answered, abandoned: names, orders, privileges, units."""

    async def main() -> PbxSimulator:
        cfg = sim_config(agents=2)
        cfg.agents[0].answer_after = None
        pbx = PbxSimulator(cfg)
        pbx.record = []
        pbx.bind_loop(asyncio.get_running_loop())
        answered = pbx.place_call(CallerConfig(number="13800000001", name="张三丰", talk=20))
        await asyncio.wait_for(answered.done, 10)
        pbx.set_phone("PJSIP/8002", answer_after=None)
        abandoned = pbx.place_call(CallerConfig(number="13800000002", name="李四", patience=5))
        await asyncio.wait_for(abandoned.done, 10)
        await pbx.stop()
        return pbx

    pbx = run(main())
    record = pbx.record
    names = [n for n, _ in record]
    for name, fields in record:
        if name in EXPECTED_ORDER:
            assert _keys(fields) == EXPECTED_ORDER[name], name
        if name in PRIVILEGE:
            assert fields[1] == ("Privilege", PRIVILEGE[name])
    queue_events = [
        n for n in names if n.startswith(("Queue", "Agent")) and n != "QueueMemberStatus"
    ]
    assert queue_events == [
        "QueueCallerJoin",
        "AgentCalled",
        "AgentRingNoAnswer",
        "AgentCalled",
        "QueueCallerLeave",
        "AgentConnect",
        "AgentComplete",
        "QueueCallerJoin",
        "AgentCalled",
        "QueueCallerAbandon",
        "QueueCallerLeave",
    ]
    first = names.index("AgentConnect")
    assert names[first - 3 : first + 4] == [
        "DialEnd",
        "MusicOnHoldStop",
        "QueueCallerLeave",
        "AgentConnect",
        "BridgeCreate",
        "BridgeEnter",
        "BridgeEnter",
    ]
    complete = names.index("AgentComplete")
    assert names[complete : complete + 5] == [
        "AgentComplete",
        "BridgeLeave",
        "BridgeLeave",
        "BridgeDestroy",
        "Hangup",
    ]
    rna = dict(record[names.index("AgentRingNoAnswer")][1])
    assert rna["RingTime"] == "15000"  # milliseconds
    connect = dict(record[first][1])
    assert (
        connect["Uniqueid"]
        == connect["Linkedid"]
        == connect["DestLinkedid"]
        != connect["DestUniqueid"]
    )
    assert connect["CallerIDName"] == "张三丰" and connect["ConnectedLineName"] == "李娜"
    assert int(connect["RingTime"]) == 2 and int(connect["HoldTime"]) >= 15 + 3 + 2  # seconds here
    assert dict(record[complete][1])["Reason"] == "caller"
    abandon = dict(record[names.index("QueueCallerAbandon")][1])
    assert (abandon["Position"], abandon["OriginalPosition"], abandon["HoldTime"]) == (
        "1",
        "1",
        "5",
    )
    newchannel = dict(record[0][1])
    assert (newchannel["ChannelState"], newchannel["ConnectedLineNum"], newchannel["Context"]) == (
        "0",
        "<unknown>",
        "hotline-inbound",
    )


def test_channelvars_print_chanvariable_lines_and_classes_filter_events() -> None:
    async def main() -> list[list[tuple[str, str]]]:
        pbx, server = await _server(channelvars=["HOTLINE_ELDER_ID", "HOTLINE_QUEUE"])
        pbx.config.users["hotline"].read = "agent"
        c = await Raw.open(server.port)
        await c.banner()
        await c.login()
        pbx.place_call(
            CallerConfig(number="13800000001", variables={"HOTLINE_ELDER_ID": "9"}, talk=1)
        )
        got = [await c.read() for _ in range(3)]
        await server.stop()
        return got

    msgs = run(main())
    join = msgs[0]
    assert dict(join)["Event"] == "QueueCallerJoin"  # agent class only: no Newchannel, no VarSet
    assert [v for k, v in join if k == "ChanVariable"] == [
        "HOTLINE_ELDER_ID=9",
        "HOTLINE_QUEUE=hotline-general",
    ]
    assert _keys(join)[3 + 14 : 3 + 16] == ["ChanVariable", "ChanVariable"]


def test_member_actions_and_their_confirming_events() -> None:
    async def main() -> None:
        pbx, server = await _server(agents=0)
        c = await Raw.open(server.port)
        await c.banner()
        await c.login()
        await c.read()
        c.send(
            ("Action", "QueueAdd"),
            ("ActionID", "a1"),
            ("Queue", "hotline-general"),
            ("Interface", "PJSIP/8009"),
            ("MemberName", "新人"),
        )
        assert await c.until(lambda m: m.get("ActionID") == "a1") == [
            ("Response", "Success"),
            ("ActionID", "a1"),
            ("Message", "Added interface to queue"),
        ]
        added = await c.until(lambda m: m.get("Event") == "QueueMemberAdded")
        assert (
            _keys(added) == EXPECTED_ORDER["QueueMemberAdded"]
            and dict(added)["MemberName"] == "新人"
        )
        c.send(
            ("Action", "QueueAdd"),
            ("ActionID", "a2"),
            ("Queue", "hotline-general"),
            ("Interface", "PJSIP/8009"),
        )
        assert (
            dict(await c.until(lambda m: m.get("ActionID") == "a2"))["Message"]
            == "Unable to add interface: Already there"
        )
        c.send(
            ("Action", "QueueAdd"),
            ("ActionID", "a3"),
            ("Queue", "nope"),
            ("Interface", "PJSIP/8009"),
        )
        assert dict(await c.until(lambda m: m.get("ActionID") == "a3"))["Message"] == (
            "Unable to add interface to queue: No such queue"
        )
        c.send(
            ("Action", "QueuePause"),
            ("ActionID", "p1"),
            ("Interface", "PJSIP/8009"),
            ("Paused", "true"),
            ("Reason", "午餐"),
        )
        assert (
            dict(await c.until(lambda m: m.get("ActionID") == "p1"))["Message"]
            == "Interface paused successfully"
        )
        pause = dict(await c.until(lambda m: m.get("Event") == "QueueMemberPause"))
        assert (pause["Paused"], pause["PausedReason"]) == ("1", "午餐")
        c.send(
            ("Action", "QueuePause"),
            ("ActionID", "p2"),
            ("Interface", "PJSIP/9999"),
            ("Paused", "false"),
        )
        assert (
            dict(await c.until(lambda m: m.get("ActionID") == "p2"))["Message"]
            == "Interface not found"
        )
        c.send(
            ("Action", "QueueRemove"),
            ("ActionID", "r1"),
            ("Queue", "hotline-general"),
            ("Interface", "PJSIP/8009"),
        )
        assert (
            dict(await c.until(lambda m: m.get("ActionID") == "r1"))["Message"]
            == "Removed interface from queue"
        )
        assert (
            dict(await c.until(lambda m: m.get("Event") == "QueueMemberRemoved"))["Interface"]
            == "PJSIP/8009"
        )
        c.send(
            ("Action", "UserEvent"), ("ActionID", "u1"), ("UserEvent", "Shift"), ("Lead", "巴特尔")
        )
        assert await c.until(lambda m: m.get("ActionID") == "u1" and "Response" in m) == [
            ("Response", "Success"),
            ("ActionID", "u1"),
            ("Message", "Event Sent"),
        ]
        ue = await c.until(lambda m: m.get("Event") == "UserEvent")
        assert ue[:2] == [("Event", "UserEvent"), ("Privilege", "user,all")]
        assert (
            ("UserEvent", "Shift") in ue and ("Lead", "巴特尔") in ue and ("ActionID", "u1") in ue
        )
        c.send(("Action", "Hangup"), ("ActionID", "h1"), ("Channel", "PJSIP/none-00000001"))
        assert (
            dict(await c.until(lambda m: m.get("ActionID") == "h1"))["Message"] == "No such channel"
        )
        await server.stop()

    run(main())


def test_async_originate_then_originate_response_with_the_same_actionid() -> None:
    async def main() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        pbx, server = await _server(agents=1)
        pbx.config.phones["13800000009"] = type(pbx.config.default_phone)(answer_after=1, talk=2)
        c = await Raw.open(server.port)
        await c.banner()
        await c.login()
        c.send(
            ("Action", "Originate"),
            ("ActionID", "o1"),
            ("Channel", "PJSIP/8001"),
            ("Context", "hotline-callback"),
            ("Exten", "13800000009"),
            ("Priority", "1"),
            ("Async", "true"),
            ("Variable", "HOTLINE_RECALL_ID=5"),
        )
        ack = await c.until(lambda m: m.get("ActionID") == "o1")
        resp = await c.until(lambda m: m.get("Event") == "OriginateResponse")
        dial = await c.until(lambda m: m.get("Event") == "DialEnd")
        c.send(
            ("Action", "Originate"),
            ("ActionID", "o2"),
            ("Channel", "PJSIP/8055"),
            ("Context", "hotline-callback"),
            ("Exten", "1"),
            ("Async", "true"),
            ("Timeout", "2000"),
        )
        failed = await c.until(
            lambda m: m.get("Event") == "OriginateResponse" and m.get("ActionID") == "o2",
            timeout=10,
        )
        await server.stop()
        return ack + resp + dial, failed

    (ok, failed) = run(main())
    assert ok[:3] == [
        ("Response", "Success"),
        ("ActionID", "o1"),
        ("Message", "Originate successfully queued"),
    ]
    resp = ok[3 : 3 + 13]
    assert _keys(resp)[:11] == [
        "Event",
        "Privilege",
        "Timestamp",
        "ActionID",
        "Response",
        "Channel",
        "Context",
        "Exten",
        "Reason",
        "Uniqueid",
        "CallerIDNum",
    ]
    assert (dict(resp)["Response"], dict(resp)["Reason"]) == ("Success", "4")
    assert dict(failed)["Response"] == "Failure" and dict(failed)["Reason"] == "3"


def test_slow_reader_is_dropped_like_asterisks_write_timeout() -> None:
    async def main() -> int:
        pbx, server = await _server(agents=1, write_timeout_ms=100)
        c = await Raw.open(server.port)
        await c.banner()
        await c.login()
        # Stop reading while a burst far larger than the socket buffers is written.
        for i in range(20000):
            pbx.user_event([("UserEvent", "Burst"), ("Seq", str(i)), ("Pad", "x" * 1000)])
        deadline = time.monotonic() + 10
        while not server.dropped_slow and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        dropped = server.dropped_slow
        await server.stop()
        return dropped

    assert run(main()) == 1
