"""Profile output modes by name: ``ips``, ``us-core``, ``us-core@3.1.1``, ... (see
:mod:`fhir_adapter.profiled`)."""

from __future__ import annotations

from dataclasses import dataclass

from fhir_adapter.errors import ProfileError

#: The output modes and their IG versions: ``name`` or ``name@version``; the first is the default.
MODES = {"ips": ("1.1.0",), "us-core": ("6.1.0", "3.1.1", "7.0.0")}


@dataclass(frozen=True)
class ProfileMode:
    """A selected output mode: ``ips`` or ``us-core``, at one IG version."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def ig(self) -> str:
        """The IG package of the mode as ``name#version`` (what ``validate(igs=...)`` takes)."""
        from fhir_adapter.profiled.rules import rules

        return f"{rules()[self.name]['package']}#{self.version}"


def choices() -> list[str]:
    """Every accepted ``--profile`` value."""
    return [n for n in MODES] + [f"{n}@{v}" for n, vs in MODES.items() for v in vs]


def parse_mode(text: str | ProfileMode) -> ProfileMode:
    """The mode named by ``text`` (``ips``, ``us-core``, ``us-core@3.1.1``, ...)."""
    if isinstance(text, ProfileMode):
        return text
    name, _, version = str(text).strip().lower().partition("@")
    versions = MODES.get(name)
    if versions is None or (version and version not in versions):
        raise ProfileError(
            f"unknown profile mode {text!r}",
            field="profile",
            fix=f"use one of: {', '.join(choices())}",
        )
    return ProfileMode(name, version or versions[0])
