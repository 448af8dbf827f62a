"""The user's settings file: ``$FHIR_ADAPTER_CONFIG``, else ``./fhir-adapter.yaml`` (optional).

Keys read: ``server`` (delivery) and ``mappings`` (add-on terminology directories).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError


def config_path() -> Path:
    """Where the settings file is looked for."""
    return Path(os.environ.get("FHIR_ADAPTER_CONFIG") or "fhir-adapter.yaml")


def read_config(error: type[InputError] = InputError) -> dict[str, Any]:
    """The settings (empty when there is no file); ``error`` is raised for a malformed file."""
    path = config_path()
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise error(f"malformed YAML: {err}", file=str(path)) from None
    if not isinstance(data, dict):
        raise error("config must be a mapping", file=str(path), fix="e.g. server: https://...")
    return data
