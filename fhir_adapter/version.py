"""The version of fhir-adapter (as in pyproject.toml)."""

__version__ = "0.1.0"
