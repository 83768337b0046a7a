"""The run memo: a repeated ``nono run`` command line gets its bundle without the compiler.

The compile cache (``nonoc.compile``, ``nonoc.bundle.cache``) already answers a repeated
compile without parsing anything, but reaching it imports the compiler's modules and
their dependencies (``dataclasses``, ``typing``, OpenSSL's ``hashlib``): about as long as
``nono exec`` takes in all. A cached ``nono run`` must cost at most 1.5× ``nono exec``, so
this memo sits in front of the compile cache and checks, with the standard library only
(BLAKE2b from ``_blake2``, ``os.stat``), what the compile cache's hit checks:

- the command line's request: profile source (and the real file it names), flags as
  statements, signing key spec, target, architecture, nono's version;
- the compiler's code and shipped data (``stamp`` of the package, grammar, backends,
  stdlib and profiles folders: names, sizes, modification times), as
  ``nonoc.compile.compiler_identity`` does;
- the user's profiles folder (a new profile may shadow a shipped one);
- the signing key's public half (or PEM file): another key means another bundle;
- every source file the compile read, by content: the list is the compile cache's own
  (``nonoc.compile._locate_sources``), each file re-read and checked against the digest
  the bundle's manifest records, so what is remembered is what was compiled. A compile
  whose sources cannot be told apart is not remembered, as the compile cache does.

Anything different is a miss, and ``nono run`` asks ``compile_profile`` (which may still
hit its own cache). Entries live in ``$XDG_STATE_HOME/nono/run/memo/``, beside the bundle
bytes they name; the state directory is denied to every agent (``stdlib/nono_self.nono``),
and each entry also carries a MAC under the local secret (``nonoc.launch.verify``), like the
compile cache's index, so a planted entry is ignored even where that deny is missing.
"""

from __future__ import annotations

import os

from nonoc import __version__
from nonoc.launch.verify import config_dir, local_secret, mac

# As in nonoc.launch.verify: the interpreter's own BLAKE2b and constant-time comparison,
# without importing hashlib (OpenSSL) or hmac on a cached run.
try:
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - every CPython build has it
    from hashlib import blake2b
try:
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover
    from hmac import compare_digest  # type: ignore[no-redef]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Any

_VERSION = 1
_DOMAIN = b"nono-run-memo/1\0"
_DATA_FOLDERS = ("grammar", "backends", "stdlib", "profiles")


class Remembered:
    """A memo hit: the launcher's view of the payload, and what to say about the bundle.

    ``view`` is the payload less its provenance (three quarters of its bytes, needed only to
    explain a refusal or print the plan); ``provenance()`` decodes it from the bundle file.
    """

    __slots__ = ("bundle_path", "digest", "profile", "view", "warnings")

    def __init__(
        self,
        view: dict[str, Any],
        digest: str,
        bundle_path: str,
        profile: str,
        warnings: tuple[str, ...],
    ) -> None:
        self.view, self.digest, self.bundle_path = view, digest, bundle_path
        self.profile, self.warnings = profile, warnings

    def provenance(self) -> dict[str, Any]:
        """The bundle's provenance, read from the remembered bundle (checked against its digest)."""
        from nonoc.launch.verify import parse_envelope, parse_payload

        with open(self.bundle_path, "rb") as handle:
            data = handle.read()
        if digest(data) != self.digest:
            return {}  # changed under us: say less rather than something untrue
        recorded = parse_payload(self.bundle_path, parse_envelope(self.bundle_path, data)[0]).get(
            "provenance"
        )
        return recorded if isinstance(recorded, dict) else {}


def memo_dir() -> str:
    """``$XDG_STATE_HOME/nono/run/memo``."""
    from nonoc.runtime.config import state_dir

    return os.path.join(state_dir(), "run", "memo")


def digest(data: bytes) -> str:
    """BLAKE2b-256 (hex) of ``data``."""
    return blake2b(data, digest_size=32).hexdigest()


def file_digest(path: str) -> str | None:
    """BLAKE2b-256 of a file's bytes; None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return digest(handle.read())
    except OSError:
        return None


def tree_stamp(roots: Iterable[str], suffixes: tuple[str, ...] = ()) -> str:
    """A digest of the names, sizes and modification times of the files under ``roots``.

    ``__pycache__`` and hidden folders are left out. ``os.scandir`` rather than ``os.walk``
    plus ``os.stat``: on a cached run this walk is the largest piece of work left, and
    scandir's entries halve it.
    """
    entries: list[str] = []
    for root in roots:
        entries.append(f"root {root}")
        _walk(root, entries, suffixes)
    return digest("\n".join(entries).encode("utf-8", "surrogateescape"))


def _walk(folder: str, entries: list[str], suffixes: tuple[str, ...]) -> None:
    try:
        with os.scandir(folder) as listing:
            found = sorted(listing, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in found:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__" and not entry.name.startswith("."):
                    _walk(entry.path, entries, suffixes)
                continue
            if suffixes and not entry.name.endswith(suffixes):
                continue
            info = entry.stat()
        except OSError:
            continue
        entries.append(f"{entry.path}\0{info.st_size}\0{info.st_mtime_ns}")


def code_roots() -> list[str]:
    """The compiler's package and shipped data folders (as ``compiler_identity`` walks them)."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    installed = os.path.join(package, "_data")
    data_root = installed if os.path.isdir(installed) else os.path.dirname(package)
    return [package] + [os.path.join(data_root, folder) for folder in _DATA_FOLDERS]


def key_file(spec: str) -> str:
    """The file identifying signing key ``spec`` (its public half, or the PEM path itself)."""
    if "/" in spec or spec.endswith(".pem"):  # nonoc.bundle.keys.is_key_path
        return spec
    return os.path.join(config_dir(), "keys", f"{spec}.pub")


def request_key(
    source: str, flags: Sequence[tuple[str, str]], key: str, target: str, arch: str
) -> str:
    """The memo's name for one command line (what shapes the bundle besides file contents)."""
    real = os.path.realpath(source) if os.path.isfile(source) else ""
    parts = [f"v{_VERSION}", __version__, source, real, key, target, arch]
    parts.extend(f"{label}\0{body}" for label, body in flags)
    return digest("\x1e".join(parts).encode("utf-8", "surrogateescape"))


def stamps(key: str) -> dict[str, str | None]:
    """What must be unchanged for a remembered bundle to stand (computed before a compile)."""
    return {
        "code": tree_stamp(code_roots()),
        "user_profiles": tree_stamp([os.path.join(config_dir(), "profiles")], (".nono",)),
        "key": file_digest(key_file(key)),
    }


def lookup(request: str, key: str) -> Remembered | None:
    """The remembered bundle for ``request``, if nothing it depends on changed; else None.

    An entry is its tag, a newline, then its JSON body: the tag covers the body's exact
    bytes, so checking it needs no serialiser (``json`` imports ``re``: milliseconds a run).
    """
    from nonoc.launch.jsondata import loads

    secret = local_secret(create=False)
    if secret is None:
        return None
    base = os.path.join(memo_dir(), request)
    try:
        with open(base + ".memo", "rb") as handle:
            tag, _, body = handle.read().partition(b"\n")
        if not compare_digest(tag, _mac(secret, request, body).encode()):
            return None
        entry = loads(body)
        if not isinstance(entry, dict):
            return None
        if entry["stamps"] != stamps(key) or entry["stamps"]["key"] is None:
            return None
        for path, expected in entry["files"].items():
            if file_digest(path) != expected:
                return None
        view = entry["view"]
        if not isinstance(view, dict):
            return None
        warnings = tuple(str(w) for w in entry["warnings"])
        return Remembered(
            view, str(entry["bundle"]), base + ".bundle", str(entry["profile"]), warnings
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def remember(
    request: str,
    before: Mapping[str, str | None],
    data: bytes,
    payload: Mapping[str, Any],
    warnings: Sequence[str],
) -> bool:
    """Record a compile's bundle under ``request``; ``before`` are the stamps taken before it.

    ``payload`` is the bundle's decoded payload; all of it but its provenance is kept in the
    entry, so that a hit decodes nothing else. Best effort: False (nothing recorded) when a
    source cannot be located unambiguously, changed since the compile read it, or the memo
    cannot be written.
    """
    import hashlib
    import json

    from nonoc.compile import _locate_sources  # the compile cache's own list of what it re-checks

    if before.get("key") is None:
        return False
    sources = payload.get("manifest", {}).get("sources", {})
    located = _locate_sources(sources)
    if located is None:
        return False
    files: dict[str, str] = {}
    for path, sha256 in located.items():
        try:
            with open(path, "rb") as handle:
                content = handle.read()
        except OSError:
            return False
        if hashlib.sha256(content).hexdigest() != sha256:
            return False  # changed since the compile read it
        files[path] = digest(content)
    secret = local_secret(create=True)
    if secret is None:
        return False
    entry: dict[str, Any] = {
        "bundle": digest(data),
        "files": dict(sorted(files.items())),
        "profile": payload.get("manifest", {}).get("profile", "?"),
        "stamps": dict(before),
        "view": {k: v for k, v in payload.items() if k != "provenance"},
        "warnings": list(warnings),
    }
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    from nonoc.runtime.config import atomic_write

    base = os.path.join(memo_dir(), request)
    try:
        atomic_write(base + ".bundle", data)
        atomic_write(base + ".memo", _mac(secret, request, body).encode() + b"\n" + body)
    except OSError:
        return False
    return True


def _mac(secret: bytes, request: str, body: bytes) -> str:
    """The tag of an entry's body, bound to the request it answers."""
    return mac(secret, _DOMAIN + request.encode() + b"\0" + body)
