"""Scenarios for the simulator: a YAML file (queues, agents, phones, scripted calls) and/or a
load profile (Poisson arrivals at a rate, a concurrency cap, talk and patience times).

```yaml
time_scale: 1            # simulated seconds per real second
agi_url: null            # e.g. agi://127.0.0.1:4573 to run the IVR over FastAGI
agents: 6                # or a list: {interface, name, queues, answer_after, paused, ...}
phones: {"13800000001": {answer_after: 3, talk: 20}}   # parties called back
calls:                   # scripted calls, at a simulated time offset
  - {at: 0, number: "13800000001", name: 张三, talk: 60, patience: 40,
     variables: {HOTLINE_QUEUE: hotline-emergency, HOTLINE_PRIORITY: "10"}}
profile: {rate: 0.5, concurrency: 20, talk: 90, patience: 60, duration: 600}
```
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from callcenter.pbx_sim.config import (
    AgentConfig,
    CallerConfig,
    PhoneConfig,
    QueueConfig,
    SimConfig,
    default_config,
)
from callcenter.pbx_sim.pbx import PbxSimulator, SimCall

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["秀英", "桂兰", "玉兰", "建国", "淑珍", "凤英", "德明", "振华", "翠花", "国庆"]
MONGOLIAN = ["巴特尔", "其其格", "乌云", "斯琴", "额尔敦", "萨仁", "宝音", "娜仁花"]


@dataclass
class LoadProfile:
    rate: float = 0.5  # new calls per simulated second
    concurrency: int = 50  # never more calls in progress than this
    talk: float = 90.0  # mean talk time (exponential)
    patience: float | None = 60.0  # mean patience; None: callers never abandon
    duration: float | None = None  # simulated seconds; None: until stopped
    emergency_share: float = 0.05  # calls the IVR sends to the emergency queue
    ivr_hangup_share: float = 0.03  # callers who hang up in the IVR
    known_elder_share: float = 0.7  # callers the IVR recognised as registered elders
    total: int | None = None  # stop after this many calls
    numbers: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    config: SimConfig
    calls: list[tuple[float, CallerConfig]] = field(default_factory=list)
    profile: LoadProfile | None = None


def _pick(cls: type, data: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: 未知字段 / unknown fields {sorted(unknown)}")
    return cls(**data)


def load_scenario(path: str | Path, *, username: str = "hotline", secret: str = "") -> Scenario:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    agents = raw.get("agents", 6)
    config = default_config(
        username=username, secret=secret, agents=agents if isinstance(agents, int) else 0
    )
    if isinstance(agents, list):
        config.agents = [_pick(AgentConfig, a) for a in agents]
    if "queues" in raw:
        config.queues = [_pick(QueueConfig, q) for q in raw["queues"]]
    for key in ("time_scale", "agi_url", "channelvars", "seed", "timestamp_events"):
        if key in raw:
            setattr(config, key, raw[key])
    config.phones = {str(k): _pick(PhoneConfig, v) for k, v in (raw.get("phones") or {}).items()}
    calls = []
    for item in raw.get("calls") or []:
        item = dict(item)
        at = float(item.pop("at", 0))
        item["number"] = str(item["number"])
        calls.append((at, _pick(CallerConfig, item)))
    profile = _pick(LoadProfile, raw["profile"]) if raw.get("profile") else None
    return Scenario(config=config, calls=sorted(calls, key=lambda c: c[0]), profile=profile)


def random_caller(rng: random.Random, profile: LoadProfile) -> CallerConfig:
    if profile.numbers:
        number = rng.choice(profile.numbers)
    else:
        number = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
    name = rng.choice(MONGOLIAN) if rng.random() < 0.3 else rng.choice(SURNAMES) + rng.choice(GIVEN)
    # What the IVR sets at the end of its flow (ivr_flows): always every variable, the elder's
    # id empty when it found none, and its session's id.
    known = rng.random() < profile.known_elder_share
    variables = {
        "HOTLINE_ELDER_ID": str(rng.randrange(1, 100000)) if known else "",
        "HOTLINE_INTENT": "consult",
        "HOTLINE_PRIORITY": "0",
        "HOTLINE_QUEUE": "hotline-general",
        "HOTLINE_IVR_SESSION": str(rng.randrange(1, 10**9)),
    }
    if rng.random() < profile.emergency_share:
        variables.update(
            {
                "HOTLINE_QUEUE": "hotline-emergency",
                "HOTLINE_PRIORITY": "10",
                "HOTLINE_INTENT": "sos",
            }
        )
    patience = None if profile.patience is None else rng.expovariate(1 / profile.patience)
    return CallerConfig(
        number=number,
        name=name,
        variables=variables,
        talk=max(1.0, rng.expovariate(1 / profile.talk)),
        patience=patience,
        hangup_in_ivr=rng.random() < profile.ivr_hangup_share,
    )


async def run_profile(
    pbx: PbxSimulator,
    profile: LoadProfile,
    *,
    rng: random.Random | None = None,
    stop: asyncio.Event | None = None,
    on_call: Callable[[SimCall], None] | None = None,
    caller: Callable[[random.Random, LoadProfile], CallerConfig] = random_caller,
) -> list[SimCall]:
    """Place calls with exponential gaps at ``rate``, at most ``concurrency`` at a time."""
    rng = rng or random.Random(pbx.config.seed)
    stop = stop or asyncio.Event()
    placed: list[SimCall] = []
    active: set[SimCall] = set()
    started = time.monotonic()
    next_at = started
    while not stop.is_set():
        if profile.duration is not None and pbx.sim_elapsed(started) >= profile.duration:
            break
        if profile.total is not None and len(placed) >= profile.total:
            break
        now = time.monotonic()
        if now < next_at:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_at - now)
            continue
        next_at += rng.expovariate(profile.rate) / pbx.scale
        if len(active) >= profile.concurrency:
            continue  # this arrival finds the lines busy (counted nowhere, as a busy trunk)
        call = pbx.place_call(caller(rng, profile))
        placed.append(call)
        active.add(call)
        call.done.add_done_callback(lambda _f, c=call: active.discard(c))
        if on_call is not None:
            on_call(call)
    return placed


async def run_script(pbx: PbxSimulator, calls: list[tuple[float, CallerConfig]]) -> list[SimCall]:
    """Place the scripted calls at their simulated offsets."""
    started = time.monotonic()
    placed = []
    for at, caller in calls:
        delay = started + at / pbx.scale - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        placed.append(pbx.place_call(caller))
    return placed
