"""The hotline's queues as people name them: a report or a wallboard shows 紧急求助队列, never
the dialplan's ``hotline-emergency``."""

from __future__ import annotations

from platform_core.settings import Settings


def queue_labels(settings: Settings) -> dict[str, str]:
    """``HOTLINE_QUEUE_LABELS`` (``code=名称,...``) as a mapping."""
    labels: dict[str, str] = {}
    for part in settings.queue_labels.split(","):
        code, sep, label = part.partition("=")
        if sep and code.strip() and label.strip():
            labels[code.strip()] = label.strip()
    return labels


def queue_label(settings: Settings, queue: str | None) -> str:
    """The queue's name; a queue the settings do not name keeps its code."""
    if not queue:
        return "—"
    return queue_labels(settings).get(queue, queue)
