"""AMI messages exactly as Asterisk 20 writes them: field names, field order, CRLF framing.

Orders follow reference/asterisk/AMI-FIELDS.md (the wire, which follows the source where it
differs from the docs): the channel snapshot block, ``Dest``-prefixed blocks, the queue and agent
bodies in JSON-blob insertion order, list items without ``Privilege`` and with ``ActionID``
where each list puts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Fields = list[tuple[str, str]]

BANNER_VERSION = "9.0.0"  # Asterisk 20.x

CHANNEL_STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

# Device states as QueueMemberStatus prints them (AST_DEVICE_*).
DEVICE_NOT_INUSE, DEVICE_INUSE, DEVICE_BUSY, DEVICE_UNAVAILABLE, DEVICE_RINGING = 1, 2, 3, 5, 6

# Hangup causes used here and their Cause-txt.
CAUSE_TXT = {
    16: "Normal Clearing",
    17: "User busy",
    19: "No user responding",
    21: "Call Rejected",
    26: "Answered elsewhere",
}

EVENT_CLASS = {
    "Newchannel": "call",
    "Newstate": "call",
    "Newexten": "dialplan",
    "VarSet": "dialplan",
    "DialBegin": "call",
    "DialEnd": "call",
    "Hangup": "call",
    "HangupRequest": "call",
    "SoftHangupRequest": "call",
    "BridgeCreate": "call",
    "BridgeEnter": "call",
    "BridgeLeave": "call",
    "BridgeDestroy": "call",
    "MusicOnHoldStart": "call",
    "MusicOnHoldStop": "call",
    "OriginateResponse": "call",
    "QueueCallerJoin": "agent",
    "QueueCallerLeave": "agent",
    "QueueCallerAbandon": "agent",
    "AgentCalled": "agent",
    "AgentConnect": "agent",
    "AgentComplete": "agent",
    "AgentRingNoAnswer": "agent",
    "AgentDump": "agent",
    "QueueMemberStatus": "agent",
    "QueueMemberAdded": "agent",
    "QueueMemberRemoved": "agent",
    "QueueMemberPause": "agent",
    "FullyBooted": "system",
    "UserEvent": "user",
    "ChanSpyStart": "call",
    "ChanSpyStop": "call",
    "Hold": "call",
    "Unhold": "call",
    "BlindTransfer": "call",
}


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """``Key: Value\\r\\n`` lines and the empty line that ends a message."""
    return ("".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n").encode("utf-8")


def _shown(value: str) -> str:
    return value if value else "<unknown>"


@dataclass
class Channel:
    """The part of a channel that its snapshot block prints."""

    name: str
    uniqueid: str
    linkedid: str
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "zh"
    account_code: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    state: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    application: str = ""
    application_data: str = ""
    bridge_id: str = ""
    hungup: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "_snapshots", {})

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name in _SNAPSHOT_ATTRS:
            self.touch()

    def touch(self) -> None:
        """Forget the built snapshot blocks (after a change they do not see, e.g. variables)."""
        snapshots = self.__dict__.get("_snapshots")
        if snapshots:
            snapshots.clear()

    def snapshot(self, prefix: str = "", channelvars: Sequence[str] = ()) -> Fields:
        """The snapshot block (built once per change of the channel; do not mutate it)."""
        key = (prefix, tuple(channelvars))
        snapshots: dict[tuple[str, tuple[str, ...]], Fields] = self.__dict__["_snapshots"]
        block = snapshots.get(key)
        if block is None:
            block = snapshots[key] = self._snapshot(prefix, channelvars)
        return block

    def _snapshot(self, prefix: str, channelvars: Sequence[str]) -> Fields:
        out: Fields = [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", CHANNEL_STATE_DESC.get(self.state, "Unknown")),
            (prefix + "CallerIDNum", _shown(self.caller_num)),
            (prefix + "CallerIDName", _shown(self.caller_name)),
            (prefix + "ConnectedLineNum", _shown(self.connected_num)),
            (prefix + "ConnectedLineName", _shown(self.connected_name)),
            (prefix + "Language", self.language),
            (prefix + "AccountCode", self.account_code),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]
        out.extend(
            (prefix + "ChanVariable", f"{name}={self.variables.get(name, '')}")
            for name in channelvars
        )
        return out


_SNAPSHOT_ATTRS = frozenset(
    {
        "name",
        "uniqueid",
        "linkedid",
        "caller_num",
        "caller_name",
        "connected_num",
        "connected_name",
        "language",
        "account_code",
        "context",
        "exten",
        "priority",
        "state",
        "variables",
    }
)


@dataclass
class Bridge:
    uniqueid: str
    channels: int = 0

    def block(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
            ("BridgeNumChannels", str(self.channels)),
            ("BridgeVideoSourceMode", "none"),
        ]


@dataclass
class MemberFields:
    """What QueueMemberStatus/Added/Removed/Pause print for one member of one queue."""

    queue: str
    name: str
    interface: str
    state_interface: str
    membership: str
    penalty: int
    calls_taken: int
    last_call: int
    last_pause: int
    login_time: int
    in_call: bool
    status: int
    paused: bool
    paused_reason: str
    ringinuse: bool
    wrapuptime: int

    def member_event_body(self) -> Fields:
        return [
            ("Queue", self.queue),
            ("MemberName", self.name),
            ("Interface", self.interface),
            *self._state_fields(),
            ("Ringinuse", "1" if self.ringinuse else "0"),
            ("Wrapuptime", str(self.wrapuptime)),
        ]

    def _state_fields(self) -> Fields:
        # what the QueueMember* events and the QueueStatus item both say of a member, in
        # Asterisk's order; only the naming fields around it differ
        return [
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", "1" if self.in_call else "0"),
            ("Status", str(self.status)),
            ("Paused", "1" if self.paused else "0"),
            ("PausedReason", self.paused_reason),
        ]

    def queue_member_item(self, action_id: str | None) -> Fields:
        """The QueueStatus list item: Name/Location instead of MemberName/Interface."""
        out: Fields = [
            ("Event", "QueueMember"),
            ("Queue", self.queue),
            ("Name", self.name),
            ("Location", self.interface),
            *self._state_fields(),
            ("Wrapuptime", str(self.wrapuptime)),
        ]
        if action_id is not None:
            out.append(("ActionID", action_id))
        return out


# -- responses ---------------------------------------------------------------------------------


def response(
    status: str, action_id: str | None, message: str | None = None, *extra: tuple[str, str]
) -> bytes:
    """``Response`` first, ``ActionID`` only when the action had one, then ``Message``."""
    fields: Fields = [("Response", status)]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    if message is not None:
        fields.append(("Message", message))
    fields.extend(extra)
    return encode(fields)


def list_start(action_id: str | None, message: str) -> bytes:
    fields: Fields = [("Response", "Success")]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    fields += [("EventList", "start"), ("Message", message)]
    return encode(fields)


def list_complete(event: str, action_id: str | None, items: int) -> bytes:
    fields: Fields = [("Event", event)]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    fields += [("EventList", "Complete"), ("ListItems", str(items))]
    return encode(fields)


def with_action_id_last(fields: Fields, action_id: str | None) -> bytes:
    if action_id is not None:
        fields = [*fields, ("ActionID", action_id)]
    return encode(fields)


def core_show_channel(ch: Channel, action_id: str | None, duration_s: int) -> bytes:
    fields: Fields = [("Event", "CoreShowChannel")]
    if action_id is not None:
        fields.append(("ActionID", action_id))
    fields += ch.snapshot()
    h, rem = divmod(max(0, duration_s), 3600)
    m, s = divmod(rem, 60)
    fields += [
        ("Application", ch.application),
        ("ApplicationData", ch.application_data),
        ("Duration", f"{h:02d}:{m:02d}:{s:02d}"),
        ("BridgeId", ch.bridge_id),
    ]
    return encode(fields)
