"""Print the JSON Schema of the case format (for editors, CI and other tools).

Save it beside your case files and name it in the first line of each one,

    # yaml-language-server: $schema=fhir-adapter-case.schema.json

so that editors with the YAML language server (VS Code's YAML extension, Neovim, Helix, ...)
complete field names and check the file as you type. `fhir-adapter init` writes both for you.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

#: The file name ``init`` and the docs use for the exported schema.
SCHEMA_FILE = "fhir-adapter-case.schema.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``schema`` options."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("-o", "--output", help=f"write it here (e.g. {SCHEMA_FILE}), not stdout")


def editor_schema() -> dict[str, Any]:
    """The case schema with every reference local (``#/$defs/...``), so editors that load it
    from a file never try to fetch its ``$id``."""
    from fhir_adapter.case import case_schema

    schema = case_schema()
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


def schema_text() -> str:
    """The editor schema as JSON text."""
    import json

    return json.dumps(editor_schema(), indent=2, ensure_ascii=False) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print or write the schema."""
    text = schema_text()
    if args.output:
        from fhir_adapter.convert_cli import write_atomic

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
