"""post EXPORT_DIR --mode bulk: batches of PUTs, bounded concurrency, the server's batch size,
reference order, refusals before anything is sent; against a real server and scripted ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.bulk.export import export_ndjson
from fhir_adapter.bulk.load import InvalidExport, load_export, reference_order
from fhir_adapter.cli import main
from fhir_adapter.client import DeliveryError, FhirClient
from fhir_adapter.errors import InputError
from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.testing import Answer, HostileServer, Seen, capability_statement


def write_export(root: Path, n_obs: int) -> Path:
    """An export of one Patient and ``n_obs`` Observations about it (generated test data)."""
    root.mkdir(parents=True)
    patient = {"resourceType": "Patient", "id": "p1", "gender": "unknown"}
    obs = [
        {
            "resourceType": "Observation",
            "id": f"o{k}",
            "status": "final",
            "code": {"text": f"generated test observation {k}"},
            "subject": {"reference": "Patient/p1"},
        }
        for k in range(n_obs)
    ]
    (root / "Observation.ndjson").write_text("".join(json.dumps(o) + "\n" for o in obs))
    (root / "Patient.ndjson").write_text(json.dumps(patient) + "\n")
    manifest = {
        "requiresAccessToken": False,
        "output": [
            {"type": "Observation", "url": "Observation.ndjson", "count": n_obs},
            {"type": "Patient", "url": "Patient.ndjson", "count": 1},
        ],
        "error": [],
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


class Scripted:
    """A batch-taking server: answers every PUT of a batch 201 after ``delay`` seconds, records
    the batches and when they arrived, and refuses batches above ``max_entries`` with 413."""

    def __init__(
        self,
        *,
        software: str | None = None,
        max_entries: int = 10**6,
        delay: float = 0.0,
        **caps: Any,
    ) -> None:
        self.cap = capability_statement(types=("Patient", "Observation"), **caps)
        if software:
            self.cap["software"] = {"name": software}
        self.max_entries = max_entries
        self.delay = delay
        self.batches: list[list[str]] = []
        self.arrivals: list[float] = []

    def most_in_flight(self, within: float) -> int:
        """The most batches that arrived within ``within`` seconds of one another."""
        at = sorted(self.arrivals)
        return max(sum(1 for b in at if a <= b < a + within) for a in at)

    def __call__(self, seen: Seen) -> Answer:  # the server calls this under its own lock
        if seen.method == "GET":
            return Answer(200, {"Content-Type": "application/fhir+json"}, self.cap)
        bundle = json.loads(seen.body)
        urls = [e["request"]["url"] for e in bundle["entry"]]
        if len(urls) > self.max_entries:
            return Answer(413, {"Content-Type": "text/plain"}, "too large")
        self.batches.append(urls)
        self.arrivals.append(seen.at)
        body = {
            "resourceType": "Bundle",
            "type": "batch-response",
            "entry": [{"response": {"status": "201 Created", "location": u}} for u in urls],
        }
        return Answer(200, {"Content-Type": "application/fhir+json"}, body, delay=self.delay)


@pytest.fixture
def scripted() -> Iterator[tuple[Scripted, str]]:
    script = Scripted()
    with HostileServer(script) as server:
        yield script, server.base


def _load(base: str, export: Path, **kw: Any) -> Any:
    with FhirClient(base, prefer="minimal") as client:
        return load_export(export, client, **kw)


def test_batches_of_the_given_size_with_bounded_concurrency(tmp_path: Path) -> None:
    script = Scripted(delay=0.25)
    export = write_export(tmp_path / "e", 230)
    with HostileServer(script) as server:
        result = _load(server.base, export, batch_size=20, workers=3)
    assert result.ok and result.counts["Observation"]["created"] == 230
    sizes = [len(b) for b in script.batches]
    assert sizes[0] == 1 and sorted(sizes[1:]) == [10] + [20] * 11  # Patient first, alone
    assert script.most_in_flight(0.2) == 3  # three at once, never four
    sent = [u for b in script.batches for u in b]
    assert len(sent) == len(set(sent)) == 231 and all(u.count("/") == 1 for u in sent)


def test_referenced_types_go_first(tmp_path: Path) -> None:
    script = Scripted(delay=0.2)
    export = write_export(tmp_path / "e", 50)
    with HostileServer(script) as server:
        _load(server.base, export, batch_size=5, workers=4)
    assert script.batches[0] == ["Patient/p1"]
    # the Patient batch was answered before any Observation batch was sent
    assert min(script.arrivals[1:]) - script.arrivals[0] >= 0.2
    assert reference_order(
        ["A", "B", "C", "D"], {"A": {"B"}, "B": {"A", "C"}, "C": set(), "D": {"A"}}
    ) == [["C"], ["A", "B"], ["D"]]


def test_the_server_known_limit_is_the_batch_size(tmp_path: Path) -> None:
    script = Scripted(software="Microsoft FHIR Server")
    export = write_export(tmp_path / "e", 1200)
    with HostileServer(script) as server:
        result = _load(server.base, export)
    assert result.batch_size == 500
    assert sorted(len(b) for b in script.batches) == [1, 200, 500, 500]


def test_a_batch_refused_as_too_large_is_split_and_later_ones_shrink(tmp_path: Path) -> None:
    script = Scripted(max_entries=30)
    export = write_export(tmp_path / "e", 300)
    with HostileServer(script) as server:
        result = _load(server.base, export, batch_size=100, workers=1)
    assert result.ok and result.counts["Observation"]["created"] == 300
    assert max(len(b) for b in script.batches) <= 30
    assert result.batch_size == 100 and any("413" in n for n in result.notes)
    assert len(script.batches) < 20  # later batches were made smaller, not split every time


def test_refusals_come_before_anything_is_sent(tmp_path: Path) -> None:
    export = write_export(tmp_path / "e", 3)
    script = Scripted(update_create=False)
    with HostileServer(script) as server:
        with pytest.raises(DeliveryError, match="updateCreate"):
            _load(server.base, export)
        assert script.batches == []
        assert _load(server.base, export, force_put=True).ok  # --strategy put: as asked
    script = Scripted(interactions=("transaction",))
    with HostileServer(script) as server, pytest.raises(DeliveryError, match="batch"):
        _load(server.base, export)
    assert script.batches == []


def test_an_invalid_or_broken_export_sends_nothing(tmp_path: Path, scripted: Any) -> None:
    script, base = scripted
    export = write_export(tmp_path / "e", 3)
    text = (export / "Observation.ndjson").read_text().replace('"final"', '"finished"', 1)
    (export / "Observation.ndjson").write_text(text)
    with pytest.raises(InvalidExport, match=r"Observation.ndjson: 1 error"):
        _load(base, export)
    (export / "Patient.ndjson").write_text('{"resourceType": "Patient", "gender": "male"}\n')
    with pytest.raises(InputError, match="without an id"):
        _load(base, export, validate=False)
    (export / "Patient.ndjson").write_text('{"resourceType": "Observation", "id": "x"}\n')
    with pytest.raises(InputError, match="a Observation in the Patient file"):
        _load(base, export, validate=False)
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["output"][0]["url"] = "../../etc/passwd"
    (export / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="outside the export"):
        _load(base, export, validate=False)
    (export / "manifest.json").unlink()
    with pytest.raises(InputError, match=r"no manifest\.json"):
        _load(base, export)
    assert script.batches == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategy", "conditional-create"], "keeps the export's ids"),
        (["--verify"], "keeps the export's ids"),
        (["OTHER"], "one export directory"),
    ],
)
def test_cli_bulk_usage_errors(
    extra: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_export(tmp_path / "e", 1)
    extra = [str(tmp_path) if a == "OTHER" else a for a in extra]
    args = ["post", str(export), *extra, "--mode", "bulk", "--server", "http://127.0.0.1:9/fhir"]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_cli_batch_size_needs_bulk(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["post", "--batch-size", "5", "--dry-run"]) == 2
    assert "--mode bulk" in capsys.readouterr().err


@pytest.mark.server
def test_load_into_a_real_server_twice_creates_once(
    tmp_path: Path, fhir_local_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import requests

    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("sle-calcinosis-cutis-universalis.case.yaml", "t2dm-metformin.case.yaml"):
        (cases / name).write_text((FIXTURES_DIR / name).read_text())
    result = export_ndjson([cases], tmp_path / "export")
    args = ["post", str(tmp_path / "export"), "--mode", "bulk", "--server", fhir_local_server]
    assert main([*args, "--batch-size", "7", "--workers", "3"]) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out
    for t, n in result.counts.items():
        assert f"{t:<22} {n:>8,} {n:>8,} {0:>8,}" in first  # all created
        assert f"{t:<22} {n:>8,} {0:>8,} {n:>8,}" in second  # all updated
        total = requests.get(f"{fhir_local_server}/{t}?_summary=count", timeout=30).json()
        assert total["total"] == n  # no duplicates
    obs = json.loads((tmp_path / "export" / "Observation.ndjson").read_text().splitlines()[0])
    subject = obs["subject"]["reference"]
    assert requests.get(f"{fhir_local_server}/{subject}", timeout=30).status_code == 200
