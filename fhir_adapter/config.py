"""The user's settings file: the file ``$FHIR_ADAPTER_CONFIG`` names, else ``./fhir-adapter.yaml``
if there is one.

Keys: ``server`` (delivery), ``mappings`` (add-on terminology directories) and ``validate``
(validator options). A file named by ``$FHIR_ADAPTER_CONFIG`` must exist and be readable: a
setting that silently vanished could send clinical data to the public default server.
"""

from __future__ import annotations

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
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        from fhir_adapter.suggest import close_matches

        near = close_matches(unknown[0], KEYS, n=1)
        raise error(
            f"unknown key(s) {', '.join(unknown)}",
            file=str(path),
            field=unknown[0],
            fix=(f"did you mean {near[0]!r}? " if near else "")
            + f"the keys are: {', '.join(KEYS)}",
        )
    return data
