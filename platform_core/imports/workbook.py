"""Reading and writing the registries' Excel files: a template to fill in, and the rows of a
filled-in file with its headers checked before any row is looked at.

Files are read in openpyxl's streaming mode, so a file of a hundred thousand rows is never held
as a whole worksheet in memory. Cells come back as text the way a person typed them: Excel turns
long digit strings into numbers, so an integral number is given back as its digits.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils.exceptions import InvalidFileException

from platform_core.errors import ValidationFailed

T = TypeVar("T")


class WrongHeaders(ValidationFailed):
    code = "wrong_headers"


class FileTooLarge(ValidationFailed):
    code = "file_too_large"
    http_status = 413


class NotAWorkbook(ValidationFailed):
    code = "not_a_workbook"


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # as printed in the template, without the required mark
    required: bool = False
    example: str = ""
    note: str = ""
    text: bool = False  # digits that must stay text (ID numbers, phones, codes)

    @property
    def printed(self) -> str:
        return self.header + ("*" if self.required else "")


@dataclass(frozen=True)
class RowProblem:
    row: int  # the row number Excel shows (the header is row 1)
    field: str  # the column's header, or "" for the whole row
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class Outcome:
    """What one pass over a file found (and, when writing, wrote)."""

    rows: int = 0
    new: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)  # of the records written

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems})


@dataclass(frozen=True)
class Source:
    """Where written rows came from: each written field's provenance."""

    source_department: str
    batch: str
    imported_at: datetime


@dataclass(frozen=True)
class ImportPass:
    """One pass of an importer over a file's rows (numbered, by column key): checked for
    ``scope_region`` on ``today``; with ``source``, the new rows written too; ``progress``
    told how many rows are done after each chunk."""

    rows: Iterator[tuple[int, dict[str, str]]]
    scope_region: str
    today: date
    source: Source | None = None
    progress: Callable[[int], None] | None = None

    def tell(self, outcome: Outcome) -> None:
        if self.progress is not None:
            self.progress(outcome.rows)


def chunks(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """``rows`` in lists of ``size`` (the last one shorter), read lazily: a file's rows or a
    query's results never held whole."""
    chunk: list[T] = []
    for item in rows:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def template(columns: Sequence[Column], *, title: str, notes: Sequence[str] = ()) -> bytes:
    """A workbook with the header row, one example row and a sheet saying how to fill it in."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title[:31]
    ws.append([c.printed for c in columns])
    ws.append([c.example for c in columns])
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="FFF2CC")
    for i, c in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i)
        cell.font = bold
        if c.required:
            cell.fill = fill
        dim = ws.column_dimensions[cell.column_letter]
        dim.width = max(12, len(c.header) * 2 + 4)
        if c.text:  # Excel would turn an 18-digit ID number into 1.50102E+17
            dim.number_format = "@"
            ws.cell(row=2, column=i).number_format = "@"
    help_ws = wb.create_sheet("填写说明")
    help_ws.append(["列", "必填", "说明"])
    for c in columns:
        help_ws.append([c.header, "是" if c.required else "否", c.note])
    for line in notes:
        help_ws.append([line])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _norm_header(value: Any) -> str:
    return "".join(str(value or "").split()).rstrip("*＊").strip()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise FileTooLarge(
            f"文件过大: {size / 1048576:.1f} MB, 上限 {max_bytes / 1048576:.0f} MB, 请分批上传 / "
            "file too large, split it",
            size=size,
            limit=max_bytes,
        )


def open_rows(
    content: bytes, columns: Sequence[Column], *, max_bytes: int
) -> Generator[tuple[int, dict[str, str]], None, None]:
    """``(row number, {key: text})`` of each filled-in row of the first sheet (the count is
    known only once they are read: a sheet need not say its size, and counting is a pass). Refuses a file over ``max_bytes``, one that is no workbook, and one whose header row
    lacks a required column or has a column the template does not know."""
    check_size(len(content), max_bytes)
    if not zipfile.is_zipfile(io.BytesIO(content)):
        raise NotAWorkbook("不是 Excel (.xlsx) 文件 / not an .xlsx workbook")
    try:
        wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise NotAWorkbook("无法读取该 Excel 文件 / the workbook cannot be read") from exc
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None) or ()
    names = [_norm_header(h) for h in header]
    by_header = {c.header: c for c in columns}
    unknown = [n for n in names if n and n not in by_header]
    missing = [c.header for c in columns if c.required and c.header not in names]
    duplicated = sorted({n for n in names if n and names.count(n) > 1})
    if unknown or missing or duplicated:
        parts = []
        if missing:
            parts.append("缺少必填列: " + "、".join(missing))
        if unknown:
            parts.append("无法识别的列: " + "、".join(unknown))
        if duplicated:
            parts.append("重复的列: " + "、".join(duplicated))
        wb.close()
        raise WrongHeaders(
            "表头与模板不符, 请下载模板重新填写 (" + "; ".join(parts) + ") / headers do not match "
            "the template",
            missing=missing,
            unknown=unknown,
            duplicated=duplicated,
        )
    keys = [by_header[n].key if n else None for n in names]

    def iterate() -> Generator[tuple[int, dict[str, str]], None, None]:
        try:
            for number, values in enumerate(rows, start=2):
                record = {
                    k: _cell_text(v) for k, v in zip(keys, values, strict=False) if k is not None
                }
                if any(record.values()):
                    yield number, record
        finally:
            wb.close()

    return iterate()
