"""The walker's fast accept of primitive elements never changes what is reported.

Every primitive value in the converted bundles is replaced, one at a time, by values that break
it in different ways (wrong JSON type, empty, whitespace, impossible date, unknown code, array
where one value is allowed and back); each mutant is validated with and without the fast
accept, and both must report exactly the same issues.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.validation import Validator

MUTATIONS: list[Any] = [
    None,
    "",
    " padded ",
    "2021-02-30",
    "not-a-code",
    "x" * 70,
    0,
    -1,
    2**40,
    1.5,
    True,
    [],
    ["a"],
    {"a": 1},
    "<b>tag</b>",
]


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _issues(v: Validator, resource: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (i.severity, i.rule, i.path, i.message) for i in v.validate_resource(resource).issues
    )


@pytest.fixture(scope="module")
def validators() -> tuple[Validator, Validator]:
    fast, slow = Validator(), Validator()
    slow._walker.fast_accept = False
    assert fast._walker.fast_accept
    return fast, slow


@pytest.mark.parametrize("case", [None, "fixtures/t2dm-metformin.case.yaml"], ids=["seed", "t2dm"])
def test_fast_accept_reports_the_same_issues(
    case: str | None, validators: tuple[Validator, Validator], json_paths: Any
) -> None:
    fast, slow = validators
    compared = differing = 0
    for entry in convert(case)["entry"]:
        resource = entry["resource"]
        assert _issues(fast, resource) == _issues(slow, resource)
        leaves = [
            p
            for p in json_paths.walk(resource)
            if p[-1] != "resourceType" and not isinstance(_at(resource, p), (dict, list))
        ]
        for leaf in leaves:
            for bad in MUTATIONS:
                mutant = copy.deepcopy(resource)
                json_paths.put(mutant, leaf, bad)
                got = _issues(fast, mutant)
                assert got == _issues(slow, mutant), (resource["resourceType"], leaf, bad)
                compared += 1
                differing += bool(got)
    assert compared > 1000
    assert differing > compared // 2  # most mutants are invalid: the comparison has teeth


DIVS = [
    '<div xmlns="http://www.w3.org/1999/xhtml">plain</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><p><b>A</b> &amp; B<br/></p></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><img/></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"> \u00a0 </div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><p></p></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">&nbsp;</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">&#65;</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><p>unclosed</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</b></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">x</p></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:x()">x</a></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">x</div>trailing',
    '<div xmlns="http://www.w3.org/1999/xhtml">x</div><div>y</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">a ]]> b</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">bell \x07</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">x</br/></div>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><P>x</P></div>',
    "<div>no namespace</div>",
    "<div xmlns='http://www.w3.org/1999/xhtml'>single quotes</div>",
    '<span xmlns="http://www.w3.org/1999/xhtml">x</span>',
    '<div xmlns="http://www.w3.org/1999/xhtml"><!-- c -->x</div>',
    '<div xmlns="http://www.w3.org/1999/xhtml">',
    "",
]


def test_narrative_fast_path_reports_the_same_issues() -> None:
    from fhir_adapter.validation.xhtml import check_narrative
    from fhir_adapter.validation.xhtml import simple_xhtml_ok as _simple_xhtml_ok

    ours = [e["resource"]["text"]["div"] for e in convert(None)["entry"]]
    assert all(_simple_xhtml_ok(d) for d in ours)  # the converter's narratives take the fast path
    for div in DIVS + ours:
        got: list[Any] = []
        want: list[Any] = []
        check_narrative({"div": div}, "x.text", got, fast=True)
        check_narrative({"div": div}, "x.text", want, fast=False)
        assert got == want, div
    assert sum(bool(_simple_xhtml_ok(d)) for d in DIVS) == 3  # only the first three are simple
