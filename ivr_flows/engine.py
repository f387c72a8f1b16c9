"""Runs one declarative flow on one AGI channel.

A flow is a graph without cycles (checked at load), so a run always ends: in a handoff (the
dialplan queues the call with the HOTLINE_* variables set), a hangup, or the caller leaving.
Whatever goes wrong inside a step (a missing prompt, an action that fails) is logged and the
caller moves on towards a person; only the caller hanging up stops the run early.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ivr_flows.agi_channel import AgiChannel, AgiEnvironment
from ivr_flows.backend import UNKNOWN_CALLER, Backend, CallerInfo
from ivr_flows.flow_model import (
    OPERATOR_KEY,
    ActionStep,
    BranchStep,
    CollectStep,
    Flow,
    HandoffStep,
    HangupStep,
    MenuStep,
    PlayStep,
)
from platform_core.security.masking import mask_phone

if TYPE_CHECKING:
    from ivr_flows.prompts import PromptLibrary

log = logging.getLogger(__name__)

# What the dialplan reads after AGI() returns.
VAR_ELDER_ID = "HOTLINE_ELDER_ID"
VAR_INTENT = "HOTLINE_INTENT"
VAR_PRIORITY = "HOTLINE_PRIORITY"
VAR_QUEUE = "HOTLINE_QUEUE"
VAR_LANGUAGE = "HOTLINE_LANGUAGE"
VAR_IVR_SESSION = "HOTLINE_IVR_SESSION"


async def record_id(
    opening: asyncio.Future[int | None], wait_s: float | None, describe: str
) -> int | None:
    """The id the record's ``opening`` write returns. With ``wait_s``, None when the write has
    not ended by then: the caller goes on and the record is still written (the call's linkedid
    ties the two together)."""
    if wait_s is None:
        return await opening
    try:
        return await asyncio.wait_for(asyncio.shield(opening), wait_s)
    except TimeoutError:
        log.error(
            "IVR 会话记录 %.1f 秒未写入, 转接不带会话号 / session record not written within %.1f s: %s",
            wait_s,
            wait_s,
            describe,
        )
        return None


@dataclass
class CallContext:
    """Everything a run knows about its call."""

    env: AgiEnvironment
    channel: AgiChannel
    flow: Flow
    backend: Backend
    prompts: PromptLibrary
    linkedid: str
    language: str = "zh"
    caller: CallerInfo = UNKNOWN_CALLER
    queue: str | None = None
    intent: str | None = None
    priority: int | None = None
    draft_order_id: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)
    path: list[str] = field(default_factory=list)
    prompt_failures: list[str] = field(default_factory=list)
    outcome: str = "running"
    error: str | None = None
    # writes begun during the call and not awaited there (Backend.start): settled before the
    # session's record closes
    writes: list[asyncio.Future[Any]] = field(default_factory=list)
    # the session's record being opened (its id, or None when it could not be written)
    opening: asyncio.Future[int | None] | None = None

    async def opened(self, wait_s: float | None = None) -> int | None:
        """The session record's id, once its write has ended (None: no record); see
        :func:`record_id`."""
        if self.opening is None:
            return None
        return await record_id(self.opening, wait_s, self.describe())

    @property
    def caller_number(self) -> str:
        return self.env.callerid

    def describe(self) -> str:
        return (
            f"flow={self.flow.name} uniqueid={self.env.uniqueid} "
            f"caller={mask_phone(self.caller_number) or '-'}"
        )


async def play(ctx: CallContext, prompt: str, escape_digits: str = "") -> tuple[bool, str | None]:
    """Play a prompt in the caller's language; (played, key pressed). A missing file is logged."""
    name = ctx.prompts.file_for(ctx.flow, prompt, ctx.language)
    playback = await ctx.channel.stream_file(name, escape_digits)
    if playback.failed:
        ctx.prompt_failures.append(f"{ctx.language}/{prompt}")
        log.warning(
            "提示音缺失, 无法播放 / prompt missing, not played: %s (file %s) step=%s %s",
            prompt,
            name,
            ctx.path[-1] if ctx.path else "-",
            ctx.describe(),
        )
        return False, None
    return True, playback.digit


async def ask_key(ctx: CallContext, step: MenuStep | CollectStep, allowed: str) -> str | None:
    """One key from ``allowed`` or 0, asking once more after silence or a wrong key; None when
    the caller still has not chosen (or the prompt cannot be played)."""
    escape = allowed + OPERATOR_KEY
    for attempt in range(step.repeats + 1):
        played, key = await play(ctx, step.prompt, escape)
        if not played:
            return None  # the caller cannot hear the choices: a person will help
        if key is None:
            key = await ctx.channel.wait_for_digit(step.timeout_ms)
        if key is not None and key in escape:
            return key
        log.info(
            "%s / %s: step=%s attempt=%d %s",
            "未按键" if key is None else f"无效按键 {key}",
            "no key" if key is None else f"invalid key {key}",
            ctx.path[-1],
            attempt + 1,
            ctx.describe(),
        )
        if attempt < step.repeats and step.invalid_prompt:
            await play(ctx, step.invalid_prompt)
    return None


async def run_flow(ctx: CallContext) -> None:
    """Walk the flow from its start to a handoff or hangup."""
    from ivr_flows import actions

    flow = ctx.flow
    name = flow.start
    for _ in range(len(flow.steps) + 1):  # a flow is acyclic: no run visits more steps than it has
        ctx.path.append(name)
        step = flow.steps[name]
        if isinstance(step, ActionStep):
            done = await actions.run_action(ctx, step)
            name = step.next if done or step.do not in actions.CRITICAL else flow.operator
        elif isinstance(step, BranchStep):
            name = step.else_
            for case in step.cases:
                if await actions.condition_holds(ctx, case.when):
                    name = case.goto
                    break
        elif isinstance(step, PlayStep):
            await play(ctx, step.prompt)
            name = step.next
        elif isinstance(step, MenuStep):
            key = await ask_key(ctx, step, "".join(step.choices))
            name = step.choices[key] if key and key != OPERATOR_KEY else flow.operator
        elif isinstance(step, CollectStep):
            key = await ask_key(ctx, step, step.valid)
            if key == OPERATOR_KEY and OPERATOR_KEY not in step.valid:
                name = flow.operator
            elif key is None:
                name = step.on_fail
            else:
                ctx.values[step.into] = key
                name = step.next
        elif isinstance(step, HandoffStep):
            await hand_off(ctx, step)
            return
        elif isinstance(step, HangupStep):
            if step.prompt:
                await play(ctx, step.prompt)
            ctx.outcome = "completed"
            await ctx.channel.hangup()
            return
    raise RuntimeError(
        f"流程未结束 / flow {flow.name} did not end"
    )  # unreachable for a checked flow


async def hand_off(ctx: CallContext, step: HandoffStep | None = None) -> None:
    """Set the HOTLINE_* variables and return the call to the dialplan for a person."""
    d = ctx.flow.defaults
    ctx.queue = (step.queue if step and step.queue else None) or ctx.queue or d.queue
    ctx.intent = (step.intent if step and step.intent else None) or ctx.intent or d.intent
    if step is not None and step.priority is not None:
        ctx.priority = step.priority
    elif ctx.priority is None:
        ctx.priority = d.priority
    await set_handoff_variables(ctx)
    ctx.outcome = "handed_off"
    if step is not None and step.prompt:
        await play(ctx, step.prompt)


async def set_handoff_variables(ctx: CallContext) -> None:
    ch = ctx.channel
    await ch.set_variable(VAR_ELDER_ID, ctx.caller.elder_id or "")
    await ch.set_variable(VAR_INTENT, ctx.intent or "")
    await ch.set_variable(VAR_PRIORITY, ctx.priority if ctx.priority is not None else 0)
    await ch.set_variable(VAR_QUEUE, ctx.queue or "")
    await ch.set_variable(VAR_LANGUAGE, ctx.language)
    await ch.set_variable(VAR_IVR_SESSION, await ctx.opened(ctx.backend.wait_s) or 0)
