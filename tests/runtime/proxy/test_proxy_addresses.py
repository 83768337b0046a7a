"""Host parsing and address classes: every spelling of a metadata address is caught."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from nonoc.runtime.proxy.addresses import (
    AddressClass,
    HostError,
    classify,
    parse_host,
    parse_inet_aton,
)

METADATA_SPELLINGS = [
    "169.254.169.254",
    "169.254.169.254.",
    "2852039166",  # decimal
    "0xa9fea9fe",  # hex
    "0XA9FEA9FE",
    "0251.0376.0251.0376",  # octal
    "0xa9.0xfe.0xa9.0xfe",
    "0251.254.0xa9.254",  # mixed
    "169.254.43518",  # a.b.c16
    "169.16689662",  # a.b24
    "[::ffff:169.254.169.254]",  # IPv4-mapped
    "::ffff:a9fe:a9fe",
    "[::169.254.169.254]",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64
    "2002:a9fe:a9fe::1",  # 6to4
    "fd00:ec2::254",  # AWS IPv6
    "[FD00:EC2:0:0:0:0:0:254]",
    "fe80::1",
    "[fe80::a9fe:a9fe%25eth0]".replace("%25", "%"),
    "febf:ffff::1",  # top of fe80::/10
    "169.254.0.1",
    "169.254.255.255",
    "100.100.100.200",  # Alibaba Cloud
]


@pytest.mark.parametrize("text", METADATA_SPELLINGS)
def test_metadata_spellings_are_metadata(text: str) -> None:
    host = parse_host(text)
    assert host.address is not None
    assert classify(host.address) is AddressClass.METADATA


@pytest.mark.parametrize(
    "text",
    [
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "169.254.43518",
        "127.1",
        "10.1",
        "0",
        "0x7f000001",
        "1.2.3.4",
        "017700000001",
        "255.255.255.255",
    ],
)
def test_ipv4_parsing_agrees_with_the_c_library(text: str) -> None:
    # socket.inet_aton is the C library's inet_aton: the oracle for what getaddrinfo accepts.
    expected = ipaddress.IPv4Address(socket.inet_aton(text))
    assert parse_inet_aton(text) == expected


@pytest.mark.parametrize(
    "text", ["256.1.1.1", "1.2.3.4.5", "0x100000000", "08", "1.2.3.256", "1..2", "", "0xg"]
)
def test_ipv4_parsing_refuses_what_the_c_library_refuses(text: str) -> None:
    assert parse_inet_aton(text) is None
    with pytest.raises(OSError):
        socket.inet_aton(text)


@pytest.mark.parametrize(
    ("text", "cls"),
    [
        ("127.0.0.1", AddressClass.LOOPBACK),
        ("127.1", AddressClass.LOOPBACK),
        ("0.0.0.0", AddressClass.LOOPBACK),
        ("0", AddressClass.LOOPBACK),
        ("::1", AddressClass.LOOPBACK),
        ("::", AddressClass.LOOPBACK),
        ("::ffff:127.0.0.1", AddressClass.LOOPBACK),
        ("224.0.0.1", AddressClass.NOT_UNICAST),
        ("255.255.255.255", AddressClass.NOT_UNICAST),
        ("ff02::1", AddressClass.NOT_UNICAST),
        ("8.8.8.8", AddressClass.PUBLIC),
        ("::ffff:8.8.8.8", AddressClass.PUBLIC),
        ("10.0.0.1", AddressClass.PUBLIC),
        ("2606:4700::1111", AddressClass.PUBLIC),
        ("169.253.255.255", AddressClass.PUBLIC),
        ("169.255.0.0", AddressClass.PUBLIC),
    ],
)
def test_address_classes(text: str, cls: AddressClass) -> None:
    host = parse_host(text)
    assert host.address is not None and classify(host.address) is cls


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("a-b.c_d.test", "a-b.c_d.test"),
        ("localhost", "localhost"),
    ],
)
def test_names_are_normalised(text: str, name: str) -> None:
    host = parse_host(text)
    assert host.name == name and host.address is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "exa mple.com",
        "-bad.com",
        "bad-.com",
        "a..b",
        "1.2.3.4.5",
        "host/path",
        "user@host",
        "[::1",
        "::zz",
        "x" * 300,
        "é.com",
        "0x1.0x100000000",
        "example.com\r\nX: y",
    ],
)
def test_invalid_hosts_are_refused(text: str) -> None:
    with pytest.raises(HostError):
        parse_host(text)
