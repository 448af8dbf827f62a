"""Many case files -> a FHIR Bulk Data export: one NDJSON file per resource type, a manifest.

Cases are converted by worker processes and written by this one, in case-file path order, so
the export is the same whatever the number of jobs. References are literal ``Type/id``. A
resource already written with identical content is written once; the same ``Type/id`` with
other content (two case files sharing a case id) is a conflict. A case that cannot be read,
converts to invalid FHIR or conflicts is skipped, reported on stderr and in the error file
(``error/OperationOutcome.ndjson``, one OperationOutcome per case); the others go on.

The export appears all at once: it is written to a hidden sibling directory and renamed into
place, so readers see the previous export or the new one, never a part.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fhir_adapter.bulk.pool import check_jobs, ordered_map
from fhir_adapter.errors import EXIT_BAD_INPUT, EXIT_INVALID, EXIT_OK, InputError
from fhir_adapter.progress import Progress

#: File names a directory search takes as case files.
CASE_SUFFIXES = (".case.yaml", ".case.yml", ".case.json")
MANIFEST = "manifest.json"
ERROR_FILE = "error/OperationOutcome.ndjson"


@dataclass
class CaseFailure:
    """A case that was skipped: its file, the exit code it earns, and what was wrong."""

    file: str
    exit_code: int
    problems: list[str]
    outcome: dict[str, Any]


@dataclass
class ExportResult:
    """What an export wrote: resources per type, cases converted, skipped and why."""

    out_dir: Path
    counts: dict[str, int] = field(default_factory=dict)
    cases: int = 0
    converted: int = 0
    duplicates: int = 0
    failures: list[CaseFailure] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when every case converted, else the worst failure's code (1 invalid, 2 bad input)."""
        return max((f.exit_code for f in self.failures), default=EXIT_OK)

    def summary(self) -> str:
        """One line for people."""
        n = sum(self.counts.values())
        text = (
            f"wrote {self.out_dir}: {n:,} resources of {len(self.counts)} types from "
            f"{self.converted:,} of {self.cases:,} cases"
        )
        if self.duplicates:
            text += f"; {self.duplicates:,} duplicate resources written once"
        if self.failures:
            text += f"; {len(self.failures):,} cases skipped (see {self.out_dir / ERROR_FILE})"
        return text


# ------------------------------------------------------------------ inputs


def find_cases(names: Sequence[str | Path]) -> list[Path]:
    """Case files named or found under directories (``*.case.yaml|yml|json``), each once, in
    path order. A missing path, or a directory without case files, is an InputError."""
    found: set[Path] = set()
    for name in names:
        path = Path(name)
        if path.is_dir():
            here = [p for p in path.rglob("*") if p.name.endswith(CASE_SUFFIXES) and p.is_file()]
            if not here:
                raise InputError(
                    "no case files in this directory",
                    file=str(path),
                    fix=f"case files are named *{', *'.join(CASE_SUFFIXES)}",
                )
            found.update(p.resolve() for p in here)
        elif path.is_file():
            found.add(path.resolve())
        else:
            raise InputError("file not found", file=str(path), fix="check the path")
    if not found:
        raise InputError("no case files given", fix="name case files or directories of them")
    return sorted(found, key=str)


def transaction_time() -> str | None:
    """``SOURCE_DATE_EPOCH`` as an instant, or None: an export never invents a time."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return None
    try:
        seconds = int(raw)
        when = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"not a number of seconds since 1970: {raw!r}",
            field="SOURCE_DATE_EPOCH",
            fix="unset it, or give whole seconds, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
        ) from None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ worker side


@dataclass
class CaseOutput:
    """One converted case: NDJSON lines by (type, id), or why it failed."""

    file: str
    lines: list[tuple[str, str, bytes]] = field(default_factory=list)
    failure: CaseFailure | None = None


_VALIDATOR: Any = None  # this process's Validator, compiled once
_VALIDATE = True


def setup_worker(validate: bool, mappings: Sequence[str] = ()) -> None:
    """Prepare this process to convert cases: validate their resources or not, and use these
    add-on mapping directories (as ``--mappings``) besides the configured ones."""
    global _VALIDATOR, _VALIDATE
    _VALIDATE = validate
    if mappings:
        from fhir_adapter.terminology import use_mappings

        use_mappings(mappings)
    if validate and _VALIDATOR is None:
        from fhir_adapter.validation import Validator

        _VALIDATOR = Validator()


def literal_references(resources: list[dict[str, Any]]) -> None:
    """Rewrite ``urn:uuid:<id>`` references between ``resources`` to ``Type/id`` (in place)."""
    target = {f"urn:uuid:{r['id']}": f"{r['resourceType']}/{r['id']}" for r in resources}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "reference" and isinstance(v, str) and v in target:
                    node[k] = target[v]
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(resources)


def _outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def _failed(file: str, code: int, problems: list[str], issues: list[dict[str, Any]]) -> CaseOutput:
    return CaseOutput(file, failure=CaseFailure(file, code, problems, _outcome(issues)))


def _input_issue(text: str) -> dict[str, Any]:
    return {"severity": "error", "code": "invalid", "diagnostics": text}


def ndjson_text(obj: Any) -> str:
    """``obj`` as one compact line of JSON (no newline), as the export writes it."""
    import orjson

    return orjson.dumps(obj).decode("utf-8")


def clash_outcome(case: str, key: str, other: str) -> dict[str, Any]:
    """The OperationOutcome of a case skipped because ``key`` came from ``other`` differently."""
    text = (
        f"{case}: {key} was already written from {other} with other content "
        "(the two case files share a case id) (fix: give each case file its own id)"
    )
    return _outcome([_input_issue(text)])


def convert_case(file: str, text: str | None = None) -> CaseOutput:
    """Convert one case file (or its ``text``) to NDJSON lines, validated when the worker was
    set up to validate; a failure becomes a CaseFailure, never an exception."""
    import orjson

    from fhir_adapter.case import load_case, parse_case
    from fhir_adapter.convert import to_resources
    from fhir_adapter.errors import CaseError

    try:
        case = load_case(file) if text is None else parse_case(text, source=file)
        resources = to_resources(case)
    except CaseError as err:
        texts = [str(p) if p is not err else InputError.__str__(p) for p in err.problems]
        return _failed(file, err.exit_code, texts, [_input_issue(t) for t in texts])
    except InputError as err:  # e.g. a concept the terminology tables lack
        return _failed(file, err.exit_code, [str(err)], [_input_issue(str(err))])
    except Exception as err:  # a defect, not the user's: report it, go on with the others
        msg = f"{file}: internal error while converting ({type(err).__name__}: {err}); please report it"
        return _failed(
            file,
            EXIT_INVALID,
            [msg],
            [{"severity": "fatal", "code": "exception", "diagnostics": msg}],
        )
    literal_references(resources)
    if _VALIDATE:
        if _VALIDATOR is None:
            setup_worker(True)
        problems, issues = [], []
        for r in resources:
            report = _VALIDATOR.validate_resource(r)
            for i in report.errors:
                where = f"{r['resourceType']}/{r['id']}"
                problems.append(f"{file}: {where}: {i}")
                issues.append(
                    {
                        "severity": i.severity,
                        "code": "invalid",
                        "diagnostics": f"{file}: {where}: [{i.rule}] {i.message}",
                        "expression": [i.path],
                    }
                )
        if problems:
            return _failed(file, EXIT_INVALID, problems, issues)
    lines = [(r["resourceType"], r["id"], orjson.dumps(r) + b"\n") for r in resources]
    return CaseOutput(file, lines)


# ------------------------------------------------------------------ parent side


class _Writer:
    """NDJSON files in the staging directory, opened on first use, with line counts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, IO[bytes]] = {}
        self.counts: dict[str, int] = {}

    def write(self, name: str, line: bytes) -> None:
        fh = self.files.get(name)
        if fh is None:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = self.files[name] = path.open("wb")
            self.counts[name] = 0
        fh.write(line)
        self.counts[name] += 1

    def close(self) -> None:
        for fh in self.files.values():
            fh.flush()
            os.fsync(fh.fileno())
            fh.close()


def check_out_dir(out_dir: Path) -> None:
    """Refuse an output path that is a file, or a non-empty directory that is not an export."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(
            "exists and is not a directory", file=str(out_dir), fix="choose a new path"
        )
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise InputError(
            f"is not empty and holds no {MANIFEST}: not replacing it",
            file=str(out_dir),
            fix="choose a new or empty directory, or an earlier export's directory",
        )


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Put ``staging`` at ``out_dir``, replacing an earlier export, by renames only."""
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old."))
        os.replace(out_dir, old / "export")
    os.replace(staging, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _manifest(result: ExportResult, names: dict[str, str], base_url: str | None) -> dict[str, Any]:
    def url(name: str) -> str:
        return f"{base_url.rstrip('/')}/{name}" if base_url else name

    manifest: dict[str, Any] = {}
    when = transaction_time()
    if when:
        manifest["transactionTime"] = when
    manifest["requiresAccessToken"] = False
    manifest["output"] = [
        {"type": t, "url": url(names[t]), "count": result.counts[t]} for t in sorted(result.counts)
    ]
    manifest["error"] = (
        [{"type": "OperationOutcome", "url": url(ERROR_FILE), "count": len(result.failures)}]
        if result.failures
        else []
    )
    return manifest


def export_ndjson(
    cases: Sequence[str | Path],
    out_dir: str | Path,
    *,
    jobs: int = 1,
    validate: bool = True,
    base_url: str | None = None,
    mappings: Sequence[str | Path] = (),
    on_failure: Callable[[CaseFailure], None] | None = None,
    show_skipped: bool = False,
) -> ExportResult:
    """Convert case files (or directories of them) into a Bulk Data NDJSON export at ``out_dir``.

    Writes ``<Type>.ndjson`` per resource type, ``manifest.json`` (``output[]`` with type, url
    and count; ``transactionTime`` only from ``SOURCE_DATE_EPOCH``) and, when cases fail,
    ``error/OperationOutcome.ndjson``. ``jobs`` worker processes convert (0: one per CPU);
    ``validate`` checks every resource offline first; ``mappings`` are add-on mapping
    directories (``--mappings``; the settings file and environment apply anyway). ``on_failure(CaseFailure)`` hears of
    each skipped case as it happens; ``show_skipped`` prints each on stderr (above the progress
    bar, shown on a terminal). Raises InputError (nothing written) for bad arguments.
    """
    jobs = check_jobs(jobs)
    files = find_cases(cases)
    out = Path(out_dir)
    check_out_dir(out)
    transaction_time()  # a bad SOURCE_DATE_EPOCH fails before the work
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new."))
    result = ExportResult(out, cases=len(files))
    try:
        writer = _Writer(staging)
        names: dict[str, str] = {}
        seen: dict[str, tuple[bytes, int]] = {}  # "Type/id" -> (content digest, case index)
        outputs = ordered_map(
            convert_case,
            [str(f) for f in files],
            jobs=jobs,
            initializer=setup_worker,
            initargs=(validate, tuple(str(m) for m in mappings)),
        )
        with Progress(len(files), desc="convert", unit="case") as bar:
            for index, case in enumerate(outputs):
                failure = case.failure
                lines: list[tuple[str, bytes]] = []
                if failure is None:
                    failure, lines = _admit(case, index, seen, files)
                if failure is not None:
                    result.failures.append(failure)
                    writer.write(ERROR_FILE, ndjson_text(failure.outcome).encode() + b"\n")
                    if show_skipped:
                        bar.note("\n  ".join([f"skipped {failure.file}:", *failure.problems]))
                    if on_failure is not None:
                        on_failure(failure)
                else:
                    result.converted += 1
                    result.duplicates += len(case.lines) - len(lines)
                    for rtype, line in lines:
                        names.setdefault(rtype, f"{rtype}.ndjson")
                        writer.write(names[rtype], line)
                bar.advance(1, {"cases": index + 1, "skipped": len(result.failures)})
        writer.close()
        result.counts = {t: writer.counts[n] for t, n in names.items()}
        manifest = json.dumps(_manifest(result, names, base_url), indent=2) + "\n"
        (staging / MANIFEST).write_text(manifest, encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; an export is not
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _admit(
    case: CaseOutput, index: int, seen: dict[str, tuple[bytes, int]], files: list[Path]
) -> tuple[CaseFailure | None, list[tuple[str, bytes]]]:
    """Check a converted case against what is written: the conflict that skips it, or the
    (type, line) pairs to write (resources already written with the same content left out)."""
    digests = []
    for rtype, rid, line in case.lines:
        key = f"{rtype}/{rid}"
        digest = hashlib.blake2b(line, digest_size=16).digest()
        digests.append((key, digest))
        before = seen.get(key)
        if before is not None and before[0] != digest:
            outcome = clash_outcome(case.file, key, str(files[before[1]]))
            text = outcome["issue"][0]["diagnostics"]
            return CaseFailure(case.file, EXIT_BAD_INPUT, [text], outcome), []
    lines = []
    for (key, digest), (rtype, _rid, line) in zip(digests, case.lines, strict=True):
        if key not in seen:
            seen[key] = (digest, index)
            lines.append((rtype, line))
    return None, lines
