"""What the server did with each entry of a posted bundle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class EntryResult:
    """The outcome of one entry: HTTP status, server id/version/Location, any OperationOutcome."""

    index: int
    resource_type: str
    full_url: str
    status: int | None = None
    id: str | None = None
    version: str | None = None
    location: str | None = None
    outcome: dict[str, Any] | None = None
    differences: list[str] = field(default_factory=list)
    #: Never sent (the post stopped first, or an entry it references failed).
    not_sent: bool = False
    #: Why an answer the server gave cannot be trusted (e.g. a Location naming another id).
    problem: str | None = None
    #: ``each`` mode, a reference cycle: the entries (indexes) whose references the first write
    #: left out and an update after every first write added.
    deferred: list[int] = field(default_factory=list)
    #: Why the resource is on the server without its deferred references (the update failed or
    #: was never sent); posting the bundle again completes it. None when complete.
    incomplete: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the server accepted the entry (2xx), its answer is consistent, and
        read-back found no difference."""
        return (
            self.status is not None
            and 200 <= self.status < 300
            and not self.differences
            and self.problem is None
            and self.incomplete is None
        )

    @property
    def written(self) -> bool:
        """Whether the server holds the resource under a known id (its write was accepted),
        complete or not."""
        return (
            self.id is not None
            and self.status is not None
            and 200 <= self.status < 300
            and self.problem is None
        )

    @property
    def created(self) -> bool:
        """Whether the server created a new resource (201) rather than matching one (200)."""
        return self.status == 201

    def outcome_text(self) -> str:
        """The OperationOutcome's issues (and any problem with the answer) as one line."""
        parts = [self.problem] if self.problem else []
        if self.incomplete:
            parts.append(self.incomplete)
        if not self.outcome:
            return "; ".join(parts)
        issues = self.outcome.get("issue")
        for i in issues if isinstance(issues, list) else []:
            if not isinstance(i, dict):
                continue
            details = i.get("details")
            text = (
                i.get("diagnostics")
                or (details.get("text") if isinstance(details, dict) else None)
                or i.get("code", "")
            )
            parts.append(f"{i.get('severity', '')}: {text}")
        return "; ".join(parts)


@dataclass
class PostResult:
    """Every entry's outcome for one post, plus the server and mode used."""

    server: str
    mode: str
    entries: list[EntryResult] = field(default_factory=list)
    strategy: str = "conditional-create"
    #: What the caller should know although nothing failed (e.g. entries a re-post duplicates).
    warnings: list[str] = field(default_factory=list)
    #: How the bundle was sent when that is not entry by entry (e.g. a document, as one Bundle).
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every entry succeeded."""
        return bool(self.entries) and all(e.ok for e in self.entries)

    @property
    def ids(self) -> dict[str, str]:
        """fullUrl -> 'Type/id' on the server, for entries that got an id."""
        return {e.full_url: f"{e.resource_type}/{e.id}" for e in self.entries if e.id}

    def to_table(self) -> str:
        """A plain-text table: entry, type, status, id (and problems)."""
        rows = [("entry", "type", "status", "id", "version", "notes")]
        for e in self.entries:
            notes = (
                e.outcome_text() if not e.ok else ("created" if e.created else "existing/updated")
            )
            if e.ok and e.deferred:
                notes += f"; then updated with its references to {_entries(self, e.deferred)}"
            if e.differences:
                notes = "read-back differs: " + "; ".join(e.differences[:3])
            rows.append(
                (
                    str(e.index),
                    e.resource_type,
                    str(e.status or "-"),
                    e.id or "-",
                    e.version or "-",
                    notes,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
            for r in rows
        ]
        ok = sum(e.ok for e in self.entries)
        not_sent = sum(e.not_sent for e in self.entries)
        incomplete = [e for e in self.entries if e.incomplete is not None and not e.not_sent]
        failed = len(self.entries) - ok - not_sent - len(incomplete)
        summary = f"{self.server} ({self.mode}, {self.strategy}): {ok} ok, {failed} failed"
        summary += f", {not_sent} not sent" if not_sent else ""
        if incomplete:
            summary += (
                f", {len(incomplete)} written without their references to later entries "
                "(post again to complete them)"
            )
        lines.append(summary)
        return "\n".join(lines)


def _entries(result: PostResult, indexes: list[int]) -> str:
    """``entries 3 (Condition), 5 (Observation)`` for these entry indexes of ``result``."""
    types = {e.index: e.resource_type for e in result.entries}
    return "entries " + ", ".join(f"{i} ({types.get(i, '?')})" for i in indexes)
