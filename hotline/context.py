"""Building the runtime for a CLI command, once, from the environment."""

from __future__ import annotations

from platform_core.runtime import Runtime, build_runtime, install_runtime
from platform_core.settings import Settings, load_settings


def runtime_for_cli(settings: Settings | None = None, *, start_jobs: bool = True) -> Runtime:
    runtime = build_runtime(settings or load_settings(), start_jobs=start_jobs)
    install_runtime(runtime)
    return runtime
