"""Printable A4 documents in Chinese (assessment reports, notices) drawn with fpdf2.

fpdf2 embeds a subset of a TrueType font, so the PDF shows the same glyphs on any reader; the
font comes from the machine (Debian: ``apt-get install fonts-wqy-microhei``) or
``HOTLINE_REPORT_FONT_PATH``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from platform_core.errors import DomainError

KNOWN_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


class ReportFontMissing(DomainError):
    code = "report_font_missing"
    http_status = 500


def find_font(configured: str = "") -> Path:
    candidates = [configured] if configured else list(KNOWN_FONTS)
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise ReportFontMissing(
        f"找不到中文字体 {', '.join(candidates)}; 请安装 fonts-wqy-microhei 或设置 HOTLINE_REPORT_FONT_PATH / "
        "no Chinese font found"
    )


class ChineseDocument:
    """A simple flowing document: a title, headings, label/value lines, tables, paragraphs."""

    def __init__(
        self, title: str, *, font_path: str = "", subtitle: str = "", watermark: str = ""
    ) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.set_title(title)
        if watermark:  # who exported it: in the file's properties and under the title
            self.pdf.set_author(watermark)
            self.pdf.set_subject(watermark)
        self.pdf.add_font("cjk", fname=str(find_font(font_path)))
        self.pdf.add_page()
        self.pdf.set_font("cjk", size=18)
        self.pdf.cell(0, 12, title, align="C", new_x="LMARGIN", new_y="NEXT")
        if subtitle:
            self.pdf.set_font("cjk", size=10)
            self.pdf.cell(0, 6, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
        if watermark:
            self.pdf.set_font("cjk", size=8)
            self.pdf.set_text_color(120, 120, 120)
            self.pdf.cell(0, 5, watermark, align="C", new_x="LMARGIN", new_y="NEXT")
            self.pdf.set_text_color(0, 0, 0)
        self.pdf.ln(4)

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font("cjk", size=13)
        self.pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")

    def fields(self, rows: Sequence[tuple[str, str]]) -> None:
        self.pdf.set_font("cjk", size=10.5)
        for label, value in rows:
            self.pdf.cell(40, 7, label)
            self.pdf.multi_cell(0, 7, value or "—", new_x="LMARGIN", new_y="NEXT")

    def table(
        self, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> None:
        self.pdf.set_font("cjk", size=9.5)
        # the embedded font has no bold face: mark headings by shading instead
        heading = FontFace(emphasis="", fill_color=(225, 225, 225))
        with self.pdf.table(
            col_widths=tuple(widths), text_align="LEFT", line_height=6, headings_style=heading
        ) as table:
            head = table.row()
            for h in header:
                head.cell(h)
            for r in rows:
                row = table.row()
                for value in r:
                    row.cell(value)

    def paragraph(self, text: str) -> None:
        self.pdf.set_font("cjk", size=10.5)
        self.pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")

    def signatures(self, labels: Sequence[str]) -> None:
        self.pdf.ln(8)
        self.pdf.set_font("cjk", size=10.5)
        width = (self.pdf.w - self.pdf.l_margin - self.pdf.r_margin) / max(1, len(labels))
        for label in labels:
            self.pdf.cell(width, 8, f"{label}: ____________")
        self.pdf.ln(10)

    def output(self) -> bytes:
        return bytes(self.pdf.output())
