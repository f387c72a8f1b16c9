"""Job functions the job-queue tests enqueue (importable by a separate RQ worker process)."""

from __future__ import annotations

from pathlib import Path


def append_line(path: str, text: str) -> None:
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def explode(message: str) -> None:
    raise RuntimeError(message)
