"""The user's settings file: the file ``$FHIR_ADAPTER_CONFIG`` names, else ``./fhir-adapter.yaml``
if there is one.

Keys: ``server`` (delivery), ``mappings`` (add-on terminology directories) and ``validate``
(validator options, under command-line options)::

    server: https://ehr.example/fhir
    mappings: [my-codes]
    validate:
      ig: [us-core, ./packages/my-ig.tgz]
      profile: [http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient]
      strict-extensions: false
      strict-terminology: false
      must-support: false
      allow-missing-deps: false

A file named by ``$FHIR_ADAPTER_CONFIG`` must exist and be readable: a setting that silently
vanished could send clinical data to the public default server.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError

#: The environment variable naming the settings file.
ENV_VAR = "FHIR_ADAPTER_CONFIG"
#: The settings file read from the working directory when ``$FHIR_ADAPTER_CONFIG`` is unset.
DEFAULT_FILE = "fhir-adapter.yaml"
#: The top-level keys of the settings file.
KEYS = ("server", "mappings", "validate")
#: ``validate:`` keys taking a list of strings -> Validator keyword (and command-line dest).
VALIDATE_LISTS = {"ig": "igs", "profile": "profiles"}
#: ``validate:`` keys taking true or false -> Validator keyword (and command-line dest).
VALIDATE_FLAGS = {
    "strict-extensions": "strict_extensions",
    "strict-terminology": "strict_terminology",
    "must-support": "must_support",
    "allow-missing-deps": "allow_missing_dependencies",
}


def config_path() -> Path:
    """Where the settings file is looked for."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_FILE)


def read_config(error: type[InputError] = InputError) -> dict[str, Any]:
    """The settings: empty when ``$FHIR_ADAPTER_CONFIG`` is unset and there is no
    ``./fhir-adapter.yaml``. ``error`` is raised for a named file that is missing, and for a file
    that cannot be read, is not YAML, is not a mapping or has an unknown key."""
    named = bool(os.environ.get(ENV_VAR))
    path = config_path()
    if not named and not path.exists():
        return {}
    where = f"${ENV_VAR}" if named else None
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise error(
            f"the settings file {what}",
            file=str(path),
            field=where,
            fix=f"create it, point ${ENV_VAR} at your settings file, or unset ${ENV_VAR} "
            f"(then ./{DEFAULT_FILE} is read if there is one)"
            if named
            else f"remove or rename ./{DEFAULT_FILE}, or set ${ENV_VAR} to your settings file",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise error(
            f"cannot read the settings file: {err.strerror or err}",
            file=str(path),
            field=where,
            fix="make the file readable by this user",
        ) from None
    except UnicodeDecodeError:
        raise error(
            "the settings file is not UTF-8 text", file=str(path), fix="save it as UTF-8"
        ) from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise error(
            f"malformed YAML: {err}",
            file=str(path),
            fix="correct the YAML (keys: server, mappings, validate)",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error("settings must be a mapping", file=str(path), fix="e.g. server: https://...")
    _known_keys(data, KEYS, str(path), error)
    return data


def _known_keys(
    data: dict[Any, Any], keys: Any, file: str, error: type[InputError], within: str = ""
) -> None:
    """``error`` naming the first key of ``data`` not in ``keys``, with a did-you-mean."""
    unknown = sorted(str(k) for k in data if k not in keys)
    if unknown:
        from fhir_adapter.suggest import close_matches

        near = close_matches(unknown[0], keys, n=1)
        raise error(
            f"unknown key(s) {', '.join(unknown)}",
            file=file,
            field=within + unknown[0],
            fix=(f"did you mean {near[0]!r}? " if near else "")
            + f"the keys are: {', '.join(keys)}",
        )


def validate_options(args: argparse.Namespace) -> dict[str, Any]:
    """Validator keyword arguments: command-line values (``args.ig``, ``args.profile``, the flags
    by keyword name), else the ``validate:`` section's, else the defaults."""
    where = str(config_path())
    section = read_config().get("validate")
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise InputError(
            "validate: must be a mapping", file=where, fix="e.g. validate: {ig: [us-core]}"
        )
    _known_keys(section, [*VALIDATE_LISTS, *VALIDATE_FLAGS], where, InputError, "validate.")
    out: dict[str, Any] = {}
    for key, kw in VALIDATE_LISTS.items():
        given = getattr(args, key, None)
        value = given if given is not None else section.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(
                f"{key} must be a list of strings",
                file=where,
                field=f"validate.{key}",
                fix=f"e.g. {key}: [{'us-core' if key == 'ig' else 'https://...'}]",
            )
        out[kw] = value
    for key, kw in VALIDATE_FLAGS.items():
        given = getattr(args, kw, None)
        value = given if given is not None else section.get(key, False)
        if not isinstance(value, bool):
            raise InputError(
                f"{key} must be true or false",
                file=where,
                field=f"validate.{key}",
                fix=f"{key}: true (or false, the default)",
            )
        out[kw] = value
    return out
