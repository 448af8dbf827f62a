"""Case-file text -> plain data, with the line of every field path for error messages."""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir_adapter.errors import CaseError


class Lines(dict[tuple[Any, ...], int]):
    """Field path (keys and list indexes) -> 1-based line in the case file; also the 1-based
    column of each value (``cols``) and of each mapping key (``key_at``: (line, column)), and the
    problems found while parsing that did not stop it (``problems``)."""

    def __init__(self) -> None:
        super().__init__()
        self.cols: dict[tuple[Any, ...], int] = {}
        self.key_at: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.problems: list[CaseError] = []


# YAML 1.1 would turn 2010-02-30 into a date (and fail obscurely) and "no" into False in some
# places; case files keep dates as text so we can check and report them ourselves.
def _loader_class() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed

    class _CaseLoader(base):  # type: ignore[misc,valid-type]
        pass

    _CaseLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _CaseLoader


_LOADER = cache(_loader_class)


def parse_with_lines(text: str, source: str) -> tuple[dict[str, Any], Lines]:
    """Parse YAML/JSON text into plain data plus a map from field path to 1-based line."""
    import yaml

    loader = _LOADER()(text)
    lines = Lines()
    try:
        node = loader.get_single_node()
        if node is None:
            raise CaseError("file is empty", file=source, fix="start from fixtures/README.md")

        def build(n: Any, path: tuple[Any, ...]) -> Any:
            lines[path] = n.start_mark.line + 1
            lines.cols[path] = n.start_mark.column + 1
            if isinstance(n, yaml.MappingNode):
                out: dict[str, Any] = {}
                for k_node, v_node in n.value:
                    key = loader.construct_object(k_node, deep=True)
                    at = (k_node.start_mark.line + 1, k_node.start_mark.column + 1)
                    if not isinstance(key, str):
                        lines.problems.append(
                            CaseError(
                                f"key {key!r} is not text",
                                file=source,
                                line=at[0],
                                column=at[1],
                                field=dotted(path),
                                fix="quote the key",
                            )
                        )
                        continue
                    key_path = (*path, key)
                    if key in out:  # reported, and the first entry kept, so checking goes on
                        first = lines.key_at[key_path][0]
                        lines.problems.append(
                            CaseError(
                                f"duplicate key {key!r} (first on line {first})",
                                file=source,
                                line=at[0],
                                column=at[1],
                                field=dotted((*path, key)),
                                fix="keep one of the two entries",
                            )
                        )
                        continue
                    lines.key_at[key_path] = at
                    out[key] = build(v_node, (*path, key))
                return out
            if isinstance(n, yaml.SequenceNode):
                return [build(item, (*path, i)) for i, item in enumerate(n.value)]
            return loader.construct_object(n, deep=True)

        data = build(node, ())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise CaseError(
            f"malformed YAML/JSON: {err.problem or err.context}",
            file=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            fix="fix the syntax at that line",
        ) from None
    except yaml.YAMLError as err:
        raise CaseError(
            f"malformed YAML/JSON: {err}",
            file=source,
            fix="correct the syntax (a YAML or JSON linter shows where)",
        ) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CaseError(
            "a case file must hold a mapping at the top",
            file=source,
            line=1,
            fix="see fixtures/README.md",
        )
    return data, lines


def dotted(path: tuple[Any, ...]) -> str:
    """A field path as text: ``medications[0].daily_dose.unit``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def present(lines: Lines, path: tuple[Any, ...]) -> tuple[Any, ...]:
    """The longest prefix of ``path`` written in the file (a defaulted value's item)."""
    while path and path not in lines:
        path = path[:-1]
    return path


def line_of(lines: Lines, path: tuple[Any, ...]) -> int | None:
    """The line of ``path``, or of the nearest enclosing field the file writes."""
    return lines.get(present(lines, path))


def col_of(lines: Lines, path: tuple[Any, ...], *, key: bool = False) -> int | None:
    """The column of ``path``'s value (``key``: of its key), or of the nearest enclosing field."""
    where = present(lines, path)
    if key and where in getattr(lines, "key_at", {}):
        return lines.key_at[where][1]
    cols: dict[tuple[Any, ...], int] = getattr(lines, "cols", {})
    return cols.get(where)


def problem(lines: Lines, source: str, path: tuple[Any, ...], message: str, fix: str) -> CaseError:
    """A CaseError located at ``path`` (or the nearest enclosing field the file writes)."""
    where = present(lines, path)
    return CaseError(
        message,
        file=source,
        line=lines.get(where),
        column=col_of(lines, where),
        field=dotted(where),
        fix=fix,
    )
