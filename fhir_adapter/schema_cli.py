"""Print the JSON Schema of the case format (for editors, CI and other tools).

Save it beside your case files and name it in the first line of each one,

    # yaml-language-server: $schema=fhir-adapter-case-2.schema.json

so that editors with the YAML language server (VS Code's YAML extension, Neovim, Helix, ...)
complete field names and check the file as you type. `fhir-adapter init` writes both for you.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def schema_file(version: int) -> str:
    """The file name ``init`` and the docs use for the exported schema of format ``version``."""
    return f"fhir-adapter-case-{version}.schema.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``schema`` options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("-o", "--output", help=f"write it here (e.g. {schema_file(2)}), not stdout")
    parser.add_argument(
        "--format",
        type=int,
        dest="version",
        metavar="N",
        help="case format version (default: the current one)",
    )


def editor_schema(version: int | None = None) -> dict[str, Any]:
    """The case schema (of format ``version``, default the current one) with every reference
    local (``#/$defs/...``), so editors that load it from a file never try to fetch its ``$id``."""
    from fhir_adapter.case import CURRENT_FORMAT, FORMATS, case_schema
    from fhir_adapter.errors import InputError

    if version is not None and version not in FORMATS.values():
        raise InputError(
            f"unknown case format {version}",
            field="--format",
            fix=f"use one of: {', '.join(str(v) for v in FORMATS.values())}",
        )
    schema = case_schema(version or FORMATS[CURRENT_FORMAT])
    base = str(schema.get("$id", ""))

    def local(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: local(v) for k, v in node.items()}
            ref = out.get("$ref")
            if base and isinstance(ref, str) and ref.startswith(base + "#"):
                out["$ref"] = ref[len(base) :]
            return out
        if isinstance(node, list):
            return [local(v) for v in node]
        return node

    result: dict[str, Any] = local(schema)
    return result


def schema_text(version: int | None = None) -> str:
    """The editor schema as JSON text."""
    import json

    return json.dumps(editor_schema(version), indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print or write the schema."""
    text = schema_text(args.version)
    if args.output:
        from fhir_adapter.files import write_atomic

        path = Path(args.output)
        write_atomic(path, text)
        print(
            f"wrote {path}; first line of a case file beside it: "
            f"# yaml-language-server: $schema={path.name}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text)
    return 0
