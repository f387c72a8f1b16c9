"""Job functions the job-queue tests enqueue (importable by a separate RQ worker process)."""

from __future__ import annotations

from pathlib import Path


def append_line(path: str, text: str) -> None:
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def explode(message: str) -> None:
    raise RuntimeError(message)


def fail_once_as_outage(path: str, text: str) -> None:
    """The first run finds the database away (as during a restart), the next one works."""
    from sqlalchemy.exc import OperationalError

    marker = Path(path + ".tried")
    if not marker.exists():
        marker.touch()
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))
    append_line(path, text)
