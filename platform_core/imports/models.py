"""An import batch: the uploaded file, what checking it found and how far the import went.

The file is kept with the batch so the job that checks or imports it takes only the batch's id,
and every row's problem stays on record after the import (who sent what, and why a row was
refused).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from platform_core.db import Base, utcnow


class ImportBatch(Base):
    __tablename__ = "registry_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # elders / devices
    # uploaded, queued_check, checking, checked, rejected, queued_import, importing, imported,
    # failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    # the uploader's region: every row must lie inside it
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    source_department: Mapped[str] = mapped_column(String(60))
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    content: Mapped[bytes] = mapped_column(LargeBinary)
    total_rows: Mapped[int] = mapped_column(default=0)
    done_rows: Mapped[int] = mapped_column(default=0)  # progress of the running phase
    new_rows: Mapped[int] = mapped_column(default=0)
    unchanged_rows: Mapped[int] = mapped_column(default=0)
    bad_rows: Mapped[int] = mapped_column(default=0)
    # [{"row": 7, "field": "身份证号", "code": "invalid_id_number", "message": "..."}]
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(64))
    created_by_user_id: Mapped[int | None]
    created_by_role: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    error: Mapped[str] = mapped_column(String(500), default="")
