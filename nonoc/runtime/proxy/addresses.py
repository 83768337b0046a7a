"""Which hosts and addresses the proxy refuses to reach, whatever the allowlist says.

Cloud metadata services hand out instance credentials to anything that can reach them, so
the proxy refuses them unconditionally: the well-known names, every link-local address
(IPv4 ``169.254.0.0/16``, IPv6 ``fe80::/10``), the provider addresses outside those ranges
(``fd00:ec2::254``, ``100.100.100.200``), and the same addresses written any other way.

"Any other way" matters because the C library's ``inet_aton`` — which ``getaddrinfo`` uses
for numeric hosts — accepts ``2852039166``, ``0xa9fea9fe``, ``0251.0376.0251.0376`` and
``169.254.43518`` as ``169.254.169.254``. :func:`parse_host` therefore reads every IPv4
spelling the C library would, and the checks run on the parsed address, never on text.
IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``,
NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the address they carry.

Names are checked twice: by name before resolution, and by every address they resolve to
afterwards; the proxy then connects to exactly the addresses it checked (no second lookup,
so DNS rebinding between check and connect is impossible).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import Enum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Names of metadata services (lowercase, no trailing dot). Resolution is checked as well.
METADATA_NAMES: frozenset[str] = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

#: Networks refused whatever the allowlist says: link-local and the metadata addresses.
METADATA_NETWORKS: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # IPv4 link-local; AWS/GCP/Azure/OCI metadata
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_V4_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")


class AddressClass(str, Enum):
    """How the proxy treats a destination address."""

    PUBLIC = "public"  # allowed if the host is on the allowlist
    LOOPBACK = "loopback"  # this machine: refused unless the config allows loopback
    METADATA = "metadata"  # link-local / cloud metadata: always refused
    NOT_UNICAST = "not_unicast"  # multicast, broadcast, reserved: never a TCP peer


class HostError(ValueError):
    """The text is neither a DNS name nor an IP address."""


@dataclass(frozen=True)
class Host:
    """A destination host as the proxy understands it: a normalised name or an address."""

    name: str  # lowercase, no trailing dot; the canonical text of ``address`` for literals
    address: IPAddress | None = None

    @property
    def is_literal(self) -> bool:
        """Whether the host was written as an IP address (in any spelling)."""
        return self.address is not None


def parse_inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """Read ``text`` as the C library's ``inet_aton`` would, or return None.

    One to four parts separated by dots; each part is decimal, octal (leading ``0``) or hex
    (``0x``); the last part fills the remaining bytes (``127.1`` is ``127.0.0.1``).
    """
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(_V4_PART.match(p) for p in parts):
        return None
    values = []
    for part in parts:
        if part[:2] in ("0x", "0X"):
            values.append(int(part[2:] or "0", 16))
        elif part.startswith("0") and len(part) > 1:
            values.append(int(part, 8))
        else:
            values.append(int(part, 10))
    *head, last = values
    if any(v > 0xFF for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = 0
    for value in head:
        number = (number << 8) | value
    number = (number << (8 * (4 - len(head)))) | last
    return ipaddress.IPv4Address(number)


def parse_host(text: str) -> Host:
    """Parse a host from a request (``Host`` header, absolute URI, CONNECT authority).

    IPv6 literals may be bracketed and carry a zone (``fe80::1%eth0``). Raises
    :class:`HostError` for anything that is not a DNS name or an address.
    """
    raw = text.strip()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    if not raw or len(raw) > 253 + 1:
        raise HostError(f"invalid host {text!r}")
    if ":" in raw:
        try:
            v6 = ipaddress.IPv6Address(raw)
        except ValueError as exc:
            raise HostError(f"invalid IPv6 address {text!r}") from exc
        return Host(str(v6), v6)
    lowered = raw.lower()
    if lowered.endswith("."):
        lowered = lowered[:-1]
    v4 = parse_inet_aton(lowered)
    if v4 is not None:
        return Host(str(v4), v4)
    labels = lowered.split(".")
    if not all(_LABEL.match(label) for label in labels):
        raise HostError(f"invalid host name {text!r}")
    if labels[-1].isdigit() or labels[-1].startswith("0x"):
        # Numeric-looking last label but not a valid inet_aton spelling (e.g. 1.2.3.4.5 or
        # 0x1.0x100000000): refuse rather than guess what a resolver would make of it.
        raise HostError(f"invalid host name {text!r}")
    return Host(lowered)


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def classify(address: IPAddress) -> AddressClass:
    """Decide the class of one destination address, looking through IPv6 wrappings."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(str(address).split("%")[0])
        if address.ipv4_mapped is not None or (address in _COMPATIBLE and int(address) > 1):
            # The kernel (or a resolver) treats these as the IPv4 address they carry.
            inner = embedded_ipv4(address)
            assert inner is not None
            return classify(inner)
        inner = embedded_ipv4(address)
        if inner is not None and classify(inner) is not AddressClass.PUBLIC:
            return classify(inner)
    if any(address in net for net in METADATA_NETWORKS if net.version == address.version):
        return AddressClass.METADATA
    if address.is_loopback or address.is_unspecified:
        return AddressClass.LOOPBACK
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("0.0.0.0/8"):
        return AddressClass.LOOPBACK  # 0.x.y.z reaches this host on Linux
    if address.is_multicast or address.is_reserved:
        return AddressClass.NOT_UNICAST
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address(
        "255.255.255.255"
    ):
        return AddressClass.NOT_UNICAST
    return AddressClass.PUBLIC


def is_metadata_name(name: str) -> bool:
    """Whether ``name`` (already normalised) is a metadata service's name."""
    return name in METADATA_NAMES
