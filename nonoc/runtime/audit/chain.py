"""The hash chain shared by session files and the ledger.

A record is a JSON object with ``seq`` (0, 1, 2…), ``prev`` (the previous record's hash,
or the chain's genesis for seq 0) and ``hash``: the SHA-256 of the record's canonical JSON
without the ``hash`` key. Canonical JSON is UTF-8 with ASCII escapes, sorted keys, no
spaces, no NaN; each record is stored as exactly that text on one line, so a file can be
checked with nothing but ``sha256sum`` and a JSON parser.

The genesis of a session's chain is derived from its id, so records cannot be moved from
one session to another without breaking the chain.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The interpreter's own SHA-256 and JSON string quoting: ``hashlib`` loads OpenSSL and
# ``json`` loads ``re``, which a cached ``nono run`` (a session on every start) does not
# otherwise need. ``canonical`` gives exactly ``json.dumps``'s bytes (tested).
try:
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.12 renamed it; any build has hashlib
    from hashlib import sha256
try:
    from _json import encode_basestring_ascii as _quote
except ImportError:  # pragma: no cover - not CPython
    from json.encoder import encode_basestring_ascii as _quote

FORMAT = "nono-audit/1"

#: Kinds of record a session holds. ``session_start`` and ``session_end`` are written by
#: :class:`AuditSession` itself; the others by :meth:`AuditSession.record`.
EVENT_KINDS: tuple[str, ...] = (
    "session_start",
    "session_end",
    "policy",
    "network_decision",
    "supervisor_decision",
    "snapshot",
    "command",
    "trust",
)

#: Keys every record has; callers cannot set them through ``record(**fields)``.
RESERVED_KEYS = frozenset({"seq", "time", "kind", "session", "prev", "hash", "format"})


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``.

    ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
    allow_nan=False)``, written out for the types records hold (objects with string keys,
    arrays, strings, integers, finite floats, booleans, null); anything else is handed
    to ``json.dumps`` itself.
    """
    return "".join(_encode(value)).encode("ascii")


def _encode(value: Any) -> list[str]:
    out: list[str] = []
    _put(value, out)
    return out


def _put(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float) and value == value and value not in (_INF, -_INF):
        out.append(float.__repr__(value))
    elif isinstance(value, dict) and all(isinstance(key, str) for key in value):
        out.append("{")
        for index, key in enumerate(sorted(value)):
            if index:
                out.append(",")
            out.append(_quote(key))
            out.append(":")
            _put(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _put(item, out)
        out.append("]")
    else:  # NaN, infinities, other keys or types: json's own answer (or its error)
        import json

        out.append(
            json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
            )
        )


_INF = float("inf")


def record_hash(record: dict[str, Any]) -> str:
    """The hash a record commits to: its canonical JSON without ``hash``."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return str(sha256(canonical(body)).hexdigest())


def seal(record: dict[str, Any]) -> dict[str, Any]:
    """Add the record's ``hash``; return the record."""
    record["hash"] = record_hash(record)
    return record


def session_genesis(session_id: str) -> str:
    """``prev`` of a session's first record."""
    return str(sha256(f"{FORMAT}\0session\0{session_id}".encode()).hexdigest())


def ledger_genesis() -> str:
    """``prev`` of the ledger's first entry."""
    return str(sha256(f"{FORMAT}\0ledger".encode()).hexdigest())


def line_of(record: dict[str, Any]) -> bytes:
    """The stored form of a sealed record: canonical JSON and a newline."""
    return canonical(record) + b"\n"


def signed_message(session_id: str, final_hash: str) -> bytes:
    """What a session's signature covers."""
    return f"{FORMAT}\0signed-session\0{session_id}\0{final_hash}".encode()
