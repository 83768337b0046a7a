"""The host allowlist: exact names and ``*.suffix`` patterns.

``api.github.com`` matches that name only. ``*.githubusercontent.com`` matches any name
that ends in ``.githubusercontent.com`` with at least one more label
(``raw.githubusercontent.com``, ``a.b.githubusercontent.com``) but not the bare
``githubusercontent.com``: write both when both are meant. Matching is case-insensitive
and ignores a trailing dot. An IP address is matched only by the same address written as a
pattern (any spelling of the pattern is normalised first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from nonoc.errors import NonoError
from nonoc.runtime.proxy.addresses import Host, HostError, parse_host


class PatternError(NonoError):
    """An allowlist entry that is neither a host name, an address, nor ``*.suffix``."""


@dataclass(frozen=True)
class HostAllowlist:
    """A set of exact hosts and suffixes; :meth:`match` says which pattern let a host in."""

    exact: frozenset[str]
    suffixes: tuple[str, ...]  # each with its leading dot: ".example.com"

    @classmethod
    def from_patterns(cls, patterns: Iterable[str]) -> HostAllowlist:
        """Build an allowlist, normalising each pattern; raises :class:`PatternError`."""
        exact: set[str] = set()
        suffixes: set[str] = set()
        for pattern in patterns:
            text = pattern.strip()
            if text.startswith("*."):
                try:
                    host = parse_host(text[2:])
                except HostError as exc:
                    raise PatternError(f"invalid host pattern {pattern!r}") from exc
                if host.is_literal or "." not in host.name:
                    # "*.com" or "*.10.0.0.1" would be a whole TLD or an address range.
                    raise PatternError(f"host pattern {pattern!r} is too broad")
                suffixes.add("." + host.name)
            elif "*" in text:
                raise PatternError(f"wildcards are only allowed as a leading '*.': {pattern!r}")
            else:
                try:
                    exact.add(parse_host(text).name)
                except HostError as exc:
                    raise PatternError(f"invalid host pattern {pattern!r}") from exc
        return cls(frozenset(exact), tuple(sorted(suffixes, key=lambda s: (-len(s), s))))

    def match(self, host: Host) -> str | None:
        """The pattern (as written in normal form) that allows ``host``, or None."""
        if host.name in self.exact:
            return host.name
        if host.is_literal:
            return None
        for suffix in self.suffixes:
            if host.name.endswith(suffix):
                return "*" + suffix
        return None

    def __bool__(self) -> bool:
        return bool(self.exact or self.suffixes)
