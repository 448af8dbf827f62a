"""House rules checked on the source (by AST): the command-line modules sit on top, no library
module imports one (imports inside functions included); no import cycles anywhere in the package;
every input error says how to fix it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fhir_adapter"


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def _is_cli(module: str) -> bool:
    return module == "fhir_adapter.cli" or module.endswith(("_cli", ".cli"))


def test_library_modules_never_import_a_command_line_module() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module(path)
        if _is_cli(name):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            wrong += [f"{name} imports {t}" for t in targets if _is_cli(t)]
    assert wrong == []


def test_names_imported_from_a_command_line_module_are_defined_there() -> None:
    """A command-line module is no place to find a library function it merely imports (one CLI
    may share its own option declarations with another)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    defined: dict[str, set[str]] = {}
    for name, path in modules.items():
        if _is_cli(name):
            body = ast.parse(path.read_text(encoding="utf-8")).body
            defined[name] = {
                n.name for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            } | {
                t.id
                for n in body
                if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                if isinstance(t, ast.Name)
            }
    wrong = []
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in defined:
                wrong += [
                    f"{name} imports {a.name} from {node.module}"
                    for a in node.names
                    if a.name not in defined[node.module]
                ]
    assert len(defined) >= 7 and wrong == []


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports: every import statement, at top level, inside
    functions and under ``TYPE_CHECKING`` alike (an import hidden in a function still ties the two
    modules together). ``from package import name`` is an edge to the submodule ``name`` when
    there is one, else to the package."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges.update(known(a.name) for a in node.names if a.name.startswith("fhir_adapter"))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, *([base] if base else [])])
                if base.split(".")[0] == "fhir_adapter":
                    edges.update(known(f"{base}.{a.name}") for a in node.names)
        graph[name] = {e for e in edges if e is not None and e != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path back to its start) for each module caught in one."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:  # path: from the start to node, inclusive
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_import_cycles_anywhere_in_the_package() -> None:
    graph = _import_graph()
    assert len(graph) > 100 and "fhir_adapter.validation.profiles.walk" in graph
    assert (
        "fhir_adapter.validation.profiles.values" in graph["fhir_adapter.validation.profiles.walk"]
    )
    assert [" -> ".join(c) for c in _cycles(graph)] == []


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d", "a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"], ["d", "d"]]


def _input_errors() -> set[str]:
    """``InputError`` and every class of the package deriving from it, by name."""
    bases: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases.setdefault(node.name, set()).update(
                    b.id if isinstance(b, ast.Name) else b.attr
                    for b in node.bases
                    if isinstance(b, (ast.Name, ast.Attribute))
                )
    found = {"InputError"}
    while grown := {c for c, b in bases.items() if b & found} - found:
        found |= grown
    return found


def test_every_input_error_names_its_fix() -> None:
    """Every ``InputError`` (or subclass) the package raises says how to fix the input: a
    ``fix=`` argument, or keyword arguments passed on from an error that has one."""
    errors = _input_errors()
    assert {"CaseError", "ConfigError", "MappingError", "ProfileError"} <= errors
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE.parent).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            keywords = {
                k.arg
                for k in node.keywords
                if not (isinstance(k.value, ast.Constant) and k.value.value in (None, ""))
            }
            if name in errors and "fix" not in keywords and None not in keywords:
                missing.append(f"{where}:{node.lineno}")
    assert missing == []


def test_modules_stay_under_about_600_lines() -> None:
    """Modules are split along their seams before they grow past ~600 lines (generated JSON
    schemas aside)."""
    long = {
        _module(p): n
        for p in PACKAGE.rglob("*.py")
        if "schemas" not in p.relative_to(PACKAGE).parts
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > 650
    }
    assert long == {}


#: what the profile walk itself reports: counts, slicing, nested profiles, must-support
WALK_FINDINGS = {
    "too_few",
    "too_many",
    "forbidden",
    "must_support",
    "no_slice",
    "not_at_end",
    "out_of_order",
    "slice_unresolved",
    "slice_unmatchable",
    "not_conformant",
}


def test_the_profile_walk_is_apart_from_the_checks_on_values() -> None:
    """profiles/walk.py finds the values each profile element constrains; the rules on a value
    (type, fixed, pattern, binding, maxLength, targets, constraints) are checked in
    profiles/values.py, which walks nothing."""
    walk = ast.parse((PACKAGE / "validation/profiles/walk.py").read_text(encoding="utf-8"))
    kinds = {
        call.args[1].value
        for call in ast.walk(walk)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "add"
        and len(call.args) > 1
        and isinstance(call.args[1], ast.Constant)
    }
    assert kinds and kinds <= WALK_FINDINGS, kinds - WALK_FINDINGS
    values = (PACKAGE / "validation/profiles/values.py").read_text(encoding="utf-8")
    assert ".element(" not in values and ".slice(" not in values
