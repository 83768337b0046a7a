"""What the supervisor remembers during a session: kept answers, recent refusals, the question rate.

* an answer given with "remember" holds for the rest of the session, for the same real
  path and the same access;
* a refusal is not asked again for ``repeat_window`` seconds: programs retry a failed open,
  and one "no" should not become ten prompts;
* at most ``burst`` questions, refilled at ``per_second`` a second: an agent that opens
  hundreds of files outside its grants gets EPERM for the excess, not a wall of prompts.
"""

from __future__ import annotations

import threading
import time

Key = tuple[str, frozenset[str]]


class RateLimit:
    """A token bucket of questions."""

    __slots__ = ("_stamp", "_tokens", "burst", "per_second")

    def __init__(self, burst: int = 5, per_second: float = 0.5) -> None:
        self.burst, self.per_second = burst, per_second
        self._tokens, self._stamp = -1.0, 0.0

    def __repr__(self) -> str:
        return f"RateLimit(burst={self.burst!r}, per_second={self.per_second!r})"

    def take(self, now: float | None = None) -> bool:
        """Spend one question; False when none is left."""
        now = time.monotonic() if now is None else now
        if self._tokens < 0:
            self._tokens, self._stamp = float(self.burst), now
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.per_second)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class DecisionMemory:
    """Kept answers and recent refusals, keyed by real path and access (thread-safe)."""

    def __init__(self, repeat_window: float = 30.0) -> None:
        self.repeat_window = repeat_window
        self._kept: dict[Key, bool] = {}
        self._refused: dict[Key, float] = {}
        self._lock = threading.Lock()

    def recall(self, key: Key, now: float | None = None) -> bool | None:
        """The kept answer for ``key``; False for a refusal inside the window; else None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None:
                return kept
            refused = self._refused.get(key)
            if refused is not None and now - refused < self.repeat_window:
                return False
        return None

    def note(self, key: Key, allow: bool, *, remember: bool, now: float | None = None) -> None:
        """Record an answer: kept if ``remember``; a refusal starts the repeat window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if remember:
                self._kept[key] = allow
            if not allow:
                self._refused[key] = now
                if len(self._refused) > 4096:  # bounded: forget the oldest half
                    for old in sorted(self._refused, key=self._refused.__getitem__)[:2048]:
                        del self._refused[old]
