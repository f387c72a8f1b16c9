"""The import direction of DESIGN.md section 2, checked by import-linter's contracts, and the
rule that keeps platform_core's own import graph honest: no import hides inside a function
unless a comment on its line says why."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORM_CORE = ROOT / "platform_core"

CONTRACTS = (
    "Layers: hotline -> agent_console -> callcenter | ivr_flows -> platform_core",
    "platform_core imports no web, telephony or vendor SDK",
    "platform_core's modules import one another without cycles",
    "Inside platform_core: flows -> reports -> the model registry -> programmes",
)


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())  # the report wraps long contract names
    for name in CONTRACTS:
        assert name in out, name
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken" in out


def uncommented_function_imports(source: str) -> list[int]:
    """Lines of imports inside a function (or method) with no comment on their line: such an
    import hides an edge of the import graph from a reader, and usually a cycle."""
    commented = {
        tok.start[0]
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type == tokenize.COMMENT
    }
    lines = []
    for fn in ast.walk(ast.parse(source)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Import | ast.ImportFrom) and not commented & set(
                range(node.lineno, (node.end_lineno or node.lineno) + 1)
            ):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_the_function_import_check_finds_what_it_should() -> None:
    source = (
        "import os\n"
        "def f():\n"
        "    from platform_core import clock\n"
        "    return clock\n"
        "class C:\n"
        "    def m(self):\n"
        "        import json  # only the export path needs it\n"
        "        if True:\n"
        "            from platform_core import (\n"
        "                db,\n"
        "            )\n"
        "        return json, db, '# not a comment'\n"
    )
    assert uncommented_function_imports(source) == [3, 9]


def test_platform_core_imports_at_module_level() -> None:
    found = []
    for path in sorted(PLATFORM_CORE.rglob("*.py")):
        for line in uncommented_function_imports(path.read_text(encoding="utf-8")):
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert not found, "imports inside functions without a comment saying why:\n" + "\n".join(found)
