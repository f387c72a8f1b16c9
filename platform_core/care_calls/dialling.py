"""Dialling an elder for a care call: AMI Originate through callcenter's telephony commands.

The call goes to the elder's number over the trunk; once answered, Asterisk runs the care-call
context (``settings.care_context``), whose dialplan hands the channel to the IVR's ``carecall``
flow with ``HOTLINE_CARE_ATTEMPT_ID`` set. The command waits for OriginateResponse, so the job
learns at once whether the phone was answered, busy or rang out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from platform_core.actors import system_actor
from platform_core.runtime import Runtime
from platform_core.telephony.commands import (
    TelephonyClient,
    TelephonyOutcomeUnknown,
    TelephonyRejected,
    TelephonyUnavailable,
)

log = logging.getLogger(__name__)

ATTEMPT_VARIABLE = "HOTLINE_CARE_ATTEMPT_ID"
# OriginateResponse Reason codes (Asterisk's AST_CONTROL_*): 3 rang out, 5 busy, 8 congestion
_NOT_ANSWERED = {1: "no_answer", 3: "no_answer", 5: "busy", 8: "failed", 0: "failed"}


@dataclass(frozen=True)
class DialResult:
    # answered | no_answer | busy | failed (the network refused) | not_placed (callcenter could
    # not be asked: the attempt did not happen) | unknown (the AMI link dropped mid-command)
    status: str
    uniqueid: str | None = None
    reason: str | None = None


def originate_care_call(
    runtime: Runtime, *, number: str, attempt_id: int, command_key: str
) -> DialResult:
    settings = runtime.settings
    client = TelephonyClient(runtime)
    try:
        result = client.originate(
            channel=settings.care_trunk.format(number=number),
            exten="s",
            context=settings.care_context,
            caller_id=settings.care_caller_id,
            variables={ATTEMPT_VARIABLE: str(attempt_id)},
            timeout_s=settings.care_ring_timeout_s,
            wait=True,
            idempotency_key=command_key,
            actor=system_actor("主动关怀", settings.home_region_code),
        )
    except TelephonyUnavailable as exc:
        return DialResult("not_placed", reason=exc.message)
    except TelephonyRejected as exc:
        return DialResult("failed", reason=exc.message)
    except TelephonyOutcomeUnknown as exc:
        log.warning(
            "关怀外呼结果未知, 等待超时判定 / care call outcome unknown (attempt %s): %s",
            attempt_id,
            exc.message,
        )
        return DialResult("unknown", reason=exc.message)
    uniqueid = str(result.data.get("uniqueid") or "") or None
    if result.ok:
        return DialResult("answered", uniqueid=uniqueid)
    code = int(result.data.get("reason") or 0)
    return DialResult(_NOT_ANSWERED.get(code, "failed"), uniqueid=uniqueid, reason=result.message)
