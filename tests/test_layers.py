"""House rules on imports: the command-line modules sit on top; no library module imports one
(they are read by AST, imports inside functions included)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fhir_adapter"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def _is_cli(module: str) -> bool:
    return module == "fhir_adapter.cli" or module.endswith(("_cli", ".cli"))


def test_library_modules_never_import_a_command_line_module() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module(path)
        if _is_cli(name):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            wrong += [f"{name} imports {t}" for t in targets if _is_cli(t)]
    assert wrong == []
