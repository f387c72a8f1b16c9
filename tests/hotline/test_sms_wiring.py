"""The ``hotline`` command wires Twilio's adapter into platform_core's outbox; platform_core
itself never loads the vendor library."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_every_hotline_command_sends_through_twilio_once_configured(tmp_path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from click.testing import CliRunner
        from hotline.cli import cli
        from platform_core.notifications import service, transport
        from platform_core.settings import Settings

        configured = Settings(
            data_dir={str(tmp_path)!r},
            twilio_account_sid="AC" + "0" * 32,
            twilio_auth_token="secret",
            twilio_from_number="+15005550006",
        )
        assert "twilio" not in sys.modules  # the outbox alone does not load the vendor library
        assert transport.gateway_for(configured) is None  # nothing wired: messages wait
        env = {{"HOTLINE_DATA_DIR": {str(tmp_path)!r}, "HOTLINE_REDIS_URL": ""}}
        done = CliRunner().invoke(cli, ["db", "current"], env=env, catch_exceptions=False)
        assert done.exit_code == 0, done.output
        assert "twilio" not in sys.modules  # wired, but loaded only when a message goes out
        gateway = transport.gateway_for(configured)
        assert gateway is not None and gateway.name == "twilio"
        assert transport.gateway_for(configured) is gateway  # one client, not one per message
        assert transport.gateway_for(Settings(data_dir={str(tmp_path)!r})) is None
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]
