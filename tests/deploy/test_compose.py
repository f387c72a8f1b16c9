"""compose.yaml checked against the code it runs (Docker is not needed: the file is parsed):
every command is a real ``hotline`` command with real options, every HOTLINE_* variable a real
setting, every secret named in .env.example, every service a feature needs present and wired,
a healthcheck on every long-running service, named volumes for what must survive a container,
Mosquitto's accounts and ACL matching the vendors, nginx's template filled completely."""

from __future__ import annotations

import re
import shlex
from dataclasses import fields
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click
import pytest

from hotline.cli import cli
from platform_core.settings import PREFIX, Settings
from tests.deploy.support import NGINX_TEMPLATE, PLACEHOLDER

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {PREFIX + f.name.upper() for f in fields(Settings) if f.name != "extra"}
HOTLINE_SERVICES = (
    "console-1",
    "console-2",
    "callcenter",
    "ivr",
    "alarm-intake",
    "worker",
    "backup",
    "migrate",
    "warehouse",
)
VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)(:?[-?][^}]*)?\}")


def _resolve(argv: list[str]) -> click.Context:
    """Parse ``hotline ARGS`` as the command would, without running it: an unknown command or
    option raises."""
    assert argv[0] == "hotline", argv
    ctx = click.Context(cli, info_name="hotline")
    command: click.Command = cli
    args = list(argv[1:])
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(ctx, args[0])
        assert sub is not None, f"no such command: {' '.join(argv)}"
        ctx = click.Context(sub, info_name=args[0], parent=ctx)
        command, args = sub, args[1:]
    return command.make_context(ctx.info_name, args, parent=ctx.parent)


def _hotline_invocations(service: dict) -> list[list[str]]:
    command = service.get("command") or []
    if command[:1] == ["hotline"]:
        return [command]
    script = " ".join(command)
    found = []
    for line in script.replace(";", "\n").replace("then", "\n").replace("else", "\n").splitlines():
        line = line.strip()
        if line.startswith("hotline "):
            found.append(shlex.split(line.split(" fi")[0].replace("$$", "$")))
    return found


def _env_example() -> dict[str, str]:
    out = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def test_every_command_exists_with_its_options(compose) -> None:
    checked = 0
    for name in HOTLINE_SERVICES:
        invocations = _hotline_invocations(compose["services"][name])
        assert invocations, f"{name} runs no hotline command"
        for argv in invocations:
            _resolve(argv)
            checked += 1
    for service in compose["services"].values():
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[1:2] == ["hotline"]:
            _resolve(test[1:])
            checked += 1
    assert checked >= 12
    with pytest.raises(click.UsageError):  # the check itself catches a wrong option
        _resolve(["hotline", "console", "--no-such-option"])


def test_every_variable_is_a_real_setting(compose) -> None:
    for name, service in compose["services"].items():
        for key in service.get("environment") or {}:
            if key.startswith(PREFIX):
                assert key in SETTINGS, f"{name}: {key} is not a setting"
    for key in _env_example():
        if key.startswith(PREFIX):
            assert key in SETTINGS, f".env.example: {key} is not a setting"


def test_every_secret_is_named_in_env_example_and_nothing_else_is_there(compose) -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    required = {m.group(1) for m in VARIABLE.finditer(text.replace("$$", "")) if m.group(2)}
    example = _env_example()
    assert required <= set(example), required - set(example)
    assert set(example) <= required, set(example) - required  # no stale names
    mandatory = {
        m.group(1)
        for m in VARIABLE.finditer(text.replace("$$", ""))
        if (m.group(2) or "").startswith(":?")
    }
    secret_like = {k for k in mandatory if re.search(r"PASSWORD|SECRET|KEY|PASS|TOKEN", k)}
    assert {k for k in secret_like if k.startswith("HOTLINE_") or k.startswith("ASTERISK_")} - {
        "HOTLINE_ALARM_VENDOR_SECRETS"
    } <= {k for k, v in example.items() if v == ""}, "secrets ship empty"


def test_services_every_feature_needs_are_there_and_wired(compose) -> None:
    services = compose["services"]
    needed = {
        "nginx",
        "console-1",
        "console-2",
        "callcenter",
        "ivr",
        "alarm-intake",
        "mosquitto",
        "worker",
        "postgres",
        "postgres-standby",
        "redis",
        "backup",
        "asterisk",
        "prometheus",
        "clickhouse",
        "warehouse",
    }
    assert needed <= set(services)
    # the warehouse: the consoles read the ClickHouse server the sync fills; ClickHouse reads
    # PostgreSQL's timestamps in UTC
    assert services["warehouse"]["command"] == ["hotline", "warehouse", "sync"]
    for name in ("warehouse", "console-1", "console-2"):
        url = urlsplit(VARIABLE.sub("x", services[name]["environment"]["HOTLINE_CLICKHOUSE_URL"]))
        assert (url.scheme, url.hostname, url.port, url.username) == (
            "http",
            "clickhouse",
            8123,
            services["clickhouse"]["environment"]["CLICKHOUSE_USER"],
        ), name
    assert services["clickhouse"]["environment"]["PGTZ"] == "UTC"
    assert "ports" not in services["clickhouse"]
    assert services["alarm-intake"]["command"] == ["hotline", "devices", "intake"]
    mqtt = urlsplit(VARIABLE.sub("x", services["alarm-intake"]["environment"]["HOTLINE_MQTT_URL"]))
    assert (mqtt.scheme, mqtt.hostname, mqtt.port, mqtt.username) == (
        "mqtts",
        "mosquitto",
        8883,
        "hotline-intake",
    )
    # every hotline service reaches the primary through both hosts, wherever it is now
    for name in HOTLINE_SERVICES:
        env = services[name]["environment"]
        url = urlsplit(VARIABLE.sub("x", env["HOTLINE_DATABASE_URL"]))
        query = parse_qs(url.query)
        assert query["host"] == ["postgres:5432", "postgres-standby:5432"], name
        assert query["target_session_attrs"] == ["read-write"], name
        assert env["HOTLINE_REDIS_URL"].endswith("@redis:6379/0")
        assert env["HOTLINE_LOG_FORMAT"] == "json"
        assert env["HOTLINE_DATA_DIR"] == "/var/lib/hotline"
    # PostgreSQL archives WAL with pgBackRest; the standby streams; Redis keeps an AOF
    conf = (ROOT / "deploy" / "postgres" / "postgresql.conf").read_text()
    assert re.search(r"^archive_mode = on$", conf, re.M)
    assert "pgbackrest --stanza=hotline archive-push %p" in conf
    assert services["postgres"]["command"][-1].endswith("/etc/hotline-postgres/postgresql.conf")
    stanza = re.search(
        r"^\[(\w+)\]$", (ROOT / "deploy/pgbackrest/pgbackrest.conf").read_text(), re.M | re.S
    )
    assert (
        stanza
        and Settings().backup_stanza in (ROOT / "deploy/pgbackrest/pgbackrest.conf").read_text()
    )
    assert services["postgres-standby"]["environment"]["PRIMARY_HOST"] == "postgres"
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"


def test_the_console_is_published_only_through_nginx(compose) -> None:
    services = compose["services"]
    nginx = services["nginx"]
    assert sorted(nginx["ports"]) == ["443:443", "80:80"]
    template = NGINX_TEMPLATE.read_text(encoding="utf-8")
    assert set(PLACEHOLDER.findall(template)) == set(nginx["environment"])
    script = nginx["command"][2]
    assert set(re.findall(r"\$\$\{(NGINX_[A-Z0-9_]+)\}", script)) == set(nginx["environment"])
    proxy_ip = nginx["networks"]["edge"]["ipv4_address"]
    consoles = [n for n in services if n.startswith("console-")]
    upstreams = {v for k, v in nginx["environment"].items() if k.startswith("NGINX_CONSOLE_")}
    for name in consoles:
        env = services[name]["environment"]
        assert f"{name}:{env['HOTLINE_CONSOLE_PORT']}" in upstreams
        assert env["HOTLINE_CONSOLE_TRUSTED_PROXIES"] == f"{proxy_ip}/32"
        assert "ports" not in services[name], f"{name} is published around nginx"
        assert services[name]["command"] == ["hotline", "console"]
    assert len(upstreams) == len(consoles) >= 2
    # vendors' webhooks come in over TLS through nginx, never straight to the intake
    intake = services["alarm-intake"]
    assert "ports" not in intake and "edge" in intake["networks"]
    assert nginx["environment"]["NGINX_ALARM_INTAKE"] == (
        f"alarm-intake:{intake['environment']['HOTLINE_ALARM_HTTP_PORT']}"
    )


def test_healthchecks_on_every_long_running_service(compose) -> None:
    for name, service in compose["services"].items():
        if service.get("restart") == "no":
            continue  # one-shot
        check = service.get("healthcheck") or {}
        assert not check.get("disable") and check.get("test"), f"{name} has no healthcheck"
    hotline_ports = {
        name: compose["services"][name]["healthcheck"]["test"] for name in ("console-1", "worker")
    }
    assert hotline_ports["console-1"] == ["CMD", "hotline", "healthcheck", "--port", "8000"]
    assert hotline_ports["worker"] == ["CMD", "hotline", "healthcheck"]
    assert compose["services"]["worker"]["environment"]["HOTLINE_METRICS_PORT"] == "9100"


def test_named_volumes_keep_what_must_survive_a_container(compose) -> None:
    declared = set(compose["volumes"])
    services = compose["services"]

    def mounts(name: str) -> dict[str, str]:
        out = {}
        for v in services[name].get("volumes") or []:
            source, target = v.split(":")[:2]
            out[target] = source
        return out

    # the data directory: one volume shared by the console processes, the worker and backups
    for name in ("console-1", "console-2", "worker", "backup"):
        assert mounts(name)["/var/lib/hotline"] == "hotline-data", name
    assert mounts("postgres")["/var/lib/postgresql/data"] == "pgdata"
    assert mounts("postgres")["/var/lib/pgbackrest"] == "pgbackrest"
    assert mounts("backup")["/var/lib/pgbackrest"] == "pgbackrest"
    assert mounts("redis")["/data"] == "redisdata"
    assert mounts("mosquitto")["/mosquitto/data"] == "mosquitto-data"
    assert mounts("clickhouse")["/var/lib/clickhouse"] == "clickhouse-data"
    used = {
        src
        for name in services
        for src in mounts(name).values()
        if not src.startswith((".", "/", "$"))
    }
    assert used <= declared and declared <= used
    assert "/tmp" not in " ".join(str(s.get("environment")) for s in services.values())


def test_mosquitto_accounts_and_acl_follow_the_vendors(compose) -> None:
    settings = Settings()
    vendors = [v.split(":")[0] for v in settings.alarm_vendors.split(",")]
    prefix = settings.mqtt_topic_prefix
    acl: dict[str, list[str]] = {}
    user = None
    for line in (ROOT / "deploy/mosquitto/acl").read_text().splitlines():
        line = line.strip()
        if line.startswith("user "):
            user = line.split()[1]
            acl[user] = []
        elif line.startswith("topic ") and user:
            acl[user].append(line[len("topic ") :])
    for vendor in vendors:
        assert acl[vendor] == [f"write {prefix}/{vendor}/#"], vendor
    assert acl["hotline-intake"] == [f"read {prefix}/#"]
    mosquitto = compose["services"]["mosquitto"]
    script = mosquitto["command"][2]
    accounts = set(re.findall(r"mosquitto_passwd -b \S+ (\S+) ", script))
    assert accounts == set(acl)
    for vendor in vendors:
        assert f"MQTT_PASSWORD_{vendor.upper()}" in mosquitto["environment"]
    conf = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    assert re.search(r"^allow_anonymous false$", conf, re.M)
    assert re.search(r"^listener 8883$", conf, re.M) and "certfile" in conf
    assert re.search(r"^listener 1883 127\.0\.0\.1$", conf, re.M)  # health only, in-container
    assert mosquitto["ports"] == ["8883:8883"]


def test_log_retention_is_documented_in_the_deployment(compose) -> None:
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert re.search(r"at least 6 months \(184 days", text)
    for name, service in compose["services"].items():
        assert service.get("logging", {}).get("driver") == "local", name
    retention = compose["services"]["prometheus"]["command"]
    assert "--storage.tsdb.retention.time=400d" in retention
