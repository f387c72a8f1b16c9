"""What flow steps do (actions) and ask (conditions), by the names flow files use.

The names and parameters are declared in :mod:`ivr_flows.flow_model` (so a flow is checked
without running anything); the behaviour lives here. An action that fails is logged and the
flow goes on: the caller still reaches a person, only the action's effect is missing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ivr_flows import backend
from ivr_flows.agi_channel import AgiHangup
from ivr_flows.engine import CallContext
from ivr_flows.flow_model import (
    ActionStep,
    CareResponseParams,
    ChooseQueueParams,
    OpenDraftOrderParams,
    RecordScoreParams,
    SetLanguageParams,
    SetVariableParams,
)
from platform_core.errors import DomainError

log = logging.getLogger(__name__)

# channel variables the care-call Originate sets and the survey reads (Queue() sets MEMBER*)
VAR_CARE_ATTEMPT = "HOTLINE_CARE_ATTEMPT_ID"
VAR_MEMBER_INTERFACE = "MEMBERINTERFACE"
VAR_MEMBER_NAME = "MEMBERNAME"
# set by the survey call of an order (platform_core.flows.order_surveys): the key rates the order
VAR_SURVEY_CALL = "HOTLINE_SURVEY_CALL_ID"


# Actions whose failure would mislead the caller (told "we will call you back" with nothing
# booked): when one fails the caller goes to a person instead of on through the flow.
CRITICAL = frozenset({"request_callback"})


async def run_action(ctx: CallContext, step: ActionStep) -> bool:
    """Run one action; False when it failed (logged)."""
    handler = _ACTIONS[step.do]
    try:
        await handler(ctx, step.params())
        return True
    except AgiHangup:
        raise
    except DomainError as exc:
        log.warning(
            "动作被拒绝 / action refused: %s [%s] %s %s",
            step.do,
            exc.code,
            exc.message,
            ctx.describe(),
        )
    except Exception:
        log.exception("动作失败 / action failed: %s %s", step.do, ctx.describe())
    return False


async def condition_holds(ctx: CallContext, name: str) -> bool:
    try:
        return await _CONDITIONS[name](ctx)
    except AgiHangup:
        raise
    except Exception:
        log.exception(
            "条件判断失败, 视为不成立 / condition failed, taken as false: %s %s",
            name,
            ctx.describe(),
        )
        return False


# --- actions -----------------------------------------------------------------------------------


async def _identify_caller(ctx: CallContext, _: Any) -> None:
    if not ctx.caller_number:
        return
    area = ctx.backend.runtime.settings.trunk_area_code  # completes a bare local number
    ctx.caller = await ctx.backend.read(backend.identify, number=ctx.caller_number, area_code=area)
    if ctx.caller.language:
        ctx.language = ctx.caller.language
    log.info(
        "来电识别 / caller identified: kind=%s elder=%s high_risk=%s %s",
        ctx.caller.kind,
        ctx.caller.elder_id,
        ctx.caller.high_risk,
        ctx.describe(),
    )


async def _set_variable(ctx: CallContext, p: SetVariableParams) -> None:
    value = p.value.format_map(_Template(ctx))
    await ctx.channel.set_variable(p.name, value)


async def _set_language(ctx: CallContext, p: SetLanguageParams) -> None:
    ctx.language = p.language
    ctx.facts["language_chosen"] = True
    if ctx.caller.elder_id is not None and ctx.caller.kind in ("elder", "device"):
        # remembered while the next prompt plays: the caller does not wait for the commit
        ctx.writes.append(
            ctx.backend.start(
                backend.remember_language, elder_id=ctx.caller.elder_id, language=p.language
            )
        )


async def _open_draft_order(ctx: CallContext, p: OpenDraftOrderParams) -> None:
    if ctx.caller.elder_id is None:
        log.info("来电者未识别, 不预填工单 / caller unknown, no draft order: %s", ctx.describe())
        return
    ctx.draft_order_id = await ctx.backend.run(
        backend.open_draft_order,
        elder_id=ctx.caller.elder_id,
        service_type=p.service_type,
        linkedid=ctx.linkedid,
    )
    await ctx.channel.set_variable("HOTLINE_DRAFT_ORDER_ID", ctx.draft_order_id)


async def _choose_queue(ctx: CallContext, p: ChooseQueueParams) -> None:
    ctx.queue, ctx.intent, ctx.priority = p.queue, p.intent, p.priority


async def _request_callback(ctx: CallContext, _: Any) -> None:
    queue = ctx.queue or ctx.flow.defaults.queue
    ctx.facts["recall_id"] = await ctx.backend.run(
        backend.request_callback,
        session_id=await ctx.opened(ctx.backend.wait_s) or 0,
        queue=queue,
        elder_id=ctx.caller.elder_id,
    )
    ctx.facts["callback_requested"] = True


async def _load_survey_call(ctx: CallContext, _: Any) -> None:
    order_call = await ctx.channel.get_variable(VAR_SURVEY_CALL)
    if order_call and order_call.isdigit():
        ctx.facts["survey"] = {
            "survey_call_id": int(order_call),
            "order_id": await ctx.backend.run(
                backend.order_survey_answered,
                survey_call_id=int(order_call),
                uniqueid=ctx.env.uniqueid,
            ),
        }
        return
    interface = await ctx.channel.get_variable(VAR_MEMBER_INTERFACE)
    name = await ctx.channel.get_variable(VAR_MEMBER_NAME)
    elder = await ctx.channel.get_variable("HOTLINE_ELDER_ID")
    if not interface:
        # the dialplan did not keep Queue()'s variables: callcenter's call record knows the agent
        interface, name = await ctx.backend.read(backend.answering_agent, linkedid=ctx.linkedid)
    ctx.facts["survey"] = {
        "agent_interface": interface or "",
        "agent_name": name or "",
        "elder_id": int(elder) if elder and elder.isdigit() else None,
    }


async def _record_survey_score(ctx: CallContext, p: RecordScoreParams) -> None:
    key = ctx.values.get(p.from_)
    survey = ctx.facts.get("survey")
    if key is None or not isinstance(survey, dict):
        return
    if "survey_call_id" in survey:
        await ctx.backend.run(
            backend.rate_order, survey_call_id=survey["survey_call_id"], score=int(key)
        )
        return
    await ctx.backend.run(
        backend.record_survey,
        linkedid=ctx.linkedid,
        uniqueid=ctx.env.uniqueid,
        score=int(key),
        agent_interface=survey["agent_interface"],
        agent_name=survey["agent_name"],
        elder_id=survey["elder_id"],
    )


async def _load_care_call(ctx: CallContext, _: Any) -> None:
    raw = await ctx.channel.get_variable(VAR_CARE_ATTEMPT)
    if not raw or not raw.isdigit():
        log.warning(
            "关怀电话缺少 %s / care call without %s: %s",
            VAR_CARE_ATTEMPT,
            VAR_CARE_ATTEMPT,
            ctx.describe(),
        )
        return
    ctx.facts["care_attempt_id"] = int(raw)
    ctx.caller = await ctx.backend.run(
        backend.care_answered, attempt_id=int(raw), uniqueid=ctx.env.uniqueid
    )
    if ctx.caller.language:
        ctx.language = ctx.caller.language


async def _record_care_response(ctx: CallContext, p: CareResponseParams) -> None:
    attempt_id = ctx.facts.get("care_attempt_id")
    if not isinstance(attempt_id, int):
        return
    await ctx.backend.run(backend.care_responded, attempt_id=attempt_id, response=p.response)


_Action = Callable[[CallContext, Any], Awaitable[None]]
_ACTIONS: dict[str, _Action] = {
    "identify_caller": _identify_caller,
    "set_variable": _set_variable,
    "set_language": _set_language,
    "open_draft_order": _open_draft_order,
    "choose_queue": _choose_queue,
    "request_callback": _request_callback,
    "load_survey_call": _load_survey_call,
    "record_survey_score": _record_survey_score,
    "load_care_call": _load_care_call,
    "record_care_response": _record_care_response,
}


# --- conditions --------------------------------------------------------------------------------


async def _device_sim(ctx: CallContext) -> bool:
    return ctx.caller.kind == "device"


async def _high_risk(ctx: CallContext) -> bool:
    return ctx.caller.high_risk


async def _elder_known(ctx: CallContext) -> bool:
    return ctx.caller.elder_id is not None and ctx.caller.kind in ("elder", "device")


async def _family(ctx: CallContext) -> bool:
    return ctx.caller.kind == "family"


async def _language_known(ctx: CallContext) -> bool:
    return bool(ctx.facts.get("language_chosen")) or ctx.caller.language is not None


async def _long_wait(ctx: CallContext) -> bool:
    if not ctx.caller_number:
        return False  # nobody to call back
    queue = ctx.queue or ctx.flow.defaults.queue
    wait = await ctx.backend.expected_wait_s(queue)
    threshold = ctx.backend.runtime.settings.ivr_callback_offer_wait_s
    ctx.facts["expected_wait_s"] = wait
    return wait >= threshold


async def _survey_call_known(ctx: CallContext) -> bool:
    survey = ctx.facts.get("survey")
    return isinstance(survey, dict) and bool(
        survey.get("order_id") or survey.get("agent_interface") or survey.get("agent_name")
    )


async def _care_call_known(ctx: CallContext) -> bool:
    return isinstance(ctx.facts.get("care_attempt_id"), int)


_CONDITIONS: dict[str, Callable[[CallContext], Awaitable[bool]]] = {
    "device_sim": _device_sim,
    "high_risk": _high_risk,
    "elder_known": _elder_known,
    "family": _family,
    "language_known": _language_known,
    "long_wait": _long_wait,
    "survey_call_known": _survey_call_known,
    "care_call_known": _care_call_known,
}


class _Template(dict[str, str]):
    """``{elder_id}``, ``{intent}``, ``{queue}``, ``{language}``, ``{caller}`` and collected keys."""

    def __init__(self, ctx: CallContext) -> None:
        super().__init__(
            elder_id=str(ctx.caller.elder_id or ""),
            intent=ctx.intent or "",
            queue=ctx.queue or "",
            language=ctx.language,
            caller=ctx.caller_number,
            **ctx.values,
        )

    def __missing__(self, key: str) -> str:
        return ""
