"""Typed settings, loaded once from ``HOTLINE_*`` environment variables and passed down.

Nothing here is read at import time: the composition root calls :func:`load_settings` and hands
the result to whatever it builds. Secrets never live in the repository; on embedded defaults
they are generated on first start and kept in the data directory (mode 0600).
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_type_hints

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

PREFIX = "HOTLINE_"


class SettingsError(ValueError):
    """A HOTLINE_* variable holds a value that cannot be used."""


def parse_pairs(raw: str, *, variable: str) -> dict[str, str]:
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}``; blanks ignored, anything else refused."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(
                f"HOTLINE_{variable.upper()}: 无法解析 {item!r} / expected key=value"
            )
        out[key.strip()] = value.strip()
    return out


def parse_number(raw: str, *, variable: str, key: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(
            f"HOTLINE_{variable.upper()}: {key}={raw!r} 不是数字 / is not a number"
        ) from exc


@dataclass(frozen=True)
class Settings:
    # Where embedded state lives (SQLite file, generated keys, outbox, logs).
    data_dir: Path = Path("var")
    # PostgreSQL in production and CI; empty means SQLite in data_dir.
    database_url: str = ""
    # Redis for RQ, Socket.IO and domain events; empty means in-process equivalents.
    redis_url: str = ""
    # Prefix for every Redis key and channel, so several deployments (or test runs) can share one.
    redis_namespace: str = "hotline"
    # Signs sessions and CSRF tokens.
    secret_key: str = ""
    # 32-byte key (urlsafe base64) that encrypts sensitive fields and keys their search hashes.
    data_key: str = ""
    # Earlier data keys, comma-separated, still read while `hotline keys rotate` reseals.
    data_keys_retired: str = ""
    timezone: str = "Asia/Shanghai"
    # The region this deployment serves (the autonomous region's code).
    home_region_code: str = "150000000000"

    # Telephony.
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_username: str = "hotline"
    ami_secret: str = ""
    # The screen-pop service's own AMI login (manager.conf's [hotline-pop]: the rings only).
    ami_pop_username: str = "hotline-pop"
    ami_pop_secret: str = ""
    ami_action_timeout_s: float = 5.0
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # AMI login (md5 challenge or plain), keep-alive, reconnect back-off and how many refused
    # logins in a row stop the callcenter with an error instead of hammering Asterisk.
    ami_auth: str = "md5"
    ami_ping_interval_s: float = 10.0
    ami_reconnect_max_s: float = 30.0
    ami_auth_retries: int = 3
    # callcenter reads CoreShowChannels and QueueStatus again this often (0: only after a
    # reconnect or an outage of the database) and makes the records agree with them.
    ami_resync_interval_s: float = 60.0
    # Asterisk's queue_log as callcenter reads it (shared from Asterisk's log directory; empty:
    # not read). Each resync settles from it the calls that ended while callcenter was away and
    # takes up the ones it never saw; lines older than the lookback are left out.
    queue_log_path: str = ""
    queue_log_lookback_s: float = 86400.0
    # Events callcenter keeps, in order, while the database is unavailable; past it the newest
    # are dropped (counted) and the resync after the recovery makes them good.
    callcenter_backlog_max: int = 100_000
    # Dialplan contexts (asterisk_conf/extensions.conf) that mark a 12349 inbound call and an
    # agent's call back; the trunk's area code completes local caller numbers.
    call_inbound_contexts: str = "hotline-inbound"
    call_callback_context: str = "hotline-callback"
    trunk_area_code: str = "0471"
    # Wrap-up after each queue call, per queue as in queues.conf ("queue=seconds,...", "*" default).
    call_wrapup_s: str = "hotline-emergency=10,hotline-general=15,*=15"
    # How long the console or a job waits for callcenter to carry out a telephony command.
    telephony_command_timeout_s: float = 10.0

    # IVR (FastAGI). Flow files (empty: the packaged ivr_flows/flows), the local copy of the
    # prompt files and the path under which Asterisk finds them (sounds/<prefix>/<lang>/<name>).
    ivr_flows_dir: str = ""
    ivr_sounds_dir: Path = Path("asterisk_conf/sounds")
    ivr_sound_prefix: str = "hotline"
    # A reply slower than this (plus a prompt's own wait) means the socket to Asterisk is dead.
    ivr_reply_timeout_s: float = 60.0
    ivr_db_workers: int = 8
    # The longest a caller waits on the database (who is calling, the session's id at the
    # hand-off, a call back): past it the call goes on without the answer, to a person if need be.
    ivr_db_wait_s: float = 2.0
    # Queue, intent and priority for a call the IVR cannot serve (unknown script, a fault).
    ivr_fallback_queue: str = "hotline-general"
    # Offer a call back when the expected wait is at least this long; each caller already
    # waiting in the queue counts as this many seconds.
    ivr_callback_offer_wait_s: int = 120
    ivr_seconds_per_waiting_call: int = 60

    # Proactive care calls (主动关怀): who is called, how often it retries, what follows silence.
    care_min_age: int = 80
    care_categories: str = (
        "extreme_hardship,subsistence,poor_disabled,poor_semi_disabled,bereaved_parent"
    )
    care_living_arrangements: str = "alone,empty_nest"
    care_max_attempts: int = 3
    care_retry_interval_min: int = 30
    care_ring_timeout_s: int = 40
    # An attempt with no outcome after this long counts as not answered.
    care_attempt_timeout_min: int = 10
    care_context: str = "hotline-carecall"
    care_trunk: str = "PJSIP/{number}@trunk"
    care_caller_id: str = "12349"
    care_visit_service_type: str = "visit_home"
    # The IVR's satisfaction survey of an order (a return visit by phone): dialled like a care
    # call (trunk, caller ID, ring time) into this context, which runs the survey flow.
    survey_context: str = "hotline-survey"

    # Web console.
    console_host: str = "127.0.0.1"
    console_port: int = 8000
    session_idle_timeout_min: int = 30
    login_max_failures: int = 5
    login_lockout_min: int = 15
    # Failed logins per source address and window before the address waits (0: off). A whole
    # call centre may sit behind one address: the limit is far above one person's mistakes.
    login_address_max_failures: int = 30
    login_address_window_min: int = 15
    password_min_length: int = 12
    # Days a password lasts (0: for ever). ASVS 4.0 (2.1.10) and NIST SP 800-63B advise
    # against forced periodic changes; an assessment that requires them sets this.
    password_max_age_days: int = 0
    # Roles that need a second factor (TOTP, RFC 6238) after the password, and the issuer name
    # authenticator apps show.
    totp_roles: str = "supervisor,officer,admin,security_admin,auditor"
    totp_issuer: str = "12349热线"
    # Audit and security logs are kept this many days (never fewer than 184: six months).
    audit_retention_days: int = 365
    # Every JSON body (HTTP and Socket.IO): the largest and the most deeply nested accepted.
    json_max_bytes: int = 256 * 1024
    json_max_depth: int = 32
    # Longest free-text note an agent may attach to a call or an order.
    note_max_chars: int = 2000
    # Wallboard thresholds: green at or above the target, amber down to the amber floor, red
    # below; a caller waiting longer than wait_alert_s raises an alert (amber from wait_amber_s).
    answer_rate_target: float = 0.95
    answer_rate_amber: float = 0.90
    # The other tiles' targets: service level (share answered within service_level_s), ASA and
    # abandon rate; green at the target, amber up to the amber bound, red beyond.
    service_level_target: float = 0.80
    service_level_amber: float = 0.70
    asa_target_s: float = 20.0
    asa_amber_s: float = 30.0
    abandon_rate_target: float = 0.05
    abandon_rate_amber: float = 0.10
    wait_amber_s: int = 30
    wait_alert_s: int = 60
    # The queues an agent logs in to from the console (names as in asterisk_conf/queues.conf).
    agent_queues: str = "hotline-emergency,hotline-general"
    # The service type the order form starts from for each intent the IVR found (HOTLINE_INTENT);
    # a service the caller chose in the IVR's menu (its draft order) wins.
    intent_service_types: str = (
        "sos=emergency_sos,emergency=emergency_sos,daily_care=care_cleaning,meal=meal_delivery,"
        "medical=medical_escort,consult=consultation,complaint=complaint"
    )
    # The queues' names as people read them (reports, wallboard), by queue code.
    queue_labels: str = "hotline-emergency=紧急求助队列,hotline-general=综合服务队列"
    # Database connections each console process keeps (requests beyond wait for one): with
    # several workers the sum must stay under the server's max_connections.
    console_db_pool: int = 20
    # Service orders each console process opens at once; more wait here for a slot, which keeps
    # some of the pool's connections for screen pops. An opening holds its slot while the
    # process's other requests take turns on its core: at 4, a console_load run queued openings
    # for seconds (p95 3.8-6.1 s) while the process still had time to spare; at 16, p95 1.3 s.
    console_order_slots: int = 16

    # KPIs (DOMAIN.md section 8): service level threshold and the short-abandon threshold that
    # a report may exclude in its second, labelled answer rate.
    service_level_s: int = 20
    short_abandon_s: int = 5

    # Elders: from this age an elder is flagged 高龄 on the screen pop (80 in most 盟市, lower in some).
    elder_very_old_age: int = 80

    # Notifications and devices.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_api_base: str = ""
    mqtt_url: str = ""

    # Orders after the call. Dispatch ranks covering providers on points per part
    # ("part=points,..."); beyond max distance a provider earns no distance points. Provider
    # statuses cost points and cap the share of capacity they may fill ("status=points:share").
    # A dispatched order must be accepted within its window (minutes per service type code or
    # urgency; the service type wins), else the next provider gets it; an order nobody can take
    # is tried again after the retry interval.
    dispatch_weights: str = "distance=30,load=25,grade=20,credit=15,coverage=10,site=10"
    dispatch_max_distance_km: float = 30.0
    # An emergency order goes only to a provider this close; with nobody that near (or nobody
    # accepting) a person decides: widen the radius, call 120, send the key holder.
    dispatch_emergency_radius_km: float = 15.0
    dispatch_status_rules: str = "warning=-10:0.5,reduced=-20:0.25"
    dispatch_accept_windows: str = "emergency=3,urgent=10,normal=30"
    # A stalled order is tried again after the interval, then after twice as long each time, up
    # to the longest.
    dispatch_retry_interval_s: int = 120
    dispatch_retry_longest_s: int = 1800
    # An SLA breach escalates the order; with this on, it also goes back to dispatch.
    sla_redispatch_on_breach: bool = True
    # SMS: attempts and back-off (base x 2^n seconds) for a rate-limited or failing gateway, and
    # how long after sending the delivery status is fetched. Events that text the family.
    sms_max_attempts: int = 5
    sms_retry_base_s: int = 30
    sms_status_poll_s: int = 60
    sms_family_events: str = "accepted,checked_in,completed"
    # Provider reporting API: allowed clock skew, how long a nonce is remembered, how long a
    # rotated key still works.
    provider_api_max_skew_s: int = 300
    provider_api_nonce_ttl_s: int = 900
    provider_api_key_grace_h: int = 24
    # Data exchange upward (standard 5.2): the platform above this one (a league's sends to the
    # region's, the region's to the national 金民工程 system), this platform's key issued there,
    # and the back-off between attempts (base x 2^n seconds, capped) until it acknowledges.
    exchange_upstream_url: str = ""
    exchange_upstream_key_id: str = ""
    exchange_upstream_secret: str = ""
    exchange_upstream_cipher: str = "aes-256-gcm"
    exchange_retry_base_s: float = 30.0
    exchange_retry_max_s: float = 3600.0
    # Provider portal: photo size limit and the elder's confirmation code (lifetime, tries).
    order_photo_max_bytes: int = 6 * 1024 * 1024
    confirmation_code_ttl_h: int = 24
    confirmation_code_max_tries: int = 5
    # Return visits: due this long after completion; unreachable elders are tried again after
    # the retry interval, up to the attempt limit.
    return_visit_after_h: int = 24
    return_visit_retry_h: int = 4
    return_visit_max_attempts: int = 3
    # Provider evaluation: points per part, grade floors, the status each grade leads to, the
    # score below which a provider is suspended, and the fewest orders that justify a change.
    evaluation_weights: str = "on_time=30,satisfaction=30,complaints=20,credit=20"
    evaluation_grade_floors: str = "A=90,B=75,C=60,D=0"
    evaluation_grade_status: str = "A=normal,B=normal,C=warning,D=reduced"
    evaluation_suspend_below: float = 40.0
    evaluation_min_orders: int = 5
    # RQ queues `hotline worker` serves, in priority order.
    worker_queues: str = "dispatch,sla,default,sms"
    # The outbox: a committed row is left this long to the process that committed it (which
    # hands it on at once) before a relay takes it; relays look this often; an RQ job handed
    # this long ago is checked (ended: its row goes; lost with Redis or a killed worker: queued
    # again).
    outbox_grace_s: float = 3.0
    outbox_poll_s: float = 1.0
    outbox_check_handed_s: float = 5.0
    # PostgreSQL ends a session left idle inside a transaction this long (its locks with it): a
    # process frozen or killed mid-transaction never holds rows for ever. 0 leaves it off.
    db_idle_in_transaction_timeout_s: int = 60

    # The warehouse (platform_core/warehouse): a ClickHouse server's HTTP URL
    # (http://user:password@host:8123); empty means chDB, ClickHouse in-process, in data_dir.
    clickhouse_url: str = ""
    # The primary database as ClickHouse reaches it, when that differs from database_url.
    warehouse_source_url: str = ""
    # The sync reads the changes every this many seconds, and each pass reads again the rows
    # changed in the last lookback seconds (a transaction that committed late, a skewed clock).
    warehouse_sync_interval_s: float = 1.0
    warehouse_lookback_s: float = 30.0
    # The embedded process (demo, console on chDB) runs the sync itself.
    warehouse_sync_embedded: bool = True

    # Care modules: defaults that a 盟市 may override in its care policy (care_policies table).
    # Months between two GB/T 42195-2022 assessments of an elder, and how many days before the
    # due date the re-assessment reminder goes out.
    assessment_interval_months: int = 12
    assessment_reminder_lead_days: int = 30
    # A font with Chinese glyphs for printed reports and notices (TTF/TTC); empty means Debian's
    # fonts-wqy-microhei or fonts-noto-cjk where installed.
    report_font_path: str = ""

    # Service orders: an appointment (requested time) must be met within this grace, and a
    # check-in farther than this from the service address is flagged on the order's history.
    order_appointment_grace_min: int = 30
    order_check_in_radius_m: int = 500
    # The shortest service at the home a check-out may close, in minutes per service type code
    # ("*" for the rest): a check-out seconds after the check-in is refused on every channel.
    order_min_service_min: str = "meal_delivery=0,meal_aid_delivery=0,care_unlock=1,*=5"

    # Alarms and devices (DOMAIN.md sections 8 and 9). Devices publish on
    # {mqtt_topic_prefix}/{vendor}/{device}/{alarm|heartbeat}; the intake keeps one persistent
    # session per lane on the broker (client id + lane), kept this long while the intake is away.
    mqtt_topic_prefix: str = "hotline/dev"
    mqtt_client_id: str = "hotline-alarm-intake"
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    # Vendor platforms' webhooks (HTTP); port 0 leaves HTTP intake off.
    alarm_http_host: str = "127.0.0.1"
    alarm_http_port: int = 8025
    # Vendors "code:名称:protocol,..." and their signing secrets "code=secret,..." (generated and
    # kept in the data directory when not given); a signed webhook outside this skew is refused.
    alarm_vendors: str = "ankang:安康通:hx-json,yijia:颐家:dc09-cid,hejiaqin:中国移动和家亲:hx-json"
    alarm_vendor_secrets: str = ""
    alarm_signature_max_skew_s: int = 300
    # Writer threads of the intake's alarm lane, each owning the devices that hash to it. One on
    # a host PostgreSQL shares: a second or third gave a 500-alarm burst nothing on two cores;
    # more may pay where the database has cores of its own (measure with bench/alarms.py).
    alarm_writers: int = 1
    # Expected heartbeat interval per device type (a device's own interval wins); a device silent
    # for interval x grace factor is offline with a link-fault alarm; how often that is checked.
    device_heartbeat_intervals: str = (
        "sos_pendant=3600,fixed_caller=3600,smart_watch=900,fall_detector=600,"
        "smart_mattress=600,pir=600,door=600,smoke=600,gas=600,water=600"
    )
    heartbeat_grace_factor: float = 2.5
    heartbeat_check_interval_s: int = 60
    # Flood damping: repeats folded into an open alarm are announced at most this often; a
    # technical alarm raised again this soon after its restore reopens the same alarm.
    alarm_repeat_notify_s: int = 30
    alarm_chatter_window_s: int = 600
    # Timers: an alarm nobody took prompts a supervisor; each rung of the ladder prompts the agent,
    # then (after as long again) the supervisor. "rung=seconds,...".
    alarm_take_timeout_s: int = 60
    # The alarm queue: a waiting alarm is reserved for one ready agent at a time; a reservation
    # not taken within this many seconds lapses (supervisors are told) and goes to the next.
    alarm_offer_timeout_s: int = 20
    alarm_step_timeouts: str = (
        "talk_to_elder=90,call_landline=60,call_contact=120,call_emergency=180,"
        "dispatch_provider=600,on_site=1800"
    )
    # Answered-within targets "seconds:share,..." (telecare: 97.5% in 60 s, 99% in 180 s).
    alarm_answer_targets: str = "60:0.975,180:0.99"
    # Service type of the emergency order per alarm type ("*" for the rest).
    alarm_order_service_types: str = (
        "fall=emergency_fall,health_threshold=emergency_health_alarm,"
        "no_activity=emergency_health_alarm,*=emergency_sos"
    )
    # Maintenance: on site within this many hours of a fault report; free repair or replacement
    # within the service period after installation; return visits about device use.
    maintenance_onsite_hours: int = 48
    device_service_months: int = 36
    device_return_visit_days: int = 90
    # Heartbeat and battery history: one row per device and hour, kept this many days.
    device_heartbeat_history_days: int = 90
    # The registries: the largest Excel file an import takes, and rows per page of a list.
    registry_import_max_mb: int = 20
    registry_page_size: int = 50
    # Service types that need a named qualification of the practitioner sent
    # ("care_bathing=养老护理员,*=健康证"); without one, any unexpired qualification will do.
    staff_required_qualifications: str = ""
    # The family (用户端): an invitation texted to a family member works once, for this many
    # hours; its link starts with the console's address as family members reach it ("" leaves
    # the link out and the text names the code and the page's path).
    family_invitation_ttl_h: int = 72
    console_public_url: str = ""

    # Community services. Day care: a check-in that brings the elders present to this share of
    # the site's places warns the site's screen and the supervisors (and again at full).
    daycare_warn_share: float = 0.9
    # Social work: a worker's most open cases (unless a profile says otherwise), and how often
    # a case in service is visited unless its plan says otherwise.
    social_work_max_caseload: int = 30
    social_work_visit_interval_days: int = 14
    # Volunteers and the time bank: a member's most hours (what an earning brings past it goes
    # to the league's community pool); a check-in at an activity within this many metres of it
    # and from this many minutes before it starts.
    timebank_balance_cap_h: float = 300.0
    # Codes texted to prove a phone (volunteers, the online channel): minutes a code lives,
    # tries per code, codes per phone an hour.
    verification_code_ttl_min: int = 10
    verification_code_max_tries: int = 5
    verification_codes_per_hour: int = 5
    activity_check_in_radius_m: int = 300
    activity_check_in_early_min: int = 30
    # The online channel: a family member's conversation is answered within this many seconds
    # (the target its KPIs count against); a waiting conversation is reserved for one ready
    # agent at a time for so many seconds; an agent holds at most so many at once; a photo sent
    # with a message is at most so large.
    chat_answer_target_s: int = 60
    chat_offer_timeout_s: int = 30
    chat_max_per_agent: int = 3
    chat_photo_max_bytes: int = 5 * 1024 * 1024

    # Production serving and operations. The console's server (gunicorn-gevent: one gevent
    # worker per process, as Flask-SocketIO requires; gunicorn: one gthread worker; werkzeug: the
    # development server the demo embeds), connections per process (with gthread each WebSocket
    # holds a thread), how long a request may take to arrive and how long an idle keep-alive
    # connection is kept.
    console_server: str = "gunicorn-gevent"
    console_threads: int = 1000
    console_read_timeout_s: int = 30
    console_idle_timeout_s: int = 75
    # Addresses of the reverse proxy (nginx) in front of the console, comma-separated CIDRs:
    # only requests arriving from them have their X-Forwarded-For/-Proto/-Host believed.
    console_trusted_proxies: str = ""
    # Who may read /metrics (Prometheus), comma-separated CIDRs.
    metrics_allow: str = "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    # Services without HTTP of their own (callcenter, ivr, alarm intake, worker) serve
    # /metrics, /healthz and /readyz on this port (0: off).
    metrics_port: int = 0
    metrics_host: str = "0.0.0.0"
    # Log lines: "text" for a terminal, "json" (one object per line) for a log collector.
    log_format: str = "text"
    # Backups (hotline backup / restore): the pgBackRest stanza, the operating-system user
    # pgBackRest runs as (the database's owner), where the data directory's archives go, and the
    # passphrase that seals the keys stored with them (empty: keys are not stored).
    backup_stanza: str = "hotline"
    backup_os_user: str = "postgres"
    backup_files_dir: Path = Path("var/backups")
    backup_passphrase: str = ""

    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}"

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    def data_key_bytes(self) -> bytes:
        try:
            key = base64.urlsafe_b64decode(self.data_key.encode())
        except (ValueError, TypeError) as exc:
            raise SettingsError("HOTLINE_DATA_KEY 不是合法的 base64 / not valid base64") from exc
        if len(key) != 32:
            raise SettingsError("HOTLINE_DATA_KEY 必须是 32 字节 / must decode to 32 bytes")
        return key

    def retired_data_keys(self) -> list[bytes]:
        """Earlier data keys still read during a rotation (HOTLINE_DATA_KEYS_RETIRED)."""
        out = []
        for raw in (k.strip() for k in self.data_keys_retired.split(",")):
            if raw:
                key = base64.urlsafe_b64decode(raw.encode())
                if len(key) != 32:
                    raise SettingsError(
                        "HOTLINE_DATA_KEYS_RETIRED: 每个密钥须 32 字节 / 32 bytes each"
                    )
                out.append(key)
        return out

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _coerce(name: str, raw: str, target: Any) -> Any:
    if target is int:
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingsError(
                f"{PREFIX}{name.upper()}={raw!r} 不是整数 / is not an integer"
            ) from exc
    if target is float:
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingsError(
                f"{PREFIX}{name.upper()}={raw!r} 不是数字 / is not a number"
            ) from exc
    if target is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if target is Path:
        return Path(raw)
    return raw


def load_settings(
    environ: Mapping[str, str] | None = None, *, ensure_secrets: bool = True
) -> Settings:
    """Read ``HOTLINE_*`` variables into :class:`Settings`.

    With ``ensure_secrets`` the secret and data keys are generated (once, persisted in the data
    directory) when the environment does not provide them, so the embedded demo starts with no
    configuration while production supplies its own.
    """
    env = os.environ if environ is None else environ
    hints = get_type_hints(Settings)
    values: dict[str, Any] = {}
    known = set()
    for f in fields(Settings):
        if f.name == "extra":
            continue
        known.add(PREFIX + f.name.upper())
        raw = env.get(PREFIX + f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = _coerce(f.name, raw, hints[f.name])
    extra = {
        k[len(PREFIX) :].lower(): v
        for k, v in env.items()
        if k.startswith(PREFIX) and k not in known
    }
    settings = Settings(**values, extra=extra)
    if ensure_secrets:
        settings = _with_generated_secrets(settings)
    return settings


def _with_generated_secrets(settings: Settings) -> Settings:
    changes: dict[str, str] = {}
    if not settings.secret_key:
        changes["secret_key"] = _persisted_secret(
            settings.data_dir / "secret_key", lambda: secrets.token_urlsafe(48)
        )
    if not settings.data_key:
        changes["data_key"] = _persisted_secret(
            settings.data_dir / "data_key",
            lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        )
    retired = settings.data_dir / "data_keys_retired"
    if not settings.data_keys_retired and retired.exists():  # left by `hotline keys rotate --new`
        changes["data_keys_retired"] = retired.read_text().strip()
    if not settings.ami_secret:
        changes["ami_secret"] = _persisted_secret(
            settings.data_dir / "ami_secret", lambda: secrets.token_urlsafe(18)
        )
    if not settings.ami_pop_secret:
        changes["ami_pop_secret"] = _persisted_secret(
            settings.data_dir / "ami_pop_secret", lambda: secrets.token_urlsafe(18)
        )
    return replace(settings, **changes) if changes else settings  # type: ignore[arg-type]


def _persisted_secret(path: Path, make: Any) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value: str = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # another process sharing the data directory made it first (two console processes
        # starting together): theirs is the one
        for _ in range(50):
            existing = path.read_text().strip()
            if existing:
                return existing
            time.sleep(0.02)
        raise
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


_DEFAULT_SETTINGS = Settings()


def settings_of(session: Session) -> Settings:
    """The settings of the deployment this session belongs to (defaults for a bare session)."""
    return session.info.get("settings") or _DEFAULT_SETTINGS
