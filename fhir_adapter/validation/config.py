"""Validation settings from the ``validate:`` section of the config file (``$FHIR_ADAPTER_CONFIG``
or ``./fhir-adapter.yaml``), under command-line options::

    validate:
      ig: [us-core, ./packages/my-ig.tgz]
      profile: [http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient]
      strict-extensions: false
      strict-terminology: false
      must-support: false
      allow-missing-deps: false
"""

from __future__ import annotations

import argparse
from typing import Any

from fhir_adapter.config import config_path, read_config
from fhir_adapter.errors import InputError

_LISTS = {"ig": "igs", "profile": "profiles"}
_FLAGS = {
    "strict-extensions": "strict_extensions",
    "strict-terminology": "strict_terminology",
    "must-support": "must_support",
    "allow-missing-deps": "allow_missing_dependencies",
}


def _section() -> tuple[dict[str, Any], str]:
    path = str(config_path())
    section = read_config().get("validate")
    if section is None:
        return {}, path
    if not isinstance(section, dict):
        raise InputError(
            "validate: must be a mapping", file=path, fix="e.g. validate: {ig: [us-core]}"
        )
    unknown = set(section) - set(_LISTS) - set(_FLAGS)
    if unknown:
        raise InputError(
            f"unknown key(s) {', '.join(sorted(unknown))}",
            file=path,
            field="validate",
            fix=f"use some of: {', '.join([*_LISTS, *_FLAGS])}",
        )
    return section, path


def profile_options(args: argparse.Namespace) -> dict[str, Any]:
    """Validator keyword arguments: command-line values, else the config file's, else defaults."""
    section, where = _section()
    out: dict[str, Any] = {}
    for key, kw in _LISTS.items():
        given = getattr(args, key, None)
        value = given if given is not None else section.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(
                f"{key} must be a list of strings", file=where, field=f"validate.{key}"
            )
        out[kw] = value
    for key, kw in _FLAGS.items():
        given = getattr(args, kw, None)
        value = given if given is not None else section.get(key, False)
        if not isinstance(value, bool):
            raise InputError(f"{key} must be true or false", file=where, field=f"validate.{key}")
        out[kw] = value
    return out
