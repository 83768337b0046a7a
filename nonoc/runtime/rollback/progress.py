"""Progress of long snapshots, restores and verifications, on standard error.

A bar appears only on a terminal and only once the work has lasted ``delay`` seconds, so
quick runs and redirected output stay silent. It is redrawn at most ten times a second
and erased when the work ends. Anything with ``start``/``advance``/``finish`` can stand in
for it (tests use that to stop a restore at a chosen step).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    """What the rollback code reports while it works."""

    def start(self, label: str, total: int, unit: str = "B") -> None:
        """A phase begins; ``total`` is in ``unit`` (bytes or items)."""

    def advance(self, amount: int = 1) -> None:
        """Some of the phase's work is done."""

    def finish(self) -> None:
        """The phase ended."""


class NoProgress:
    """Reports nothing."""

    def start(self, label: str, total: int, unit: str = "B") -> None:
        """Nothing to show."""

    def advance(self, amount: int = 1) -> None:
        """Nothing to show."""

    def finish(self) -> None:
        """Nothing to show."""


class ProgressBar:
    """A one-line bar on a terminal: ``label [#####-----]  45%  90.0/200.0 MB``."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        delay: float = 0.5,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.width = width
        self.clock = clock
        self.enabled = _is_tty(self.stream)
        self.label, self.total, self.unit, self.done = "", 0, "B", 0
        self._began = self._drawn_at = 0.0
        self._visible = False

    def start(self, label: str, total: int, unit: str = "B") -> None:
        """Begin a phase (the bar waits ``delay`` seconds before it shows)."""
        self.label, self.total, self.unit, self.done = label, max(total, 0), unit, 0
        self._began = self.clock()
        self._drawn_at = 0.0

    def advance(self, amount: int = 1) -> None:
        """Count progress; redraw when due."""
        self.done += amount
        if not self.enabled:
            return
        now = self.clock()
        if now - self._began < self.delay or now - self._drawn_at < 0.1:
            return
        self._drawn_at = now
        self._draw()

    def finish(self) -> None:
        """Erase the bar if it was shown."""
        if self._visible:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._visible = False

    def render(self) -> str:
        """The bar's text for the current state."""
        fraction = min(self.done / self.total, 1.0) if self.total else 1.0
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        if self.unit == "B":
            amount = f"{_mb(self.done)}/{_mb(self.total)} MB"
        else:
            amount = f"{self.done}/{self.total} {self.unit}"
        return f"{self.label} [{bar}] {fraction * 100:3.0f}%  {amount}"

    def _draw(self) -> None:
        self.stream.write("\r" + self.render() + "\x1b[K")
        self.stream.flush()
        self._visible = True


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _mb(amount: int) -> str:
    return f"{amount / 1_000_000:.1f}"
