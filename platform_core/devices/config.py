"""Reading list-valued settings ("key=value,...") into typed values."""

from __future__ import annotations

from platform_core.devices.lifecycle import DeviceType
from platform_core.settings import Settings, SettingsError


def parse_pairs(raw: str, *, sep: str = "=", what: str = "setting") -> dict[str, str]:
    """``"a=1, b=2"`` -> ``{"a": "1", "b": "2"}``; a malformed item names itself."""
    out: dict[str, str] = {}
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        key, found, value = item.partition(sep)
        if not found or not key.strip() or not value.strip():
            raise SettingsError(f"{what}: 无法解析 {item!r} / cannot parse {item!r}")
        out[key.strip()] = value.strip()
    return out


def heartbeat_intervals(settings: Settings) -> dict[str, int]:
    """Expected seconds between heartbeats, per device type."""
    pairs = parse_pairs(
        settings.device_heartbeat_intervals, what="HOTLINE_DEVICE_HEARTBEAT_INTERVALS"
    )
    out = {t.value: 3600 for t in DeviceType}
    out.update({DeviceType(k).value: int(v) for k, v in pairs.items()})
    return out
