"""Terminal progress for long work: counts, rate and time left on stderr.

Shown only when stderr is a terminal (never in pipes, files or CI logs) and only once the work
has taken longer than ``delay`` seconds, so quick runs print nothing. The bar is ``tqdm``'s,
imported only when a bar is shown, which keeps ``fhir-adapter --help`` fast. ``note()`` prints a
line (a retry, a wait) above the bar as it happens, and plainly when there is no bar.
"""

from __future__ import annotations

import os
import sys
import time
from types import TracebackType
from typing import Any, TextIO


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default stderr) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return bool(tty) and os.environ.get("TERM") != "dumb"


def _size(stream: TextIO) -> tuple[int, int] | None:
    """``None`` when the terminal reports its size (the bar follows it), else (columns, rows)
    from ``$COLUMNS``/``$LINES`` or 80x24: a terminal of unknown size, such as a fresh
    pseudo-terminal, reports 0x0, and the bar would not draw."""
    try:
        size = os.get_terminal_size(stream.fileno())
        if size.columns > 0 and size.lines > 0:
            return None
    except (OSError, AttributeError, ValueError):
        pass

    def env(name: str, default: int) -> int:
        value = os.environ.get(name, "")
        return int(value) if value.isdigit() and int(value) > 0 else default

    return env("COLUMNS", 80), env("LINES", 24)


class Progress:
    """A progress bar over ``total`` units (``None``: unknown); a no-op off a terminal.

    ``advance(n, counts)`` adds ``n`` units; ``counts`` (e.g. ``{"resources": 120, "invalid":
    2}``) are shown beside the bar, the first with its rate per second.
    """

    def __init__(
        self,
        total: float | None,
        *,
        desc: str = "",
        unit: str = "it",
        scale_bytes: bool = False,
        stream: TextIO | None = None,
        enabled: bool | None = None,
        delay: float = 0.5,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self._bar: Any = None
        self._start = time.monotonic()
        self._shown_at = 0.0
        if self.enabled:
            from tqdm import tqdm

            size = _size(self.stream)
            self._bar = tqdm(
                total=total,
                desc=desc or None,
                unit="B" if scale_bytes else unit,
                unit_scale=scale_bytes,
                unit_divisor=1024 if scale_bytes else 1000,
                file=self.stream,
                dynamic_ncols=size is None,
                ncols=size[0] if size else None,
                nrows=size[1] if size else None,
                mininterval=0.2,
                delay=delay,
                leave=False,
            )

    def advance(self, n: float = 1, counts: dict[str, int] | None = None) -> None:
        """Add ``n`` units of work done; refresh the counts shown at most five times a second."""
        bar = self._bar
        if bar is None:
            return
        if counts:
            now = time.monotonic()
            if now - self._shown_at >= 0.2:
                self._shown_at = now
                elapsed = max(now - self._start, 1e-9)
                (name, first), *rest = counts.items()
                shown = [f"{first:,} {name}", f"{first / elapsed:,.0f} {name}/s"]
                shown += [f"{v:,} {k}" for k, v in rest]
                bar.set_postfix_str(", ".join(shown), refresh=False)
        bar.update(n)

    @property
    def total(self) -> float | None:
        """The amount of work the bar is drawn against (``None`` off a terminal or unknown)."""
        return self._bar.total if self._bar is not None else None

    def reset(self, total: float | None) -> None:
        """Start over at 0 of ``total`` (the next file, the next bundle)."""
        if self._bar is not None:
            self._bar.reset(total=total)
            self._start = time.monotonic()

    def note(self, message: str) -> None:
        """Print one line now (above the bar when there is one)."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
