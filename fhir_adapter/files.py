"""Writing output files so that a failed run leaves no partial file."""

from __future__ import annotations

import os
from pathlib import Path

from fhir_adapter.errors import InputError


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one;
    InputError naming the path when it cannot be written."""
    import tempfile  # imported here: it pulls in shutil, random and compression modules

    if path.is_dir():
        raise InputError(
            "is a directory", file=str(path), fix=f"give a file name, e.g. {path / 'out'}"
        )
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; honour the user's umask instead
        os.replace(tmp, path)
    except OSError as err:
        raise InputError(
            f"cannot write it ({err.strerror or type(err).__name__})",
            file=str(path),
            fix="give a path in a directory you can write to",
        ) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            Path(tmp).unlink(missing_ok=True)
