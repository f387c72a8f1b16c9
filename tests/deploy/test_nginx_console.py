"""The deployment's nginx template, run by Debian's nginx with a certificate made here, in front
of two console processes served as production serves them (gunicorn). Chromium logs in over
HTTPS (HTTP/2), gets a screen pop from a call through the PBX simulator and callcenter, watches
the wallboard move; then the console process holding the agent's socket is killed and both
browsers reconnect through nginx to the other one and get their snapshot."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from callcenter.app import CallCenterThread
from callcenter.pbx_sim import AmiUser, CallerConfig, default_config
from callcenter.pbx_sim.harness import SimulatorThread
from tests.agent_console.test_browser import CHROMIUM_ARGS, _login
from tests.clock_support import clear_of_midnight
from tests.conftest import _unavailable
from tests.deploy.support import (
    ROOT,
    ConsoleProcess,
    Nginx,
    console_env,
    free_port,
    make_certificate,
    seed_desk_world,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SECRET = "nginx-ami-secret"
ELDER_PHONE = "13900471001"


@pytest.fixture
def stack(redis_runtime, base_settings, pg_url, redis_url):
    """Users and an elder, two console processes, nginx over TLS in front of them."""
    if Nginx.binary() is None:
        _unavailable("nginx", FileNotFoundError("nginx (apt-get install nginx-light)"))
    rt = redis_runtime
    seed_desk_world(rt, ("agent_hhht", "sup_hhht"), ELDER_PHONE)
    # nginx's workers run as nobody: what they read lives outside pytest's private directory
    root = Path(tempfile.mkdtemp(prefix="hotline-nginx-"))
    root.chmod(0o755)
    shutil.copytree(ROOT / "agent_console" / "static", root / "assets" / "static")
    cert, key = make_certificate(root)
    env = console_env(
        base_settings,
        pg_url=pg_url,
        redis_url=redis_url,
        data_dir=root / "data",
        HOTLINE_CONSOLE_TRUSTED_PROXIES="127.0.0.1/32",
        HOTLINE_CONSOLE_THREADS="50",
        # the second factor has its own browser test; here the supervisor logs in with a password
        HOTLINE_TOTP_ROLES=",",
        HOTLINE_AMI_SECRET=SECRET,
    )
    consoles = [ConsoleProcess(env, free_port(), root / f"console-{i}.log") for i in (1, 2)]
    nginx = Nginx(
        root,
        {
            "NGINX_SERVER_NAME": "127.0.0.1 localhost",
            "NGINX_HTTPS_PORT": str(free_port()),
            "NGINX_HTTP_PORT": str(free_port()),
            "NGINX_CERT_FILE": str(cert),
            "NGINX_KEY_FILE": str(key),
            "NGINX_CONSOLE_1": f"127.0.0.1:{consoles[0].port}",
            "NGINX_CONSOLE_2": f"127.0.0.1:{consoles[1].port}",
            "NGINX_ALARM_INTAKE": f"127.0.0.1:{free_port()}",  # webhooks: tests/callcenter
            "NGINX_STATIC_ROOT": str(root / "assets"),
        },
    )
    try:
        checked = nginx.check()
        assert checked.returncode == 0, checked.stderr
        for c in consoles:
            c.wait_ready()
        nginx.start()
        yield rt, consoles, nginx
    finally:
        nginx.stop()
        for c in consoles:
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def telephony(stack):
    rt = stack[0]
    config = default_config(secret=SECRET, agents=2)
    config.users = {"hotline": AmiUser(secret=SECRET)}
    config.agents[0].paused, config.agents[0].paused_reason, config.agents[0].answer_after = (
        True,
        "not_ready",
        1.0,
    )
    config.agents[1].logged_in = False
    sim = SimulatorThread(config)
    sim.start()
    center = CallCenterThread(
        rt, host="127.0.0.1", port=sim.port, username="hotline", secret=SECRET, ping_interval=0
    )
    center.start()
    yield sim
    center.stop()
    sim.stop()


def test_https_through_nginx_and_failover_to_the_other_console(stack, telephony) -> None:
    _rt, consoles, nginx = stack
    base = f"https://127.0.0.1:{nginx.https_port}"

    # plain HTTP is only a redirect; HTTPS carries HSTS, no version banner, cached assets
    http_port = nginx.values["NGINX_HTTP_PORT"]
    redirect = requests.get(f"http://127.0.0.1:{http_port}/login", allow_redirects=False, timeout=5)
    assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
    page_resp = requests.get(f"{base}/login", verify=nginx.values["NGINX_CERT_FILE"], timeout=5)
    assert page_resp.status_code == 200
    assert page_resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert page_resp.headers["Server"] == "nginx"  # no version, and nothing of the console's
    asset = requests.get(
        f"{base}/static/js/common.js", verify=nginx.values["NGINX_CERT_FILE"], timeout=5
    )
    assert asset.status_code == 200 and "max-age=3600" in asset.headers["Cache-Control"]
    assert "public" in asset.headers["Cache-Control"] and asset.headers.get("ETag")
    assert "Strict-Transport-Security" in asset.headers
    assert (
        requests.get(
            f"{base}/metrics", verify=nginx.values["NGINX_CERT_FILE"], timeout=5
        ).status_code
        == 404
    )

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(ignore_https_errors=True)
            sup = ctx.new_page()
            _login(sup, base, "sup_hhht")
            sup.wait_for_url("**/wallboard")
            sup.wait_for_selector("#conn.ok")
            assert (
                sup.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")
                == "h2"
            )
            expect(sup.locator("[data-testid=counts]")).to_have_text("0 / 0 / 0")

            agent_ctx = browser.new_context(ignore_https_errors=True)
            agent = agent_ctx.new_page()
            _login(agent, base, "agent_hhht")
            agent.wait_for_url("**/agent")
            agent.wait_for_selector("#conn.ok")
            login_cookie = next(c for c in agent_ctx.cookies() if c["name"] == "hotline_session")
            assert login_cookie["secure"] and login_cookie["httpOnly"]
            agent.click("[data-testid=ready]")
            expect(agent.locator("[data-testid=agent-state]")).to_have_text("就绪")

            clear_of_midnight()  # the call and the wallboard's today are one day
            call = telephony.place_call(CallerConfig(number=ELDER_PHONE, talk=60.0, digits=["1"]))
            agent.wait_for_selector("[data-testid=elder-name]", timeout=15000)
            assert agent.inner_text("[data-testid=elder-name]") == "巴特尔"
            expect(agent.locator("#call-status")).to_have_text("通话中", timeout=10000)
            expect(sup.locator("[data-testid=counts]")).to_have_text("1 / 1 / 0", timeout=10000)
            expect(sup.locator("#answer-rate")).to_have_text("100.0%")

            # the console process that holds the agent's socket dies
            holders = [c for c in consoles if c.sockets("/agent") == 1]
            assert len(holders) == 1, [c.sockets("/agent") for c in consoles]
            dead, survivor = holders[0], next(c for c in consoles if c is not holders[0])
            sup_moves = dead.sockets("/supervisor") == 1  # the wallboard may sit on either
            # marks the snapshot after the reconnect must overwrite
            agent.evaluate("document.querySelector('[data-testid=agent-state]').textContent = '—'")
            if sup_moves:
                sup.evaluate("document.getElementById('counts').textContent = '—'")
            killed_at = time.monotonic()
            dead.kill()
            agent.wait_for_selector("#conn.bad", timeout=10000)
            agent.wait_for_selector("#conn.ok", timeout=30000)
            expect(agent.locator("[data-testid=agent-state]")).not_to_have_text("—", timeout=10000)
            expect(sup.locator("[data-testid=counts]")).to_have_text("1 / 1 / 0", timeout=30000)
            sup.wait_for_selector("#conn.ok")
            reconnect_s = time.monotonic() - killed_at
            assert survivor.sockets("/agent") == 1 and survivor.sockets("/supervisor") == 1
            # the pages themselves keep working through nginx on the survivor
            agent.reload()
            agent.wait_for_selector("#conn.ok", timeout=15000)
            print(f"reconnected through nginx in {reconnect_s:.1f} s")  # noqa: T201
            assert call.agent_called_at
        finally:
            browser.close()
