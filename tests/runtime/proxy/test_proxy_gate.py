"""The gate's decisions, without sockets: allowlist, metadata, resolution, loopback."""

from __future__ import annotations

import asyncio

import pytest

from nonoc.runtime.proxy.allowlist import HostAllowlist
from nonoc.runtime.proxy.events import Reason
from nonoc.runtime.proxy.gate import Admission, Gate
from nonoc.runtime.proxy.resolver import MapResolver

TABLE = {
    "good.test": "93.184.216.34",
    "local.test": "127.0.0.1",
    "meta.test": "169.254.169.254",
    "mapped.test": "::ffff:169.254.169.254",
    "v6.test": "fe80::1",  # link-local, as a resolver answers it without the scope id
    "ec2.test": "fd00:ec2::254",
    "mixed.test": ["93.184.216.34", "169.254.1.1"],
    "multicast.test": "224.0.0.251",
    "metadata.google.internal": "93.184.216.34",  # even if a resolver said it was public
}
EVERYTHING = [
    *TABLE,
    "169.254.169.254",
    "2852039166",
    "fd00:ec2::254",
    "metadata.azure.internal",
    "127.0.0.1",
]


def admit(
    host: str,
    *,
    allow: list[str] | None = None,
    loopback: bool = False,
    route: str = "",
    port: int = 443,
) -> Admission:
    gate = Gate(
        HostAllowlist.from_patterns(allow if allow is not None else EVERYTHING),
        MapResolver(TABLE),
        allow_loopback=loopback,
        resolve_timeout=1.0,
    )
    return asyncio.run(gate.admit(host, port, route=route))


def test_allowlisted_name_is_admitted_with_its_checked_addresses() -> None:
    result = admit("good.test")
    assert result.allowed and result.reason is Reason.ALLOWLISTED
    assert [str(a) for a, _ in result.addresses] == ["93.184.216.34"]


def test_name_off_the_list_is_refused_before_resolution() -> None:
    result = admit("good.test", allow=["other.test"])
    assert not result.allowed and result.reason is Reason.NOT_ALLOWLISTED


@pytest.mark.parametrize(
    "host",
    [
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "::ffff:169.254.169.254",
        "fd00:ec2::254",
        "fe80::1",
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "metadata.azure.internal",
        "meta.test",
        "mapped.test",
        "v6.test",
        "ec2.test",
        "mixed.test",
    ],
)
def test_metadata_is_refused_even_when_allowlisted(host: str) -> None:
    result = admit(host)
    assert not result.allowed
    assert result.reason is Reason.METADATA


def test_metadata_refused_for_credential_routes_too() -> None:
    result = admit("meta.test", allow=[], route="custom")
    assert not result.allowed and result.reason is Reason.METADATA


def test_route_needs_no_allowlist_entry() -> None:
    result = admit("good.test", allow=[], route="custom")
    assert result.allowed and result.reason is Reason.ROUTE


def test_loopback_refused_unless_allowed() -> None:
    assert admit("local.test").reason is Reason.LOOPBACK
    assert admit("127.0.0.1").reason is Reason.LOOPBACK
    assert admit("local.test", loopback=True).allowed


def test_not_unicast_is_refused() -> None:
    assert admit("multicast.test").reason is Reason.NOT_UNICAST


def test_unresolvable_name() -> None:
    result = admit("nowhere.test", allow=["nowhere.test"])
    assert not result.allowed and result.reason is Reason.UNRESOLVED


@pytest.mark.parametrize(
    ("host", "port"), [("bad host", 443), ("good.test", 0), ("good.test", 70000)]
)
def test_malformed_destinations(host: str, port: int) -> None:
    result = admit(host, port=port)
    assert not result.allowed and result.reason is Reason.BAD_REQUEST
