"""The pytest plugin: assert_valid_fhir, the fhir_validator fixture, and --fhir-files collection."""

from __future__ import annotations

import json

import pytest

from fhir_adapter.pytest_plugin import assert_valid_fhir

pytest_plugins = ["pytester"]

DIV = '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'
GOOD = {"resourceType": "Patient", "text": {"status": "generated", "div": DIV}, "gender": "female"}
BAD = {"resourceType": "Patient", "text": {"status": "generated", "div": DIV}, "gender": "woman"}


def test_assert_valid_fhir_passes_and_fails_readably() -> None:
    assert_valid_fhir(GOOD)
    with pytest.raises(AssertionError) as info:
        assert_valid_fhir(BAD)
    text = str(info.value)
    assert "Patient.gender" in text and "[binding]" in text and "fix:" in text
    no_text = {"resourceType": "Patient", "gender": "male"}
    assert_valid_fhir(no_text)
    with pytest.raises(AssertionError, match="dom-6"):
        assert_valid_fhir(no_text, warnings_as_errors=True)


def test_fixture_and_fhir_files(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_x="""
        def test_uses_fixture(fhir_validator):
            assert fhir_validator.validate({"resourceType": "Patient", "gender": "male"}).ok
            assert not fhir_validator.validate({"resourceType": "Patient", "gender": "woman"}).ok
        """
    )
    data = pytester.mkdir("fhir")
    (data / "good.json").write_text(json.dumps(GOOD))
    (data / "bad.json").write_text(json.dumps(BAD, indent=2))
    (data / "mixed.ndjson").write_text(json.dumps(GOOD) + "\n" + json.dumps(BAD) + "\n")
    result = pytester.runpytest("test_x.py")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("--fhir-files", str(data))
    result.assert_outcomes(passed=3, failed=2)  # test_x.py, good.json, mixed.ndjson line 1
    result.stdout.fnmatch_lines(
        ["*ERROR*Patient.gender (line 2, col *", "*not in the required value set*"]
    )


@pytest.mark.server
def test_local_server_fixture_for_users(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_push="""
        import requests
        from fhir_adapter import convert, post

        def test_push_seed_case(fhir_local_server):
            result = post(convert(), fhir_local_server)
            assert result.ok
            patient = next(e for e in result.entries if e.resource_type == "Patient")
            got = requests.get(f"{fhir_local_server}/Patient/{patient.id}", timeout=10)
            assert got.json()["gender"] == "female"
        """
    )
    result = pytester.runpytest("test_push.py")
    result.assert_outcomes(passed=1)


US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
CLAIMING = {**GOOD, "meta": {"profile": [US_CORE_PATIENT]}}


def test_assert_valid_fhir_with_igs_and_profiles() -> None:
    assert_valid_fhir(CLAIMING)  # base R4 only: the claim is not checked (a warning)
    with pytest.raises(AssertionError, match="profile-not-loaded"):
        assert_valid_fhir(CLAIMING, warnings_as_errors=True)
    with pytest.raises(AssertionError) as info:
        assert_valid_fhir(CLAIMING, igs=["us-core"])
    assert "us-core-patient|6.1.0" in str(info.value) and "Patient.identifier" in str(info.value)
    with pytest.raises(AssertionError, match=r"Patient\.identifier"):
        assert_valid_fhir(GOOD, igs=["us-core"], profiles=[US_CORE_PATIENT])


def test_fixture_with_igs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_y=f"""
        def test_fixture_loads_the_ig(fhir_validator):
            assert not fhir_validator.validate({json.dumps(CLAIMING)!r}).ok
        """
    )
    pytester.runpytest("test_y.py", "--fhir-ig", "us-core").assert_outcomes(passed=1)
    pytester.runpytest("test_y.py").assert_outcomes(failed=1)
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def fhir_validator_options():
            return {"igs": ["us-core"]}
        """
    )
    pytester.runpytest("test_y.py").assert_outcomes(passed=1)


def test_fhir_files_with_igs(pytester: pytest.Pytester) -> None:
    data = pytester.mkdir("fhir")
    (data / "claims.json").write_text(json.dumps(CLAIMING))
    result = pytester.runpytest("--fhir-files", str(data))
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("--fhir-files", str(data), "--fhir-ig", "us-core")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*us-core-patient|6.1.0*"])
