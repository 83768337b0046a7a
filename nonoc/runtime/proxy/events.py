"""Decision events: one record per decision the proxy makes, for the audit trail.

Every request the proxy answers — a tunnel opened or refused, a plain HTTP request
forwarded or refused, a credential route used, a client that failed authentication —
produces one :class:`ProxyEvent`, delivered to the configured callback. The callback runs
on the proxy's thread: it must be quick and must not block (append to a list or a queue).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Literal

_log = logging.getLogger("nono.proxy")

EventKind = Literal["connect", "http", "route"]


class Reason(str, Enum):
    """Why a request was allowed or denied (stable codes for the audit trail)."""

    ALLOWLISTED = "allowlisted"  # the host matched an allowlist pattern
    ROUTE = "credential_route"  # a configured credential route
    NOT_ALLOWLISTED = "not_allowlisted"
    METADATA = "metadata"  # a metadata name or link-local / metadata address
    LOOPBACK = "loopback"  # this machine, and loopback is not allowed
    NOT_UNICAST = "not_unicast"
    UNRESOLVED = "unresolved"  # the name has no address
    SNI_MISMATCH = "sni_mismatch"  # the tunnel's TLS ClientHello named another host
    AUTH = "auth"  # missing or wrong session token
    BAD_REQUEST = "bad_request"  # malformed request or host
    UNKNOWN_ROUTE = "unknown_route"
    UPSTREAM_FAILED = "upstream_failed"  # allowed, but the upstream could not be reached


@dataclass(frozen=True)
class ProxyEvent:
    """One decision. ``allowed`` is the policy's answer; ``detail`` says it in words."""

    kind: EventKind
    host: str
    port: int
    allowed: bool
    reason: Reason
    detail: str = ""
    method: str = ""
    route: str = ""  # the credential route's name, for kind "route"
    address: str = ""  # the address connected to (or the one that was refused)
    client: str = ""  # the client's address:port
    status: int = 0  # the HTTP status the client got from the proxy (0: none, e.g. tunnel)
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, object]:
        """A JSON-able dict with sorted keys, for the audit log."""
        data = asdict(self)
        data["reason"] = self.reason.value
        return dict(sorted(data.items()))


EventSink = Callable[[ProxyEvent], None]


def emit(sink: EventSink | None, event: ProxyEvent) -> None:
    """Deliver ``event``; a failing callback is logged, never allowed to break the proxy."""
    if sink is None:
        return
    try:
        sink(event)
    except Exception:  # the audit callback is user code; the proxy must keep serving
        _log.exception("proxy event callback failed")
