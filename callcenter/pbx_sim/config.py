"""What the simulated PBX is made of: queues, agents' phones, callers, called parties.

Durations are simulated seconds; ``time_scale`` compresses them (a scale of 50 plays a 60 s
talk in 1.2 s of real time) while every duration Asterisk prints (HoldTime, TalkTime,
RingTime) stays in simulated units. The default queues mirror asterisk_conf/queues.conf
(a test keeps them equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STRATEGIES = ("ringall", "rrmemory", "leastrecent", "fewestcalls", "random", "linear")


@dataclass
class QueueConfig:
    name: str
    strategy: str = "rrmemory"
    weight: int = 0
    timeout: float = 15.0  # how long each member's phone rings
    retry: float = 2.0  # pause before ringing again after nobody answered
    wrapuptime: float = 15.0
    servicelevel: int = 20
    joinempty: bool = True
    max_wait: float | None = 300.0  # Queue()'s timeout argument in the dialplan

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"未知的排队策略 / unknown queue strategy: {self.strategy}")


@dataclass
class AgentConfig:
    """A phone at an agent's desk and its queue memberships at start."""

    interface: str
    name: str
    queues: list[str] = field(default_factory=list)
    logged_in: bool = True
    paused: bool = False
    paused_reason: str = ""
    penalty: int = 0
    answer_after: float | None = 2.0  # None: rings and is never picked up
    registered: bool = True  # False: the phone is offline (device UNAVAILABLE)


@dataclass
class PhoneConfig:
    """A called party outside (an elder called back, a care call)."""

    answer_after: float | None = 4.0
    busy: bool = False
    talk: float = 30.0
    digits: list[str] = field(default_factory=list)  # keys pressed in an outbound IVR


@dataclass
class CallerConfig:
    """An inbound caller to 12349 and what they do."""

    number: str
    name: str = ""
    exten: str = "12349"
    # Without a FastAGI URL: what the IVR would have set, and how long the IVR took.
    variables: dict[str, str] = field(default_factory=dict)
    ivr_time: float = 1.0
    hangup_in_ivr: bool = False
    # With a FastAGI URL: keys pressed when asked, and hanging up after N AGI commands.
    digits: list[str] = field(default_factory=list)
    agi_hangup_after: int | None = None
    queue: str | None = None  # used when the IVR set no HOTLINE_QUEUE
    patience: float | None = None  # abandons after waiting this long; None waits for ever
    talk: float = 30.0
    hangup_by: str = "caller"  # or "agent"


@dataclass
class AmiUser:
    secret: str
    read: str = "system,call,agent,user,dialplan"
    write: str = "system,call,agent,user,originate,reporting"
    # manager.conf's eventfilter lines: regular expressions on an event's text; with any
    # filter not starting with "!", an event must match one of them; none of the "!" ones
    eventfilter: list[str] = field(default_factory=list)


@dataclass
class SimConfig:
    queues: list[QueueConfig] = field(default_factory=list)
    agents: list[AgentConfig] = field(default_factory=list)
    users: dict[str, AmiUser] = field(default_factory=dict)
    phones: dict[str, PhoneConfig] = field(default_factory=dict)
    default_phone: PhoneConfig = field(default_factory=PhoneConfig)
    time_scale: float = 1.0
    agi_url: str | None = None
    # manager.conf channelvars: printed as ChanVariable lines in every channel snapshot.
    channelvars: list[str] = field(default_factory=list)
    timestamp_events: bool = True
    failed_login_delay: float = 1.0  # real seconds, as Asterisk's sleep(1)
    write_timeout_ms: int = 100
    banner_version: str = "9.0.0"
    # asterisk.conf's systemname: when set, Uniqueid and Linkedid read "<systemname>-<epoch>.<n>"
    # (up to 149 characters in all, AST_MAX_UNIQUEID).
    systemname: str = ""
    default_queue: str = "hotline-general"
    inbound_context: str = "hotline-inbound"
    agent_context: str = "hotline-agents"
    callback_context: str = "hotline-callback"
    transfer_context: str = "hotline-transfer"
    carecall_context: str = "hotline-carecall"
    survey_context: str = "hotline-survey"
    trunk: str = "trunk"
    dial_timeout: float = 45.0
    seed: int | None = None
    # Where Asterisk's queue_log is written (main/logger.c's format); None: not written.
    queue_log: str | None = None


def default_queues() -> list[QueueConfig]:
    """The two hotline queues of asterisk_conf/queues.conf."""
    return [
        QueueConfig(
            "hotline-emergency",
            strategy="ringall",
            weight=10,
            timeout=15,
            retry=2,
            wrapuptime=10,
            servicelevel=20,
            max_wait=600,
        ),
        QueueConfig(
            "hotline-general",
            strategy="rrmemory",
            weight=0,
            timeout=15,
            retry=3,
            wrapuptime=15,
            servicelevel=20,
            max_wait=300,
        ),
    ]


DEMO_AGENT_NAMES = ["王芳", "李娜", "张伟", "乌云", "斯琴", "巴特尔", "刘洋", "其其格"]


def screen_pop_user(secret: str) -> AmiUser:
    """asterisk_conf/manager.conf's ``[hotline-pop]``: the rings only, no action class."""
    return AmiUser(secret=secret, read="agent", write="", eventfilter=["Event: AgentCalled"])


def default_config(*, username: str = "hotline", secret: str = "", agents: int = 6) -> SimConfig:
    """A small hotline: both queues, ``agents`` desks (PJSIP/8001...) logged into both."""
    queues = default_queues()
    desk = [
        AgentConfig(
            interface=f"PJSIP/{8001 + i}",
            name=DEMO_AGENT_NAMES[i % len(DEMO_AGENT_NAMES)]
            + ("" if i < len(DEMO_AGENT_NAMES) else str(i)),
            queues=[q.name for q in queues],
        )
        for i in range(agents)
    ]
    return SimConfig(queues=queues, agents=desk, users={username: AmiUser(secret=secret)})
