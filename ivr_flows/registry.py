"""The flows in service, reloaded when their files change; a broken edit never replaces a good flow."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from ivr_flows.flow_model import Flow, FlowError, load_flow_file

log = logging.getLogger(__name__)

PACKAGED_FLOWS = Path(__file__).parent / "flows"


@dataclass
class _Loaded:
    stamp: tuple[int, int]  # (mtime_ns, size) of the file when last read, good or not
    flow: Flow | None  # the last good version; None if the file never validated
    error: FlowError | None = None


class FlowRegistry:
    """Flows by name from ``directory/*.yaml``. Files are checked for changes at most every
    ``check_interval`` seconds (on lookup), so an operator's edit serves the next call."""

    def __init__(self, directory: Path | None = None, *, check_interval: float = 1.0) -> None:
        self.directory = directory or PACKAGED_FLOWS
        self.check_interval = check_interval
        self._files: dict[Path, _Loaded] = {}
        self._by_name: dict[str, Flow] = {}
        self._checked_at = float("-inf")
        self.refresh(force=True)

    def get(self, name: str) -> Flow | None:
        self.refresh()
        return self._by_name.get(name)

    def names(self) -> list[str]:
        self.refresh()
        return sorted(self._by_name)

    def flows(self) -> list[Flow]:
        self.refresh()
        return [self._by_name[n] for n in sorted(self._by_name)]

    def errors(self) -> dict[Path, FlowError]:
        return {p: e.error for p, e in self._files.items() if e.error is not None}

    def refresh(self, *, force: bool = False) -> list[str]:
        """Reload changed files; return the names of flows that changed."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_interval:
            return []
        self._checked_at = now
        try:
            present = {p: p.stat() for p in sorted(self.directory.glob("*.yaml")) if p.is_file()}
        except OSError as exc:
            log.error("无法读取流程目录 / cannot list flow directory %s: %s", self.directory, exc)
            return []
        changed: list[str] = []
        for path in set(self._files) - set(present):
            gone = self._files.pop(path)
            if gone.flow is not None:
                log.info(
                    "流程文件已删除, 停止服务 / flow file removed: %s (%s)", path, gone.flow.name
                )
                changed.append(gone.flow.name)
        for path, st in present.items():
            stamp = (st.st_mtime_ns, st.st_size)
            known = self._files.get(path)
            if known is not None and known.stamp == stamp:
                continue
            try:
                flow = load_flow_file(path)
            except FlowError as exc:
                kept = known.flow if known else None
                self._files[path] = _Loaded(stamp, kept, exc)
                log.error(
                    "流程文件无效, %s / refused flow file %s: %s",
                    f"继续使用上一版 {kept.version}" if kept else "未加载",
                    path,
                    "; ".join(exc.problems),
                )
                continue
            self._files[path] = _Loaded(stamp, flow)
            changed.append(flow.name)
            if known is not None:
                log.info("流程已重新加载 / flow reloaded: %s version %s", flow.name, flow.version)
        by_name: dict[str, Flow] = {}
        for path, loaded in sorted(self._files.items()):
            if loaded.flow is None:
                continue
            if loaded.flow.name in by_name:
                log.error(
                    "流程名重复, 忽略 %s / duplicate flow name %s in %s",
                    path,
                    loaded.flow.name,
                    path,
                )
                continue
            by_name[loaded.flow.name] = loaded.flow
        self._by_name = by_name
        return changed
