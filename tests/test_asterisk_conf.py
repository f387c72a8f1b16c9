"""asterisk_conf/ and compose.yaml, parsed (pyst2's Asterisk config parser, PyYAML) and
cross-checked: every queue, context and AGI target one names exists in the other, the AMI user
is least-privilege and tied to callcenter's address, and every credential comes from the
environment."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from asterisk.config import Config

from callcenter.pbx_sim.config import default_queues, screen_pop_user
from platform_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "asterisk_conf"
PLACEHOLDER = re.compile(r"\$\{(ASTERISK_[A-Z0-9_]+)\}")
SECRET_KEYS = {"secret", "password", "md5_cred"}


def sections(name: str) -> list[tuple[str, dict[str, list[str]]]]:
    out = []
    for cat in Config(str(CONF / f"{name}.conf")).categories:
        items: dict[str, list[str]] = {}
        for item in cat.items:
            items.setdefault(item.name.strip(), []).append(item.value.strip())
        out.append((cat.name, items))
    return out


def merged(name: str) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {}
    for section, items in sections(name):
        target = out.setdefault(section, {})
        for k, v in items.items():
            target.setdefault(k, []).extend(v)
    return out


def dialplan() -> dict[str, list[str]]:
    """context -> its extension lines (``exten =>`` and ``same =>`` values)."""
    return {
        ctx: items.get("exten", []) + items.get("same", [])
        for ctx, items in merged("extensions").items()
    }


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def test_every_file_parses() -> None:
    for name in ("manager", "pjsip", "extensions", "queues"):
        assert sections(name), name


def test_queues_of_the_dialplan_exist_and_every_queue_is_reachable() -> None:
    queues = {name for name, _ in sections("queues")} - {"general"}
    named = set()
    for lines in dialplan().values():
        for line in lines:
            named |= set(re.findall(r"Queue\((hotline-[a-z]+)", line))
            named |= set(re.findall(r"HOTLINE_QUEUE=(hotline-[a-z]+)", line))
    assert named <= queues and queues <= named
    settings = Settings()
    assert set(settings.agent_queues.split(",")) <= queues
    assert settings.ivr_fallback_queue in queues


def test_simulator_and_settings_mirror_queues_conf() -> None:
    conf = {name: items for name, items in sections("queues") if name != "general"}
    sim = {q.name: q for q in default_queues()}
    assert set(sim) == set(conf)
    for name, items in conf.items():
        q = sim[name]
        assert items["strategy"] == [q.strategy]
        assert [
            int(items["weight"][0]),
            float(items["timeout"][0]),
            float(items["retry"][0]),
            float(items["wrapuptime"][0]),
            int(items["servicelevel"][0]),
        ] == [q.weight, q.timeout, q.retry, q.wrapuptime, q.servicelevel]
    wrapups = dict(p.split("=") for p in Settings().call_wrapup_s.split(","))
    for name, items in conf.items():
        assert float(wrapups[name]) == float(items["wrapuptime"][0])
    globals_ = {k: v[0] for k, v in merged("extensions")["globals"].items()}
    assert float(globals_["QUEUE_WAIT_GENERAL"]) == sim["hotline-general"].max_wait
    assert float(globals_["QUEUE_WAIT_EMERGENCY"]) == sim["hotline-emergency"].max_wait


def test_contexts_named_anywhere_exist_in_the_dialplan() -> None:
    contexts = set(dialplan())
    settings = Settings()
    named = {items["context"][0] for _, items in sections("pjsip") if "context" in items}
    named |= set(settings.call_inbound_contexts.split(",")) | {
        settings.call_callback_context,
        settings.care_context,
        settings.survey_context,
    }
    named.add("hotline-transfer")  # TelephonyClient.transfer
    for lines in dialplan().values():
        named |= set(re.findall(r"Goto\((hotline-[a-z]+),", " ".join(lines)))
    assert named <= contexts, named - contexts
    assert {
        "hotline-inbound",
        "hotline-agents",
        "hotline-callback",
        "hotline-transfer",
        "hotline-carecall",
        "hotline-survey",
    } <= named


def test_transfer_targets_are_queues_by_short_name() -> None:
    queues = {name for name, _ in sections("queues")} - {"general"}
    extens = {line.split(",", 1)[0] for line in merged("extensions")["hotline-transfer"]["exten"]}
    short = {e for e in extens if not e.startswith("_")}
    assert {f"hotline-{e}" for e in short} == queues
    assert all("-" not in e for e in short)  # Asterisk ignores dashes in extension names


def test_agi_targets_are_the_ivr_service_and_its_flows(compose) -> None:
    globals_ = {k: v[0] for k, v in merged("extensions")["globals"].items()}
    url = globals_["IVR"]
    m = re.fullmatch(r"agi://([a-z]+):(\d+)", url)
    assert m, url
    host, port = m.group(1), m.group(2)
    service = compose["services"][host]
    assert service["command"][:2] == ["hotline", "ivr"]
    assert service["environment"]["HOTLINE_AGI_PORT"] == port
    scripts = set()
    for lines in dialplan().values():
        scripts |= set(re.findall(r"AGI\(\$\{IVR\}/([a-z]+)\)", " ".join(lines)))
    assert scripts == {"main", "survey", "carecall"}
    flows = ROOT / "ivr_flows" / "flows"
    if flows.is_dir():
        assert {p.stem for p in flows.glob("*.yaml")} >= scripts


def test_ami_user_is_least_privilege_and_only_for_callcenter(compose) -> None:
    manager = merged("manager")
    general = {k: v[0] for k, v in manager["general"].items()}
    assert (general["enabled"], general["timestampevents"], general["writetimeout"]) == (
        "yes",
        "yes",
        "100",
    )
    channelvars = set(general["channelvars"].split(","))
    assert {
        "HOTLINE_ELDER_ID",
        "HOTLINE_INTENT",
        "HOTLINE_PRIORITY",
        "HOTLINE_QUEUE",
    } <= channelvars
    users = [name for name in manager if name != "general"]
    assert users == ["hotline", "hotline-pop"]
    user = manager["hotline"]
    assert user["deny"] == ["0.0.0.0/0.0.0.0"]
    assert user["permit"] == ["${ASTERISK_CALLCENTER_IP}/255.255.255.255"]
    read, write = set(user["read"][0].split(",")), set(user["write"][0].split(","))
    assert read == {"call", "agent", "user"}
    assert write == {"call", "agent", "originate", "reporting", "user"}
    assert not ({"all", "system", "config", "command"} & (read | write))
    cc = compose["services"]["callcenter"]
    asterisk_env = compose["services"]["asterisk"]["environment"]
    assert cc["environment"]["HOTLINE_AMI_USERNAME"] == users[0]
    assert cc["environment"]["HOTLINE_AMI_HOST"] == "asterisk"
    assert cc["environment"]["HOTLINE_AMI_PORT"] == general["port"]
    assert cc["networks"]["telephony"]["ipv4_address"] == asterisk_env["ASTERISK_CALLCENTER_IP"]
    # callcenter's secret and manager.conf's come from the same environment variable
    assert user["secret"] == ["${ASTERISK_AMI_SECRET}"]
    assert cc["environment"]["HOTLINE_AMI_SECRET"].startswith("${ASTERISK_AMI_SECRET:?")
    for name, service in compose["services"].items():
        if name not in ("callcenter", "asterisk", "screen-pop"):
            assert "telephony" not in (service.get("networks") or {}) or name == "ivr", name


def test_the_screen_pop_user_reads_the_rings_alone_from_its_own_address(compose) -> None:
    """manager.conf's [hotline-pop]: read class agent, no write class, Asterisk's filter
    passing AgentCalled only; the simulator plays the same user; compose runs the service
    from the address it permits, with the secret Asterisk has."""
    user = merged("manager")["hotline-pop"]
    assert user["deny"] == ["0.0.0.0/0.0.0.0"]
    assert user["permit"] == ["${ASTERISK_SCREEN_POP_IP}/255.255.255.255"]
    assert "write" not in user
    sim_user = screen_pop_user("x")
    assert user["read"] == [sim_user.read] == ["agent"]
    assert user["eventfilter"] == sim_user.eventfilter == ["Event: AgentCalled"]
    assert sim_user.write == ""
    pops = compose["services"]["screen-pop"]
    asterisk_env = compose["services"]["asterisk"]["environment"]
    assert pops["command"] == ["hotline", "callcenter", "pops"]
    assert pops["networks"]["telephony"]["ipv4_address"] == asterisk_env["ASTERISK_SCREEN_POP_IP"]
    assert user["secret"] == ["${ASTERISK_AMI_POP_SECRET}"]
    assert pops["environment"]["HOTLINE_AMI_POP_SECRET"].startswith("${ASTERISK_AMI_POP_SECRET:?")
    assert pops["environment"]["HOTLINE_AMI_POP_USERNAME"] == "hotline-pop"
    assert pops["environment"]["HOTLINE_AMI_HOST"] == "asterisk"


def test_credentials_come_from_the_environment(compose) -> None:
    used: set[str] = set()
    for path in CONF.glob("*.conf"):
        text = path.read_text(encoding="utf-8")
        used |= set(PLACEHOLDER.findall(text))
        for _, items in sections(path.stem):
            for key, values in items.items():
                if key in SECRET_KEYS:
                    assert all(PLACEHOLDER.fullmatch(v) for v in values), (path.name, key, values)
    env = compose["services"]["asterisk"]["environment"]
    assert used <= set(env), used - set(env)
    secret_like = [k for k in env if re.search(r"SECRET|PASSWORD", k)]
    assert secret_like and all(re.fullmatch(rf"\$\{{{k}:\?[^}}]*\}}", env[k]) for k in secret_like)
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD|_KEY$", key):
                assert str(value).startswith("${") and ":?" in str(value), (name, key)
    for key in ("HOTLINE_DATABASE_URL",):
        assert "${POSTGRES_PASSWORD:?" in compose["services"]["callcenter"]["environment"][key]


def test_compose_runs_every_process_against_postgres_and_redis(compose) -> None:
    services = compose["services"]
    assert {"asterisk", "postgres", "redis", "callcenter", "screen-pop", "ivr", "worker"} <= set(
        services
    )
    commands = {name: s.get("command") for name, s in services.items()}
    assert commands["callcenter"] == ["hotline", "callcenter"]
    assert commands["console-1"] == commands["console-2"] == ["hotline", "console"]
    assert commands["worker"][:2] == ["hotline", "worker"]
    for name in ("console-1", "console-2", "callcenter", "screen-pop", "ivr", "worker"):
        env = services[name]["environment"]
        assert env["HOTLINE_DATABASE_URL"].startswith("postgresql://")
        assert "host=postgres:5432" in env["HOTLINE_DATABASE_URL"]
        assert env["HOTLINE_REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")
        assert env["HOTLINE_REDIS_URL"].endswith("@redis:6379/0")
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )


def _interpolate(text: str, env: dict[str, str]) -> str:
    """docker compose's interpolation of a string: $$ -> $, ${VAR...} -> env."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env[m.group(1)]

    return re.sub(r"\$\$|\$\{([A-Za-z0-9_]+)(?::[?-][^}]*)?\}", one, text)


@pytest.mark.skipif(
    shutil.which("gawk") is None, reason="gawk renders the templates in the container"
)
def test_the_entrypoint_renders_placeholders_and_nothing_else(compose, tmp_path) -> None:
    script = compose["services"]["asterisk"]["entrypoint"][2]
    assert not re.search(r"\$(?!\$|\{)", script.replace("$$", "")), (
        "a lone $ would break compose interpolation"
    )
    rendered = _interpolate(script, {})
    program = re.search(r"gawk '(.*?)' \"\$f\"", rendered, re.S)
    assert program, rendered
    env = {
        name: f"value-of-{name.lower()}" for name in compose["services"]["asterisk"]["environment"]
    }
    for name in ("extensions", "manager", "pjsip"):
        out = subprocess.run(
            ["gawk", program.group(1), str(CONF / f"{name}.conf")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert not PLACEHOLDER.search(out)
        if name == "manager":
            assert "secret = value-of-asterisk_ami_secret" in out
            assert "permit = value-of-asterisk_callcenter_ip/255.255.255.255" in out
        if name == "extensions":
            assert (
                "${HOTLINE_QUEUE}" in out and "${IVR}/main" in out
            )  # dialplan variables untouched
    missing = subprocess.run(
        ["gawk", program.group(1), str(CONF / "manager.conf")],
        env={},
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "missing ASTERISK_AMI_SECRET" in missing.stderr
