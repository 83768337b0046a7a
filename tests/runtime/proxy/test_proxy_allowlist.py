"""The allowlist: exact names, ``*.suffix``, normalisation, and patterns it refuses."""

from __future__ import annotations

import pytest

from nonoc.runtime.proxy.addresses import parse_host
from nonoc.runtime.proxy.allowlist import HostAllowlist, PatternError

ALLOW = HostAllowlist.from_patterns(
    ["api.github.com", "*.githubusercontent.com", "Registry.NPMJS.org.", "10.0.0.5"]
)


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("api.github.com", "api.github.com"),
        ("API.GitHub.com.", "api.github.com"),
        ("raw.githubusercontent.com", "*.githubusercontent.com"),
        ("a.b.githubusercontent.com", "*.githubusercontent.com"),
        ("registry.npmjs.org", "registry.npmjs.org"),
        ("10.0.0.5", "10.0.0.5"),
        ("0xa000005", "10.0.0.5"),  # another spelling of the same address
    ],
)
def test_allowed(host: str, pattern: str) -> None:
    assert ALLOW.match(parse_host(host)) == pattern


@pytest.mark.parametrize(
    "host",
    [
        "github.com",
        "githubusercontent.com",  # a suffix pattern needs one more label
        "evilgithubusercontent.com",
        "api.github.com.evil.test",
        "xapi.github.com",
        "registry.npmjs.org.evil",
        "10.0.0.6",
    ],
)
def test_not_allowed(host: str) -> None:
    assert ALLOW.match(parse_host(host)) is None


@pytest.mark.parametrize(
    "pattern", ["*.com", "*", "*.", "a.*.com", "api*.github.com", "*.10.0.0.1", "bad host", ""]
)
def test_bad_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        HostAllowlist.from_patterns([pattern])


def test_empty_allowlist_allows_nothing() -> None:
    empty = HostAllowlist.from_patterns([])
    assert not empty
    assert empty.match(parse_host("example.com")) is None
