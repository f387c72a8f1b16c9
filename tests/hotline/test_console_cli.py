from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from platform_core.accounts.models import User
from platform_core.accounts.passwords import verify_password

ROOT = Path(__file__).resolve().parents[2]


def _run(args, env, stdin=""):
    return subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_users_add_with_password_stdin(regions, pg_url, base_settings, tmp_path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_SECRET_KEY": base_settings.secret_key,
        "HOTLINE_DATA_KEY": base_settings.data_key,
    }
    ok = _run(
        [
            "users",
            "add",
            "--username",
            "zhang_agent",
            "--role",
            "agent",
            "--region",
            "150102000000",
            "--interface",
            "PJSIP/8009",
            "--password-stdin",
        ],
        env,
        "Horse-Milk-Tea-42\n",
    )
    assert ok.returncode == 0, ok.stderr
    assert "已创建账号 zhang_agent" in ok.stdout
    weak = _run(
        [
            "users",
            "add",
            "--username",
            "li_agent",
            "--role",
            "agent",
            "--region",
            "150102000000",
            "--password-stdin",
        ],
        env,
        "password\n",
    )
    assert weak.returncode != 0 and "密码强度不足" in weak.stderr
    with regions.session() as s:
        users = {u.username: u for u in s.query(User)}
    assert set(users) == {"zhang_agent"}
    assert users["zhang_agent"].sip_interface == "PJSIP/8009"
    assert verify_password("Horse-Milk-Tea-42", users["zhang_agent"].password_hash)
