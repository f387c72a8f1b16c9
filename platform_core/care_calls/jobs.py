"""RQ entry points of proactive care calls. They take ids, open their own sessions, and are
idempotent: a job delivered twice (RQ's at-least-once) finds its attempt recorded and dials once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from platform_core.actors import Actor
from platform_core.care_calls import service
from platform_core.care_calls.dialling import originate_care_call
from platform_core.db import utcnow
from platform_core.runtime import Runtime, current_runtime

log = logging.getLogger(__name__)

JOB_PLACE = "platform_core.care_calls.jobs:place_care_call"
JOB_CHECK = "platform_core.care_calls.jobs:check_care_attempt"
JOB_START = "platform_core.care_calls.jobs:start_campaign"


def care_actor(runtime: Runtime, region_code: str | None = None) -> Actor:
    return Actor(
        kind="system", name="主动关怀", region_code=region_code or runtime.settings.home_region_code
    )


def schedule_campaign(runtime: Runtime, campaign_id: int, *, at: datetime | None = None) -> str:
    """Queue the start of a committed campaign (at its scheduled time)."""
    return runtime.jobs.enqueue(
        JOB_START, campaign_id, job_id=f"care-campaign-{campaign_id}", at=at
    )


def start_campaign(campaign_id: int) -> int:
    """Queue the first attempt of every due care call; returns how many were queued."""
    runtime = current_runtime()
    with runtime.session() as s:
        campaign = service.mark_running(s, campaign_id=campaign_id)
        if campaign.status != "running":
            return 0
        due = [(c.id, c.attempts + 1) for c in service.due_calls(s, campaign_id=campaign_id)]
    for care_call_id, attempt_no in due:
        _enqueue_attempt(runtime, care_call_id, attempt_no)
    return len(due)


def place_care_call(care_call_id: int, attempt_no: int) -> str:
    """Dial attempt ``attempt_no`` of a care call; returns what happened."""
    runtime = current_runtime()
    with runtime.session() as s:
        call = service.get_care_call(s, care_call_id=care_call_id)
        actor = care_actor(runtime, call.campaign.region_code)
        attempt = service.begin_attempt(
            s, actor=actor, care_call_id=care_call_id, attempt_no=attempt_no
        )
        if attempt is None:
            return "nothing_to_do"
        attempt_id, number, key = attempt.id, attempt.number, attempt.command_key
    # the attempt is committed before dialling: a second delivery of this job finds it and stops
    dialled = originate_care_call(runtime, number=number, attempt_id=attempt_id, command_key=key)
    with runtime.session() as s:
        if dialled.status == "answered":
            service.record_dialled(s, attempt_id=attempt_id, uniqueid=dialled.uniqueid)
            follow = service.FollowUp(care_call_id)
        elif dialled.status == "not_placed":
            follow = service.record_not_placed(
                s, actor=actor, attempt_id=attempt_id, reason=dialled.reason
            )
        elif dialled.status == "unknown":
            follow = service.FollowUp(care_call_id)  # the watchdog settles it
        else:
            follow = service.record_no_answer(
                s, actor=actor, attempt_id=attempt_id, result=dialled.status, reason=dialled.reason
            )
    if dialled.status != "not_placed":
        timeout = timedelta(minutes=runtime.settings.care_attempt_timeout_min)
        runtime.jobs.enqueue(
            JOB_CHECK, attempt_id, job_id=f"care-check-{attempt_id}", at=utcnow() + timeout
        )
    _schedule(runtime, follow)
    return dialled.status


def check_care_attempt(attempt_id: int) -> None:
    """The watchdog of one attempt: no outcome in time counts as not answered."""
    runtime = current_runtime()
    with runtime.session() as s:
        attempt = service.get_attempt(s, attempt_id=attempt_id)
        actor = care_actor(runtime, attempt.care_call.region_code)
        follow = service.settle_stale_attempt(s, actor=actor, attempt_id=attempt_id)
    _schedule(runtime, follow)


def _schedule(runtime: Runtime, follow: service.FollowUp) -> None:
    if follow.next_attempt_no is not None:
        _enqueue_attempt(runtime, follow.care_call_id, follow.next_attempt_no, at=follow.retry_at)


def _enqueue_attempt(
    runtime: Runtime, care_call_id: int, attempt_no: int, *, at: datetime | None = None
) -> None:
    runtime.jobs.enqueue(
        JOB_PLACE, care_call_id, attempt_no, job_id=f"care-call-{care_call_id}-{attempt_no}", at=at
    )
