"""A service process freezes what it built at start-up and spaces out collections, once."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_settled_process_never_walks_its_start_up_objects_again() -> None:
    # a fresh interpreter: the test process itself may have been settled by an earlier test
    script = textwrap.dedent(
        """
        import gc
        from platform_core.process import GC_THRESHOLDS, is_settled, settle_service_process

        start_up = [{"desk": i} for i in range(1000)]  # stands for the app, caches, sockets
        assert any(o is start_up for o in gc.get_objects())
        settle_service_process()
        assert is_settled() and gc.get_threshold() == GC_THRESHOLDS
        assert not any(o is start_up for o in gc.get_objects())  # frozen: never walked again
        frozen = gc.get_freeze_count()
        settle_service_process()  # once per process
        assert gc.get_freeze_count() == frozen

        class Cycle:
            pass

        later = Cycle()
        later.me = later  # garbage made after start-up is still collected
        del later
        assert gc.collect() >= 1
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
