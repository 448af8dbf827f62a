"""NDJSON input: the lines of a file, or of a byte range of it, as bytes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from fhir_adapter.errors import InputError


def read_lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The ``\\n``-terminated lines of a file (bytes) that start in ``[start, end)``.

    ``start`` must be a line start; ``end`` None reads to the end of the file.
    """
    try:
        fh = path.open("rb")
    except OSError as err:
        raise InputError(f"cannot read: {err}", file=str(path), fix="check the path") from None
    with fh:
        fh.seek(start)
        pos = start
        while end is None or pos < end:
            line = fh.readline()
            if not line:
                return
            pos += len(line)
            yield line
