"""Load a Bulk Data NDJSON export (``convert --ndjson``) into a FHIR server, in batches.

- **Ids are kept.** Every resource is sent as ``PUT <Type>/<id>`` (update-as-create), the
  ``put`` strategy of ``post``: the export's literal ``Type/id`` references hold on the server,
  and loading the same export again updates what the first load created, never duplicates it.
  A server that does not declare ``updateCreate`` for every type of the export is refused
  before anything is sent (conditional create would let the server choose ids, and every
  reference between resources would then point nowhere).
- **Batches.** Resources go in ``batch`` Bundles of at most ``batch_size`` entries and
  ``MAX_BATCH_BYTES``; the size is the server's own limit where known (:data:`KNOWN_LIMITS`,
  by ``CapabilityStatement.software.name``), else :data:`DEFAULT_BATCH_SIZE`. A batch the
  server refuses as too large (HTTP 413) is split in two and resent, and later batches use
  the smaller size.
- **Bounded concurrency.** At most ``workers`` batches are in flight at once.
- **Reference order.** Types are sent after the types their resources refer to (found in the
  export), so servers that check references on write find the targets; types that refer to
  each other are sent together.
- **Nothing half-checked is sent.** The manifest and every line (resourceType matching its
  file, an id) are read first, and, unless ``validate=False``, every file is validated
  offline: an invalid export is refused as a whole.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_adapter.client.order import components
from fhir_adapter.errors import EXIT_INVALID, FhirAdapterError, InputError

#: Entries per batch Bundle for a server whose limit is not known.
DEFAULT_BATCH_SIZE = 100
#: Bytes of JSON per batch Bundle at most (whatever the entry count).
MAX_BATCH_BYTES = 4 * 2**20
#: Entries per batch a server accepts, by CapabilityStatement.software.name: Microsoft's FHIR
#: server (Azure Health Data Services, Azure API for FHIR) limits bundles to 500 entries
#: (learn.microsoft.com, "Supported FHIR features", service limits).
KNOWN_LIMITS = {"Microsoft FHIR Server": 500}
MANIFEST = "manifest.json"

_REFERENCE = re.compile(rb'"reference"\s*:\s*"([A-Z][A-Za-z]+)/')


@dataclass(frozen=True)
class ExportFile:
    """One ``output`` entry of the manifest: the type, its file and the count declared."""

    type: str
    path: Path
    count: int


class InvalidExport(FhirAdapterError):
    """The export failed offline validation; nothing was sent."""

    exit_code = EXIT_INVALID

    def __init__(self, reports: list[Any]) -> None:
        self.reports = reports
        bad = [r for r in reports if not r.ok]
        listing = "\n".join(f"  {r.source}: {len(r.errors)} error(s)" for r in bad)
        super().__init__(
            f"the export is invalid ({len(bad)} file(s)); nothing was sent\n{listing}\n"
            "(fhir-adapter validate DIR lists every issue; --no-validate sends anyway)"
        )


@dataclass
class LoadResult:
    """What a load did: per type, resources created, updated and failed; each failure."""

    server: str
    batch_size: int
    order: list[list[str]]
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    #: (``Type/id``, HTTP status or None, what the server said)
    failures: list[tuple[str, int | None, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every resource was accepted."""
        return not self.failures

    def to_table(self, limit: int = 20) -> str:
        """Counts per type, then the first ``limit`` failures."""
        rows = [f"{'type':<22} {'sent':>8} {'created':>8} {'updated':>8} {'failed':>7}"]
        for t in [t for wave in self.order for t in wave]:
            c = self.counts.get(t, Counter())
            sent = c["created"] + c["updated"] + c["failed"]
            rows.append(
                f"{t:<22} {sent:>8,} {c['created']:>8,} {c['updated']:>8,} {c['failed']:>7,}"
            )
        for key, status, text in self.failures[:limit]:
            rows.append(f"FAILED {key}: HTTP {status if status is not None else '-'} {text}")
        if len(self.failures) > limit:
            rows.append(f"... and {len(self.failures) - limit:,} more failures")
        return "\n".join(rows)


# ------------------------------------------------------------------ reading the export


def read_manifest(out_dir: str | Path) -> list[ExportFile]:
    """The manifest's ``output`` files; InputError naming the field and the fix when the
    directory is not a readable export."""
    root = Path(out_dir)
    where = root / MANIFEST
    if not root.is_dir():
        raise InputError("not a directory", file=str(root), fix="give a convert --ndjson export")
    try:
        manifest = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"no {MANIFEST} here", file=str(root), fix="make one with convert CASES --ndjson DIR"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(
            f"unreadable: {err}",
            file=str(where),
            fix="give the directory convert --ndjson wrote, with its manifest.json intact",
        ) from None
    output = manifest.get("output") if isinstance(manifest, dict) else None
    if not isinstance(output, list):
        raise InputError(
            "has no output list",
            file=str(where),
            field="output",
            fix="a Bulk Data manifest lists its files in output[] (type, url, count)",
        )
    files = []
    for i, item in enumerate(output):
        at = f"output[{i}]"
        ok = isinstance(item, dict) and isinstance(item.get("type"), str)
        url = item.get("url") if isinstance(item, dict) else None
        if not ok or not isinstance(url, str) or not url:
            raise InputError(
                "needs a type and a url",
                file=str(where),
                field=at,
                fix='e.g. {"type": "Patient", "url": "Patient.ndjson", "count": 3}',
            )
        name = url.rsplit("/", 1)[-1] if "://" in url else url
        path = (root / name).resolve()
        if root.resolve() not in path.parents:
            raise InputError(
                f"url {url!r} is outside the export",
                file=str(where),
                field=f"{at}.url",
                fix="a file name in the export directory, e.g. Patient.ndjson",
            )
        if not path.is_file():
            raise InputError(
                f"file {name} is missing",
                file=str(where),
                field=f"{at}.url",
                fix="export again (convert CASES --ndjson DIR) or correct the manifest",
            )
        count = item.get("count")
        files.append(ExportFile(item["type"], path, count if isinstance(count, int) else -1))
    if not files:
        raise InputError(
            "lists no output files",
            file=str(where),
            field="output",
            fix="export some cases first: convert CASES --ndjson DIR",
        )
    return files


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                yield n, line


def scan(files: list[ExportFile]) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Resources per type and the types each type refers to; InputError for a line without an
    id, of another type than its file, or not JSON (a load must not stop half way)."""
    import orjson

    counts: dict[str, int] = {}
    refers: dict[str, set[str]] = {f.type: set() for f in files}
    for f in files:
        n_resources = 0
        for n, line in _lines(f.path):
            try:
                r = orjson.loads(line)
            except orjson.JSONDecodeError as err:
                raise InputError(
                    f"not JSON: {err}",
                    file=str(f.path),
                    line=n,
                    fix="one JSON resource per line (fhir-adapter validate lists every problem)",
                ) from None
            rid = r.get("id") if isinstance(r, dict) else None
            if not isinstance(r, dict) or r.get("resourceType") != f.type:
                got = r.get("resourceType") if isinstance(r, dict) else type(r).__name__
                raise InputError(
                    f"a {got} in the {f.type} file",
                    file=str(f.path),
                    line=n,
                    fix="one resource type per file, as the manifest lists",
                )
            if not isinstance(rid, str) or not rid:
                raise InputError(
                    "resource without an id",
                    file=str(f.path),
                    line=n,
                    field=f"{f.type}.id",
                    fix="a bulk load keeps the export's ids: every resource needs one",
                )
            refers[f.type].update(m.decode() for m in _REFERENCE.findall(line))
            n_resources += 1
        counts[f.type] = counts.get(f.type, 0) + n_resources
    return counts, refers


def reference_order(types: list[str], refers: dict[str, set[str]]) -> list[list[str]]:
    """Groups of types, each after the groups it refers to; types that refer to each other
    (directly or through others) share a group. Deterministic (names sorted)."""
    names = sorted(types)
    at = {t: i for i, t in enumerate(names)}
    needs = [{at[r] for r in refers.get(t, ()) if r in at and r != t} for t in names]
    return [[names[i] for i in group] for group in components(needs)]


# ------------------------------------------------------------------ sending


def batch_size_for(client: Any) -> int:
    """The server's known bundle limit (by software name), else DEFAULT_BATCH_SIZE."""
    software = client.capabilities().get("software")
    name = software.get("name") if isinstance(software, dict) else None
    return (
        KNOWN_LIMITS.get(name, DEFAULT_BATCH_SIZE) if isinstance(name, str) else DEFAULT_BATCH_SIZE
    )


def check_server(client: Any, types: list[str], *, forced: bool = False) -> None:
    """DeliveryError unless the server takes batches and (unless ``forced``, i.e. ``--strategy
    put``) declares update-as-create for every type."""
    from fhir_adapter.client.errors import DeliveryError

    if not client.supports("batch"):
        raise DeliveryError(
            "the server does not support batch (CapabilityStatement); a bulk load sends batches "
            "(post the cases with --mode each instead)",
            server=client.base_url,
            request="GET metadata",
        )
    missing = [t for t in types if client.resource_capability(t).get("updateCreate") is not True]
    if missing and not forced:
        raise DeliveryError(
            f"the server does not declare update-as-create (updateCreate) for {', '.join(missing)}: "
            "a bulk load keeps the export's ids so that its references hold, and a re-load "
            "updates instead of duplicating (--strategy put if it does take them; else post "
            "the cases with --mode transaction, which lets the server choose ids)",
            server=client.base_url,
            request="GET metadata",
        )


def _batches(
    files: list[ExportFile], size: Callable[[], int]
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    import orjson

    batch: list[tuple[str, dict[str, Any]]] = []
    nbytes = 0
    for f in files:
        for _, line in _lines(f.path):
            if batch and (len(batch) >= size() or nbytes + len(line) > MAX_BATCH_BYTES):
                yield batch
                batch, nbytes = [], 0
            batch.append((f.type, orjson.loads(line)))
            nbytes += len(line)
    if batch:
        yield batch


class _Sender:
    """Sends batches (splitting those refused as too large) and tallies the answers."""

    def __init__(self, client: Any, result: LoadResult, advance: Callable[[int], None]) -> None:
        self.client = client
        self.result = result
        self.advance = advance
        self.size = result.batch_size
        self.lock = threading.Lock()

    def current_size(self) -> int:
        return self.size

    def send(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        from fhir_adapter.client.delivery import send_bundle
        from fhir_adapter.client.errors import DeliveryError
        from fhir_adapter.client.plan import Plan, Step

        steps = [
            Step(i, rtype, "", "PUT", f"{rtype}/{r['id']}", r, own=True)
            for i, (rtype, r) in enumerate(batch)
        ]
        try:
            answer = send_bundle(self.client, Plan("batch", "put", steps))
            too_large = all(e.status == 413 for e in answer.entries)
        except DeliveryError as err:  # a 413 whose body is not FHIR
            if err.status != 413 or len(batch) == 1:
                raise
            too_large = True
        if len(batch) > 1 and too_large:
            with self.lock:
                self.size = max(1, min(self.size, len(batch) // 2))
                note = f"the server refused {len(batch)} entries as too large (HTTP 413); batches of {self.size} from now on"
                if note not in self.result.notes:
                    self.result.notes.append(note)
            half = len(batch) // 2
            self.send(batch[:half])
            self.send(batch[half:])
            return
        with self.lock:
            for (rtype, r), e in zip(batch, answer.entries, strict=True):
                tally = self.result.counts.setdefault(rtype, Counter())
                if e.ok:
                    tally["created" if e.created else "updated"] += 1
                else:
                    tally["failed"] += 1
                    self.result.failures.append((f"{rtype}/{r['id']}", e.status, e.outcome_text()))
        self.advance(len(batch))


def load_export(
    out_dir: str | Path,
    client: Any,
    *,
    workers: int = 4,
    batch_size: int | None = None,
    validate: bool = True,
    validate_jobs: int = 0,
    force_put: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LoadResult:
    """Load the export at ``out_dir`` into the server of ``client`` (a FhirClient); see the
    module docstring. ``force_put`` (``--strategy put``) sends PUTs to a server that does
    not declare update-as-create. ``progress(done, total)`` hears of each batch answered. Raises
    InputError (a bad export), InvalidExport, DeliveryError (a server that cannot take a bulk
    load, or an unusable answer) before or while sending; per-resource failures are in the
    result."""
    from fhir_adapter.bulk.pool import check_jobs
    from fhir_adapter.client.errors import ConfigError

    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 32:
        raise ConfigError(
            f"workers must be a number from 1 to 32, not {workers!r}",
            field="--workers",
            fix="e.g. --workers 4",
        )
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(
            f"batch size must be a whole number >= 1, not {batch_size!r}",
            field="--batch-size",
            fix="e.g. --batch-size 100, or leave it out for the server's known limit",
        )
    files = read_manifest(out_dir)
    counts, refers = scan(files)
    if validate:
        from fhir_adapter.bulk.validate import validate_paths

        reports = [
            r
            for r in validate_paths([f.path for f in files], jobs=check_jobs(validate_jobs))
            if r is not None
        ]
        if not all(r.ok for r in reports):
            raise InvalidExport(reports)
    types = sorted(counts)
    order = reference_order(types, refers)
    check_server(client, types, forced=force_put)
    size = batch_size or batch_size_for(client)
    result = LoadResult(client.base_url, size, order)
    total = sum(counts.values())
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    sender = _Sender(client, result, advance)
    by_type: dict[str, list[ExportFile]] = {}
    for f in files:
        by_type.setdefault(f.type, []).append(f)
    try:
        with ThreadPoolExecutor(workers) as pool:
            for group in order:  # a group only after the ones it refers to are answered
                pending: set[Future[None]] = set()
                group_files = [f for t in group for f in by_type[t]]
                for batch in _batches(group_files, sender.current_size):
                    if len(pending) >= workers:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for fut in finished:
                            fut.result()  # an unusable answer stops the load here
                    pending.add(pool.submit(sender.send, batch))
                for fut in pending:
                    fut.result()
    except FhirAdapterError as err:
        err.partial = result  # type: ignore[attr-defined]  # what was done before it stopped
        raise
    return result
