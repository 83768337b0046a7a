"""Just enough HTTP/1.1 for a forwarding proxy: heads, message framing, body relay.

The proxy never interprets bodies; it must only know where each message ends so that
the next request on a kept-alive connection is read (and checked) as a request, never
smuggled through as part of the previous body. So the parser is strict where framing is
concerned: one ``Content-Length`` or ``Transfer-Encoding: chunked``, never both, no
obsolete line folding, no control characters in header values. Anything else is a 400.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024
MAX_HEADERS = 128
CHUNK = 256 * 1024

_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_VERSION = re.compile(r"^HTTP/1\.[01]$")

#: Headers that describe one connection, not the message; never forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    }
)


class HttpError(Exception):
    """A request the proxy refuses to parse; answered with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ClientGone(Exception):
    """The peer closed the connection before sending a whole head."""


@dataclass
class Head:
    """A request or response head. ``headers`` keeps order and case as received."""

    first: tuple[str, str, str]  # (method, target, version) or (version, status, reason)
    headers: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        """The last value of header ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == wanted:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def remove(self, *names: str) -> None:
        """Drop every header whose name is in ``names`` (case-insensitive)."""
        dropped = {n.lower() for n in names}
        self.headers = [(k, v) for k, v in self.headers if k.lower() not in dropped]


async def read_head(reader: asyncio.StreamReader) -> bytes:
    """Read one head up to and including the blank line; raise :class:`ClientGone` at EOF."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise HttpError(400, "incomplete request head") from exc
        raise ClientGone from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpError(431, "request head too large") from exc


def parse_head(raw: bytes, *, request: bool) -> Head:
    """Parse a head read by :func:`read_head`; raise :class:`HttpError` if malformed."""
    lines = raw[:-4].split(b"\r\n")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, "too many headers")
    try:
        first = lines[0].decode("ascii")
    except UnicodeDecodeError as exc:
        raise HttpError(400, "non-ASCII request line") from exc
    parts = first.split(" ", 2)
    if len(parts) != 3 or any(c in first for c in "\r\n\t\x00"):
        raise HttpError(400, "malformed start line")
    if request:
        method, target, version = parts
        if not _TOKEN.match(method.encode()) or not target or " " in target:
            raise HttpError(400, "malformed request line")
        if not _VERSION.match(version):
            raise HttpError(505, "only HTTP/1.0 and HTTP/1.1 are supported")
    elif not _VERSION.match(parts[0]) or not (parts[1].isdigit() and len(parts[1]) == 3):
        raise HttpError(502, "malformed status line from upstream")
    head = Head((parts[0], parts[1], parts[2]))
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.match(name):
            raise HttpError(400, "malformed header line")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value) or b"\r" in value:
            raise HttpError(400, "control character in header value")
        head.headers.append((name.decode("ascii"), value.decode("latin-1")))
    return head


def serialize(head: Head) -> bytes:
    """The head as bytes, ending with the blank line."""
    lines = [" ".join(head.first)]
    lines.extend(f"{name}: {value}" for name, value in head.headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass(frozen=True)
class Framing:
    """Where a message body ends: ``length`` bytes, chunked, at EOF, or no body."""

    kind: str  # "length" | "chunked" | "eof" | "none"
    length: int = 0


def request_framing(head: Head) -> Framing:
    """The body framing of a request (RFC 9112 6.3); refuses ambiguous framing."""
    framing = _declared_framing(head)
    return framing if framing is not None else Framing("none")


def response_framing(head: Head, method: str) -> Framing:
    """The body framing of a response to ``method``."""
    status = int(head.first[1])
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Framing("none")
    framing = _declared_framing(head)
    return framing if framing is not None else Framing("eof")


def _declared_framing(head: Head) -> Framing | None:
    encodings = head.get_all("transfer-encoding")
    lengths = head.get_all("content-length")
    if encodings:
        if lengths:
            raise HttpError(400, "both Transfer-Encoding and Content-Length")
        codings = [c.strip().lower() for value in encodings for c in value.split(",")]
        if codings != ["chunked"]:
            raise HttpError(501, "unsupported Transfer-Encoding")
        return Framing("chunked")
    if lengths:
        values = {v.strip() for value in lengths for v in value.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            raise HttpError(400, "invalid Content-Length")
        return Framing("length", int(values.pop()))
    return None


def wants_close(head: Head) -> bool:
    """Whether the message asks to close the connection after it (or is HTTP/1.0)."""
    version = head.first[0] if head.first[0].startswith("HTTP/") else head.first[2]
    tokens = {t.strip().lower() for v in head.get_all("connection") for t in v.split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" not in tokens
    return "close" in tokens


def strip_hop_by_hop(head: Head) -> None:
    """Remove hop-by-hop headers, including those named in ``Connection``."""
    named = {t.strip().lower() for v in head.get_all("connection") for t in v.split(",")}
    head.remove(*(HOP_BY_HOP | named))


async def relay_body(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    framing: Framing,
    idle: float,
) -> None:
    """Copy one message body from ``reader`` to ``writer`` as framed; ``idle`` bounds each read."""
    if framing.kind == "length":
        await _copy_exact(reader, writer, framing.length, idle)
    elif framing.kind == "chunked":
        await _copy_chunked(reader, writer, idle)
    elif framing.kind == "eof":
        while True:
            async with asyncio.timeout(idle):
                data = await reader.read(CHUNK)
                if not data:
                    return
                writer.write(data)
                await writer.drain()


async def _copy_exact(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: int, idle: float
) -> None:
    while count > 0:
        # The bound covers the write too: a peer that stops reading is as stuck as a silent one.
        async with asyncio.timeout(idle):
            data = await reader.read(min(count, CHUNK))
            if not data:
                raise ClientGone("body ended early")
            count -= len(data)
            writer.write(data)
            await writer.drain()


async def _copy_chunked(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, idle: float
) -> None:
    while True:
        async with asyncio.timeout(idle):
            line = await _read_line(reader)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or len(size_text) > 16 or not re.fullmatch(rb"[0-9a-fA-F]+", size_text):
            raise HttpError(400, "malformed chunk size")
        size = int(size_text, 16)
        # Re-serialise the size line (extensions dropped) so no odd bytes pass through.
        writer.write(b"%x\r\n" % size)
        if size == 0:
            break
        await _copy_exact(reader, writer, size, idle)
        async with asyncio.timeout(idle):
            if await _read_line(reader) != b"":
                raise HttpError(400, "chunk not followed by CRLF")
        writer.write(b"\r\n")
    while True:  # trailer section, then the final CRLF
        async with asyncio.timeout(idle):
            line = await _read_line(reader)
        if line == b"":
            writer.write(b"\r\n")
            await writer.drain()
            return
        name, sep, _value = line.partition(b":")
        if not sep or not _TOKEN.match(name) or _BAD_VALUE.search(line):
            raise HttpError(400, "malformed trailer")
        writer.write(line + b"\r\n")


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\r\n")
    except asyncio.IncompleteReadError as exc:
        raise ClientGone("body ended early") from exc
    except asyncio.LimitOverrunError as exc:
        raise HttpError(400, "chunk line too long") from exc
    return line[:-2]


def error_response(status: int, message: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    """A small plain-text response that closes the connection."""
    reasons = {
        400: "Bad Request",
        403: "Forbidden",
        401: "Unauthorized",
        404: "Not Found",
        407: "Proxy Authentication Required",
        431: "Request Header Fields Too Large",
        500: "Internal Server Error",
        501: "Not Implemented",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
        505: "HTTP Version Not Supported",
    }
    body = (message + "\n").encode("utf-8", "replace")
    head = Head(
        ("HTTP/1.1", str(status), reasons.get(status, "Error")),
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            *(extra or []),
        ],
    )
    return serialize(head) + body
