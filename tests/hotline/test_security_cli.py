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
    assert exported.output.lstrip('\ufeff"').startswith("导出人 hotline audit export")
    with regions.session() as s:  # someone with the database's superuser rewrites a record
        s.execute(text("SET LOCAL session_replication_role = replica"))
        s.execute(
            update(AuditRecord).where(AuditRecord.action == "user.unlock").values(result="denied")
        )
    broken = run("audit", "verify")
    assert broken.exit_code == 1 and "altered records" in broken.output
    short = run("audit", "purge", "--days", "30")
    assert short.exit_code != 0 and "184" in short.output


def test_keys_rotate_on_embedded_defaults(tmp_path) -> None:
    """SQLite in the data directory: a new key is made there, the old one kept for reading,
    everything resealed with progress, then nothing is left under the old key."""
    from platform_core import migrate
    from platform_core.runtime import build_runtime
    from platform_core.settings import load_settings

    env = {
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATABASE_URL": "",
        "HOTLINE_REDIS_URL": "",
        "HOTLINE_DATA_KEY": "",
        "HOTLINE_DATA_KEYS_RETIRED": "",
    }
    settings = load_settings(env)
    migrate.upgrade(settings.effective_database_url)
    rt = build_runtime(settings, start_jobs=False)
    with rt.session() as s:
        from platform_core.regions.service import load_dictionary

        load_dictionary(s)
        accounts.create_user(
            s,
            actor=system_actor(),
            username="otp_user",
            password=PASSWORD,
            role=Role.AGENT,
            region_code="150100000000",
        )
        s.execute(update(User).values(totp_secret_sealed=rt.cipher.seal("JBSWY3DPEHPK3PXP")))
    old_id = rt.cipher.key_id
    rt.close()
    runner = CliRunner()
    status = runner.invoke(cli, ["keys", "status"], env=env, catch_exceptions=False)
    assert old_id in status.output and "users.totp_secret_sealed" in status.output
    done = runner.invoke(
        cli, ["keys", "rotate", "--new", "--batch-size", "1"], env=env, catch_exceptions=False
    )
    assert done.exit_code == 0, done.output
    assert "剩余 0" in done.output and "已重新加密" in done.output
    after = load_settings(env)
    assert after.data_keys_retired and (tmp_path / "data_keys_retired").exists()
    rt = build_runtime(after.with_overrides(data_keys_retired=""), start_jobs=False)
    try:
        assert rt.cipher.key_id != old_id
        with rt.session() as s:  # readable with the new key alone
            user = accounts.find_user_by_username(s, "otp_user")
            assert rt.cipher.open(user.totp_secret_sealed) == "JBSWY3DPEHPK3PXP"
    finally:
        rt.close()
