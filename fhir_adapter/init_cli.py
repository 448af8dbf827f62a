"""Write a new case file: a commented skeleton of a case format with every section.

The file loads as written (every section empty, a commented example item in each), starts
with a `# yaml-language-server: $schema=...` line and comes with the schema file beside it, so
editors complete and check it. The format is the newest one `convert` can turn into FHIR
(--format picks another). Nothing is overwritten without --force.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``init`` options."""
    parser.add_argument("case", help="the case file to create, e.g. pneumonia.case.yaml")
    parser.add_argument("--id", help="case id (default: from the file name)")
    parser.add_argument("--title", help="case title (default: from the file name)")
    parser.add_argument(
        "--format",
        type=int,
        dest="version",
        metavar="N",
        help="case format version (default: the newest that convert turns into FHIR)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.add_argument(
        "--no-schema",
        action="store_true",
        help="do not write fhir-adapter-case.schema.json beside the case (nor the modeline)",
    )


def case_id(path: Path) -> str:
    """A valid case id from a file name (``Pneumonia 2.case.yaml`` -> ``pneumonia-2``)."""
    stem = path.name.split(".")[0].lower()
    cid = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
    if len(cid) < 3:
        cid = f"case-{cid}" if cid else "new-case"
    return cid[:64]


def skeleton(version: int, cid: str, title: str, file_name: str, schema_line: str | None) -> str:
    """The skeleton text of case format ``version``."""
    text = (TEMPLATES / f"case-{version}.yaml").read_text(encoding="utf-8")
    text = text.replace("{{id}}", cid).replace("{{file}}", file_name)
    text = text.replace("{{title}}", _yaml_text(title))
    if schema_line:
        return text.replace("{{schema_line}}", schema_line)
    return text.replace("{{schema_line}}\n", "")


def convertible(version: int) -> bool:
    """Whether ``convert`` turns case files of format ``version`` into FHIR (tried on the empty
    skeleton, so this follows the mappers as they land)."""
    from fhir_adapter.case import parse_case
    from fhir_adapter.convert import convert
    from fhir_adapter.errors import CaseError

    try:
        convert(parse_case(skeleton(version, "probe-case", "Probe", "probe.yaml", None)))
    except CaseError as err:
        if err.field == "format":
            return False
        raise
    return True


def default_version() -> int:
    """The newest format with a template that ``convert`` supports (else the newest)."""
    from fhir_adapter.case import FORMATS

    versions = sorted(v for v in FORMATS.values() if (TEMPLATES / f"case-{v}.yaml").is_file())
    return next((v for v in reversed(versions) if convertible(v)), versions[-1])


def _yaml_text(text: str) -> str:
    import json

    plain = re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ,.()/-]*", text) and not text.endswith(" ")
    return text if plain else json.dumps(text, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    """Write the skeleton (and the schema beside it); it is loaded first to prove it is valid."""
    from fhir_adapter.case import parse_case
    from fhir_adapter.errors import InputError
    from fhir_adapter.files import write_atomic
    from fhir_adapter.schema_cli import schema_file, schema_text

    path = Path(args.case)
    if path.exists() and not args.force:
        raise InputError(
            "file exists", file=str(path), fix="choose another name, or pass --force to replace it"
        )
    cid = args.id or case_id(path)
    title = args.title or path.name.split(".")[0].replace("-", " ").replace("_", " ").capitalize()
    from fhir_adapter.case import FORMATS

    version = args.version or default_version()
    if version not in FORMATS.values():
        raise InputError(
            f"unknown case format {version}",
            field="--format",
            fix=f"use one of: {', '.join(str(v) for v in FORMATS.values())}",
        )
    line = None if args.no_schema else f"# yaml-language-server: $schema={schema_file(version)}"
    text = skeleton(version, cid, title, path.name, line)
    parse_case(text, source=str(path))  # a bad --id or --title is reported before writing
    write_atomic(path, text)
    print(f"wrote {path} (format fhir-adapter-case/{version}, case id {cid!r})", file=sys.stderr)
    if not convertible(version):
        print(
            f"note: format /{version} files load and are checked, but `convert` does not turn them"
            " into FHIR yet; `--format 1` writes one it does",
            file=sys.stderr,
        )
    if not args.no_schema:
        schema = path.parent / schema_file(version)
        write_atomic(schema, schema_text(version))
        print(f"wrote {schema} (editors read it through the file's first line)", file=sys.stderr)
    print(
        f"next: fill it in (codes: fhir-adapter concepts search WORDS --kind KIND), then\n"
        f"      fhir-adapter convert {path} -o bundle.json",
        file=sys.stderr,
    )
    return 0
