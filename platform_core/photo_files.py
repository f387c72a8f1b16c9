"""Photos kept under the data directory: accepted by what their bytes are (JPEG, PNG or WebP),
never by their name, within a size limit, written once with their SHA-256.

Order photos, site photos and the photos elders send over the online channel share these rules.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from platform_core.errors import ValidationFailed


@dataclass(frozen=True)
class StoredPhoto:
    path: str  # relative to the data directory
    content_type: str
    size: int
    sha256: str


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) from the file's first bytes, or None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", "jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def check_photo(data: bytes, *, max_bytes: int) -> tuple[str, str]:
    """(content type, extension) of an acceptable photo, or ValidationFailed saying why not."""
    if not data:
        raise ValidationFailed("照片为空 / empty photo", code="empty_photo")
    if len(data) > max_bytes:
        limit_mb = max_bytes / 1024 / 1024
        raise ValidationFailed(
            f"照片不能超过 {limit_mb:.1f} MB / photo larger than {limit_mb:.1f} MB",
            code="photo_too_large",
            limit=max_bytes,
        )
    sniffed = sniff_image(data)
    if sniffed is None:
        raise ValidationFailed(
            "只接受 JPEG、PNG 或 WebP 照片 / only JPEG, PNG or WebP photos",
            code="photo_type_not_allowed",
        )
    return sniffed


def keep_photo(data_dir: Path | str, folder: str, data: bytes, *, max_bytes: int) -> StoredPhoto:
    """Check ``data`` and write it to ``<data_dir>/<folder>/<random>.<ext>`` (mode 0600)."""
    content_type, ext = check_photo(data, max_bytes=max_bytes)
    relative = Path(folder) / f"{uuid.uuid4().hex}.{ext}"
    target = Path(data_dir) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return StoredPhoto(str(relative), content_type, len(data), hashlib.sha256(data).hexdigest())


def read_kept(data_dir: Path | str, path: str) -> bytes:
    return (Path(data_dir) / path).read_bytes()
