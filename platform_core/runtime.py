"""The composed runtime of one process: settings, database, event bus, job queue, cipher.

Built once by the composition root (``hotline`` CLI, the demo, a worker) and installed so that
RQ job functions, which receive only ids, can open their own sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, configure_mappers, sessionmaker

from platform_core.db import make_engine, make_session_factory, reading_scope, session_scope
from platform_core.events import EventBus, InProcessEventBus, RedisEventBus
from platform_core.jobs import InProcessJobQueue, JobQueue, RQJobQueue
from platform_core.outbox.relay import Relay
from platform_core.security.crypto import FieldCipher
from platform_core.settings import Settings
from platform_core.settings import settings_of as settings_of  # the kernel's, for every module


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    event_bus: EventBus
    jobs: JobQueue
    cipher: FieldCipher
    # hands committed outbox rows to the bus and the job queue (platform_core.outbox)
    outbox: Relay

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.session_factory) as s:
            yield s

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads only, without a transaction's round trips (``reading_scope``)."""
        with reading_scope(self.session_factory, self.engine) as s:
            yield s

    def redis(self) -> Any:
        """A Redis client for the configured server (None on embedded defaults)."""
        if not self.settings.redis_url:
            return None

        return redis.Redis.from_url(self.settings.redis_url)

    def close(self) -> None:
        self.outbox.close()
        self.event_bus.close()
        close = getattr(self.jobs, "close", None)
        if close:
            close()
        self.engine.dispose()


def build_runtime(
    settings: Settings, *, engine: Engine | None = None, start_jobs: bool = True
) -> Runtime:
    """The process's runtime. With in-process jobs (``start_jobs``) the process is its own
    worker, so it also runs the outbox relay; on RQ the relay runs in ``hotline worker``."""
    map_every_model()
    engine = engine or make_engine(
        settings.effective_database_url,
        idle_in_transaction_timeout_s=settings.db_idle_in_transaction_timeout_s,
    )
    cipher = FieldCipher(settings.data_key_bytes(), settings.retired_data_keys())
    bus: EventBus
    jobs: JobQueue
    if settings.redis_url:
        bus = RedisEventBus(settings.redis_url, settings.redis_namespace)
        jobs = RQJobQueue(settings.redis_url, settings.redis_namespace)
    else:
        bus = InProcessEventBus()
        jobs = InProcessJobQueue(start=start_jobs)
    relay = Relay(engine=engine, event_bus=bus, jobs=jobs, settings=settings)
    factory = make_session_factory(
        engine, event_bus=bus, cipher=cipher, settings=settings, outbox=relay
    )
    if start_jobs and not settings.redis_url:
        relay.start()
    return Runtime(settings, engine, factory, bus, jobs, cipher, relay)


def map_every_model() -> None:
    """Import every model and configure the mappers now, before the process starts threads: a
    first query made while another thread is still importing a model module configures the
    mappers half-defined, and SQLAlchemy's registry stays broken for the life of the process.
    The registry imports every module, and they import this one: it is loaded here, when a
    process builds its runtime, not when a module imports the runtime."""
    import platform_core.models  # noqa: F401 - the registry is above every module: see above

    configure_mappers()


_current: Runtime | None = None


def install_runtime(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current_runtime() -> Runtime:
    if _current is None:
        raise RuntimeError(
            "no runtime installed: the process entry point must call install_runtime()"
        )
    return _current


def cipher_of(session: Session) -> FieldCipher:
    cipher = session.info.get("cipher")
    if cipher is None:
        raise RuntimeError("session has no cipher: build sessions through build_runtime()")
    return cipher  # type: ignore[no-any-return]
