"""``hotline users`` and ``hotline audit`` against the test database (in-process CLI)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text, update

from hotline.cli import cli
from platform_core.accounts import service as accounts
from platform_core.accounts.models import LoginSession, User
from platform_core.actors import Role, system_actor
from platform_core.audit.models import AuditRecord

PASSWORD = "Steppe-Wind-2026"


@pytest.fixture
def run(regions, pg_url, data_key):
    env = {
        "HOTLINE_DATABASE_URL": pg_url,
        "HOTLINE_DATA_KEY": data_key,
        "HOTLINE_SECRET_KEY": regions.settings.secret_key,
        "HOTLINE_DATA_DIR": str(regions.settings.data_dir),
        "HOTLINE_AMI_SECRET": "x",
        "HOTLINE_REDIS_URL": "",
    }
    with regions.session() as s:
        for name, role in (("wangfang", Role.AGENT), ("boss", Role.ADMIN), ("eye", Role.AUDITOR)):
            accounts.create_user(
                s,
                actor=system_actor(),
                username=name,
                password=PASSWORD,
                role=role,
                region_code="150100000000",
            )
        s.execute(update(User).where(User.username == "wangfang").values(failed_logins=5))

    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_users_are_listed_unlocked_reset_and_roles_kept_apart(run, regions) -> None:
    out = run("users", "list").output
    assert "wangfang" in out and "安全审计员" in out
    assert run("users", "unlock", "wangfang").exit_code == 0
    reset = run("users", "reset-password", "wangfang")
    temporary = reset.output.rsplit(": ", 1)[1].strip()
    with regions.session() as s:
        user = accounts.find_user_by_username(s, "wangfang")
        assert user.must_change_password and user.failed_logins == 0
        granted = accounts.log_in(s, username="wangfang", password=temporary)
        assert s.get(LoginSession, granted.session_id).pending_step == "password_change"
    refused = run("users", "role", "boss", "auditor")
    assert refused.exit_code != 0 and "三员" in refused.output
    assert run("users", "role", "wangfang", "supervisor").exit_code == 0
    assert run("users", "disable", "wangfang").exit_code == 0
    assert "停用" in run("users", "list").output


def test_audit_verify_search_and_export(run, regions) -> None:
    run("users", "unlock", "wangfang")
    ok = run("audit", "verify")
    assert ok.exit_code == 0 and "完整" in ok.output
    found = run("audit", "search", "--action", "user.")
    assert "user.unlock" in found.output
    exported = run("audit", "export", "--action", "user.unlock")
    assert exported.output.lstrip("\ufeff\"").startswith("导出人 hotline audit export")
    with regions.session() as s:  # someone with the database's superuser rewrites a record
        s.execute(text("SET LOCAL session_replication_role = replica"))
        s.execute(
            update(AuditRecord).where(AuditRecord.action == "user.unlock").values(result="denied")
        )
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "altered records" in broken.output
    short = run("audit", "purge", "--days", "30")
    assert short.exit_code != 0 and "184" in short.output
