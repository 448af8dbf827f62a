"""The HTML page of a validation run over many files: a summary per file, the issues grouped by
rule, and the JSON lines they point at (quoted in the page, linked from every issue)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from fhir_adapter.report.page import page
from fhir_adapter.validation.report import Issue

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.validation.formats import FileResult

#: lines of context quoted around an issue's line; issues quoted per file at most
CONTEXT = 2
MAX_QUOTED = 300
_MAX_LINE = 400


def _href(file: str, base: Path | None) -> str | None:
    if file.startswith("<"):
        return None
    path = Path(file).resolve()
    if base is None:
        return path.as_uri()
    try:
        return Path(os.path.relpath(path, base.resolve())).as_posix()
    except ValueError:  # another drive (Windows)
        return path.as_uri()


def _quote_lines(file: str, wanted: set[int]) -> dict[int, str]:
    """The text of the wanted lines (and their context), read in one pass; long lines cut."""
    if file.startswith("<") or not wanted:
        return {}
    need = {n + d for n in wanted for d in range(-CONTEXT, CONTEXT + 1)}
    last = max(need)
    out: dict[int, str] = {}
    try:
        with open(file, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if n in need:
                    line = line.rstrip("\n")
                    out[n] = line if len(line) <= _MAX_LINE else line[:_MAX_LINE] + " …"
                if n >= last:
                    break
    except OSError:
        return {}
    return out


def _cut(line: str, column: int | None) -> str:
    """A long line around the column (NDJSON lines are whole resources)."""
    if column is None or len(line) <= 160:
        return line
    start = max(column - 60, 0)
    return ("… " if start else "") + line[start : start + 160] + " …"


def validation_page(results: Sequence[FileResult], *, base: Path | None = None) -> str:
    """The page; ``base`` is the folder the page is written to (links to files are relative)."""
    total = Counter[str]()
    rows = []
    by_rule: dict[tuple[str, str], list[tuple[int, Issue]]] = {}
    quoted: list[str] = []
    for k, r in enumerate(results):
        rep = r.report
        for i in rep.issues:
            total["error" if i.severity == "fatal" else i.severity] += 1
            by_rule.setdefault((i.rule, i.severity), []).append((k, i))
        href = _href(r.file, base)
        name = f'<a href="{escape(href)}">{escape(r.file)}</a>' if href else escape(r.file)
        n_res = len(rep.ndjson_lines) if rep.ndjson_lines is not None else ""
        status = (
            '<span class="verdict bad">invalid</span>'
            if r.failed
            else '<span class="verdict ok">valid</span>'
        )
        anchor = f' <a href="#f{k}">issues</a>' if rep.issues else ""
        rows.append(
            f'<tr class="file" data-file="{escape(r.file)}" data-valid="{str(not r.failed).lower()}">'
            f'<td>{name}{anchor}</td><td>{status}</td><td class="n">{n_res}</td>'
            f'<td class="n">{len(rep.errors)}</td><td class="n">{len(rep.warnings)}</td></tr>'
        )
        if rep.issues:
            quoted.append(_file_section(k, r.file, rep.issues))
    bad = sum(r.failed for r in results)
    body = [
        '<section id="files"><h2>Files</h2><table id="file-table"><thead><tr><th>file</th>'
        "<th>result</th><th>NDJSON resources</th><th>errors</th><th>warnings</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>",
        '<section id="rules"><h2>Issues by rule</h2>',
    ]
    for (rule, sev), hits in sorted(by_rule.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        sev_cls = "error" if sev == "fatal" else sev
        items = []
        for k, i in hits[:500]:
            file = results[k].file
            at = f"{file}:{i.line}" + (f":{i.column}" if i.column else "") if i.line else file
            link = f"#f{k}-L{i.line}" if i.line else f"#f{k}"
            res = f" <code>{escape(i.resource)}</code>" if i.resource else ""
            fix = f'<div class="fix">fix: {escape(i.fix)}</div>' if i.fix else ""
            items.append(
                f'<li class="issue sev-{sev_cls}" data-severity="{sev_cls}" data-rule="{escape(rule)}">'
                f'<a class="at" href="{link}">{escape(at)}</a>{res} <code class="path">{escape(i.path)}</code>: '
                f"{escape(i.message)}{fix}</li>"
            )
        more = f'<li class="muted">… and {len(hits) - 500} more</li>' if len(hits) > 500 else ""
        body.append(
            f'<details class="rule" open data-rule="{escape(rule)}"><summary><code>{escape(rule)}</code> '
            f'{escape(sev)}: {len(hits)}</summary><ul class="issues">{"".join(items)}{more}</ul></details>'
        )
    body.append("</section>")
    if quoted:
        body.append('<section id="sources"><h2>Where</h2>' + "".join(quoted) + "</section>")
    subtitle = f"{len(results)} files · {len(results) - bad} valid · {bad} invalid · {total['error']} errors, {total['warning']} warnings"
    return page("FHIR validation", subtitle, "".join(body), total)


def _file_section(k: int, file: str, issues: list[Issue]) -> str:
    """The quoted JSON lines of one file, each issue's line marked and anchored."""
    lines = sorted({i.line for i in issues if i.line is not None})[:MAX_QUOTED]
    text = _quote_lines(file, set(lines))
    col = {i.line: i.column for i in issues if i.line is not None}
    blocks = []
    shown: set[int] = set()
    for n in lines:
        if n in shown:
            continue
        out = []
        for m in range(n - CONTEXT, n + CONTEXT + 1):
            if m in text and m not in shown:
                shown.add(m)
                hit = m in col
                mark = f' id="f{k}-L{m}" class="hit"' if hit else ""
                out.append(f"<span{mark}>{m:>6}  {escape(_cut(text[m], col.get(m)))}</span>")
        if out:
            blocks.append('<pre class="src">' + "".join(out) + "</pre>")
    more = ""
    if len({i.line for i in issues if i.line is not None}) > MAX_QUOTED:
        more = f'<p class="muted">lines after the first {MAX_QUOTED} with issues are not quoted</p>'
    return f'<div class="file-src" id="f{k}"><h3>{escape(file)}</h3>{"".join(blocks)}{more}</div>'
