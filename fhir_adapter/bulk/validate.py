"""Validate many files, and large NDJSON files in line-aligned byte ranges, over worker processes.

Reports come back in input order, one per input file, equal to what
:meth:`Validator.validate_file` gives for that file; each worker holds at most one piece of
work (a byte range of ``chunk_bytes``, or a batch of small files) at a time, so memory per
worker is bounded whatever the input size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from fhir_adapter.bulk.pool import check_jobs, ordered_map
from fhir_adapter.errors import InputError
from fhir_adapter.validation import Validator
from fhir_adapter.validation.report import Issue, LineNumbers, Report

#: Bytes of NDJSON per piece of work (and the batch size for small files).
CHUNK_BYTES = 16 * 2**20
#: Most small files per batch.
BATCH_FILES = 64
#: The file name of a Bulk Data export manifest (not FHIR; skipped when a directory is searched).
MANIFEST = "manifest.json"


@dataclasses.dataclass(frozen=True)
class Piece:
    """One unit of work: a whole file, or a line-aligned byte range of an NDJSON file."""

    file: str
    start: int = 0
    end: int | None = None
    last: bool = True  # the file's final piece

    @property
    def ndjson(self) -> bool:
        return Path(self.file).suffix == ".ndjson"


def line_ranges(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, int]]:
    """Byte ranges of about ``chunk_bytes`` that cover ``path``, each starting at a line start."""
    size = path.stat().st_size
    start = 0
    with path.open("rb") as fh:
        while start < size:
            target = start + max(1, chunk_bytes)
            if target >= size:
                yield start, size
                return
            fh.seek(target - 1)
            fh.readline()  # to the end of the line holding byte target-1
            end = min(fh.tell(), size)
            yield start, end
            start = end


def _is_manifest(path: Path) -> bool:
    if path.name != MANIFEST:
        return False
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "resourceType" not in data and "output" in data


def expand_inputs(names: Sequence[str | Path]) -> list[Path | str]:
    """Inputs as Paths, directories replaced by their ``.json``/``.ndjson`` files (sorted).

    ``-`` (stdin) is kept as the string; a Bulk Data ``manifest.json`` inside a directory is
    left out; a missing file or a directory without FHIR files is an InputError, before any
    work starts.
    """
    out: list[Path | str] = []
    for name in names:
        if name == "-":
            out.append("-")
            continue
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".json", ".ndjson") and p.is_file() and not _is_manifest(p)
            )
            if not found:
                raise InputError(
                    "no .json or .ndjson files in this directory",
                    file=str(name),
                    fix="give a directory holding FHIR JSON, or the files themselves",
                )
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise InputError("file not found", file=str(name), fix="check the path")
    return out


def _pieces(files: Iterable[Path], chunk_bytes: int) -> Iterator[Piece]:
    for path in files:
        name = str(path)
        if path.suffix != ".ndjson":
            yield Piece(name)
            continue
        ranges = list(line_ranges(path, chunk_bytes)) or [(0, 0)]
        for k, (start, end) in enumerate(ranges):
            yield Piece(name, start, end, last=k == len(ranges) - 1)


def _batches(pieces: Iterable[Piece], chunk_bytes: int) -> Iterator[list[Piece]]:
    """Pieces grouped so that one task holds about ``chunk_bytes`` (or BATCH_FILES files)."""
    batch: list[Piece] = []
    size = 0
    for p in pieces:
        n = (p.end - p.start) if p.end is not None else _size(p.file)
        if batch and (size + n > chunk_bytes or len(batch) >= BATCH_FILES):
            yield batch
            batch, size = [], 0
        batch.append(p)
        size += n
    if batch:
        yield batch


def _size(name: str) -> int:
    try:
        return Path(name).stat().st_size
    except OSError:
        return 0


# ------------------------------------------------------------------ worker side

_VALIDATOR: Validator | None = None


def _init_worker(validator: Validator) -> None:
    global _VALIDATOR
    _VALIDATOR = validator


@dataclasses.dataclass
class _Done:
    """A piece's result; NDJSON line numbers count from the piece's first line."""

    piece: Piece
    issues: list[Issue]
    size: int
    lines: LineNumbers | None = None  # NDJSON: the lines validated
    newlines: int = 0  # NDJSON: line breaks in the range (to number the next piece)
    error: InputError | None = None


def _work(batch: list[Piece]) -> list[_Done]:
    assert _VALIDATOR is not None
    out = []
    for p in batch:
        path = Path(p.file)
        try:
            if not p.ndjson:
                out.append(_Done(p, _VALIDATOR.validate_file(path).issues, _size(p.file)))
                continue
            end = p.end if p.end is not None else path.stat().st_size
            lines, issues = LineNumbers(), list[Issue]()
            for n, rep in _VALIDATOR.iter_ndjson(path, start=p.start, end=end):
                lines.append(n)
                issues.extend(dataclasses.replace(i, line=n) for i in rep.issues)
            out.append(_Done(p, issues, end - p.start, lines, _newlines(path, p.start, end)))
        except InputError as err:
            out.append(_Done(p, [], 0, error=err))
    return out


def _newlines(path: Path, start: int, end: int) -> int:
    count = 0
    with path.open("rb") as fh:
        fh.seek(start)
        left = end - start
        while left > 0:
            block = fh.read(min(left, 1 << 20))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
    return count


# ------------------------------------------------------------------ parent side

#: ``progress(bytes, resources)``: called as pieces of work are done.
ProgressFn = Callable[[int, int], None]


def _files_reports(
    files: list[Path], validator: Validator, jobs: int, chunk_bytes: int, progress: ProgressFn
) -> Iterator[Report]:
    batches = _batches(_pieces(files, chunk_bytes), chunk_bytes)
    done = ordered_map(_work, batches, jobs=jobs, initializer=_init_worker, initargs=(validator,))
    report: Report | None = None
    lines_before = 0  # NDJSON line breaks in the current file's earlier pieces
    for results in done:
        for r in results:
            if r.error is not None:
                raise r.error
            if report is None:
                report = Report(source=r.piece.file)
                if r.lines is not None:
                    report.ndjson_lines = LineNumbers()
            if r.lines is None:
                report.issues = r.issues
            else:
                assert isinstance(report.ndjson_lines, LineNumbers)
                report.ndjson_lines.extend(r.lines, lines_before)
                report.issues.extend(
                    dataclasses.replace(i, line=(i.line or 0) + lines_before) for i in r.issues
                )
                lines_before += r.newlines
            progress(r.size, len(r.lines) if r.lines is not None else 1)
            if r.piece.last:
                yield report
                report, lines_before = None, 0


def validate_paths(
    inputs: Sequence[Path | str],
    validator: Validator | None = None,
    *,
    jobs: int = 1,
    chunk_bytes: int = CHUNK_BYTES,
    progress: ProgressFn | None = None,
) -> Iterator[Report | None]:
    """One Report per input, in input order, validated by ``jobs`` worker processes.

    ``inputs`` are ``.json`` files (one resource or bundle) and ``.ndjson`` files (one per
    line), as :func:`expand_inputs` gives them; each Report equals
    ``validator.validate_file(path)``. ``-`` (stdin) yields None, for the caller to read.
    Large NDJSON files are split into line-aligned byte ranges of about ``chunk_bytes``; small
    files are batched. ``progress(bytes, resources)`` hears of each piece done. Raises
    InputError for an unreadable input.
    """
    jobs = check_jobs(jobs)
    validator = validator or Validator()
    tell = progress or (lambda size, resources: None)
    segment: list[Path] = []
    for item in [*inputs, None]:
        if item is not None and item != "-":
            segment.append(Path(item))
            continue
        if segment:
            yield from _files_reports(segment, validator, jobs, chunk_bytes, tell)
            segment = []
        if item == "-":
            yield None


def validate_inputs(
    names: Sequence[str | Path],
    validator: Validator | None = None,
    *,
    jobs: int = 1,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[Report]:
    """One Report per file named or found under the directories named, in order (see
    :func:`validate_paths`); stdin is not read here."""
    inputs = [i for i in expand_inputs(names) if i != "-"]
    for report in validate_paths(inputs, validator, jobs=jobs, chunk_bytes=chunk_bytes):
        assert report is not None
        yield report
