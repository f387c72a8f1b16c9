"""The house style's checks (DESIGN.md section 8): ruff on the whole tree, mypy on platform_core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def test_ruff_finds_nothing() -> None:
    proc = subprocess.run(
        [str(BIN / "ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-4000:]


# a fresh cache checks all of platform_core: minutes on a busy two-core machine, not a hang
@pytest.mark.timeout(900)
def test_mypy_passes_on_platform_core(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(BIN / "mypy"), "--cache-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
