"""The transactional outbox: the platform's one way to start work after a commit.

``publish_on_commit`` (domain events) and ``enqueue_on_commit`` (jobs and timers) write rows in
the caller's transaction (``service``); the ``relay`` hands them on after the commit and
catches up whatever that missed; ``models`` holds the table.
"""

from platform_core.outbox.service import enqueue_on_commit, publish_on_commit

__all__ = ["enqueue_on_commit", "publish_on_commit"]
