"""A process's runtime maps every model before any of its threads can reach the database.

A worker restarted in the fault drill ran its relay and operations threads while its main thread
was still importing domain modules lazily: the first query configured SQLAlchemy's mappers with
the alarm model half-imported ("name 'AlarmStep' is not defined"), which breaks the registry for
the life of the process, so every job it ran failed and 40 orders stayed undispatched.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROBE = textwrap.dedent(
    """
    import base64

    from platform_core.db import Base
    from platform_core.runtime import build_runtime
    from platform_core.settings import Settings

    key = base64.b64encode(bytes(32)).decode()
    runtime = build_runtime(Settings(data_key=key), start_jobs=False)
    try:
        assert "alarm_steps" in Base.metadata.tables, "the alarm steps' model was never imported"
        assert not Base.registry._new_mappers, "mappers left to be configured by a first query"
    finally:
        runtime.close()
    print("mapped", len(Base.registry.mappers))
    """
)


def test_a_fresh_process_runtime_has_every_model_mapped() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("mapped ")
