"""Verify a bundle before anything of it is applied: the launcher's side of signing.

A bundle is a DSSE envelope (see ``docs/bundles.md``), or a Sigstore bundle for keyless
signatures (``nonoc.launch.keyless``, whose imports only such bundles pay). ``load_verified``
refuses, with exit code 1, a bundle that is unreadable, malformed, of the wrong payload
type, unsigned, signed by a key that is not in ``$XDG_CONFIG_HOME/nono/trusted_keys/``,
modified after signing, or compiled for another operating system or CPU architecture.

Speed. Importing ``cryptography``'s Ed25519 costs more than the launcher's whole budget,
so a successful full verification leaves a *memo* (``nonoc.launch.memo``): a MAC, under a
secret kept 0600 beside the trusted keys, of the bundle's digest, the trusted key set and
the launcher's view of the payload. A later exec of the same bytes under the same trusted
keys checks that tag and takes the view from the memo: no signature check, no base64 or
JSON decoding. Whoever could forge a memo could read ``$XDG_CONFIG_HOME/nono/``, where they
could as well add a trusted key; so the memo gives nobody a power they did not have (the
full argument is in ``docs/bundles.md``).

Standard library only at import time, and not ``json`` (which imports ``re``): a payload
is parsed by ``nonoc.launch.jsondata``, and only when no memo holds. ``cryptography`` is
imported on the slow path and ``nonoc.errors`` only when refusing. Nothing here imports a
compiler module.
"""

from __future__ import annotations

import os
import sys

from nonoc.launch import memo as memos
from nonoc.launch import rights
from nonoc.launch.memo import cache_dir as cache_dir
from nonoc.launch.memo import config_dir as config_dir
from nonoc.launch.memo import digest as digest
from nonoc.launch.memo import local_secret as local_secret
from nonoc.launch.memo import mac as mac

# ``typing`` and ``base64`` cost more to import than this whole module's work on the memo
# path (base64 pulls in ``re``); annotations are strings, and binascii does the base64.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import Any, NoReturn

    _MappingBase = Mapping[str, Any]
else:
    _MappingBase = object

PAYLOAD_TYPE = "application/vnd.nono.bundle+json"
FORMAT = "nono-bundle/1"

#: DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the raw 32-byte key follows.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


# --------------------------------------------------------------------------- locations


def trusted_keys_dir() -> str:
    """The directory whose ``*.pub`` files ``nono exec`` trusts."""
    return os.path.join(config_dir(), "trusted_keys")


def native_arch() -> str:
    """This machine's architecture in nono's names (``x86_64``, ``aarch64``)."""
    machine = os.uname().machine.lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def native_target() -> str:
    """``linux`` or ``macos``: the bundle section this machine runs."""
    return "macos" if sys.platform == "darwin" else "linux"


# --------------------------------------------------------------------------- DSSE


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: what a signature covers.

    ``"DSSEv1" SP len(type) SP type SP len(payload) SP payload``, lengths in ASCII decimal
    bytes. Binding the type into the signed bytes stops a payload of one type from being
    replayed as another.
    """
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def keyid_of(raw_public_key: bytes) -> str:
    """A key's id: the SHA-256 (hex) of its raw 32-byte public key."""
    import hashlib  # only where keys are parsed: the full path, or the compiler

    return hashlib.sha256(raw_public_key).hexdigest()


def public_key_from_pem(text: str) -> bytes:
    """The raw Ed25519 public key in a ``-----BEGIN PUBLIC KEY-----`` PEM (SPKI) text.

    Parsed with the standard library, so that neither the launcher nor the compile cache
    needs ``cryptography`` to know a key's id. Raises ``ValueError`` for anything but one
    Ed25519 public key.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    if (
        len(lines) < 3
        or lines[0] != "-----BEGIN PUBLIC KEY-----"
        or lines[-1] != "-----END PUBLIC KEY-----"
    ):
        raise ValueError("not a PEM public key")
    try:
        der = b64decode("".join(lines[1:-1]))
    except ValueError as exc:
        raise ValueError(f"bad base64 in PEM: {exc}") from None
    if len(der) != len(_ED25519_SPKI_PREFIX) + 32 or not der.startswith(_ED25519_SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key")
    return der[len(_ED25519_SPKI_PREFIX) :]


def public_key_to_pem(raw_public_key: bytes) -> str:
    """The PEM (SPKI) text of a raw Ed25519 public key, as ``openssl pkey -pubout`` writes it."""
    body = b64encode(_ED25519_SPKI_PREFIX + raw_public_key)
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def b64decode(text: str) -> bytes:
    """Strict base64 (RFC 4648 alphabet, correct padding, nothing else); ``ValueError`` if not."""
    import binascii  # a shared library to load: only where base64 is decoded

    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from None


def b64encode(data: bytes) -> str:
    """Standard base64 text of ``data``, without a newline."""
    import binascii

    return binascii.b2a_base64(data, newline=False).decode("ascii")


# --------------------------------------------------------------------------- trusted keys


def trusted_key_files() -> tuple[list[tuple[str, bytes]], str]:
    """The ``*.pub`` files in the trusted directory (name, bytes) and a digest of the set.

    The digest covers every file's name and bytes, usable key or not, so adding, removing
    or editing any of them invalidates every verification memo.
    """
    directory = trusted_keys_dir()
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".pub"))
    except OSError:
        names = []
    files: list[tuple[str, bytes]] = []
    for name in names:
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                files.append((name, handle.read(16384)))
        except OSError:
            continue
    state = b"".join(b"%d:%s%d:%s" % (len(n), n.encode(), len(d), d) for n, d in files)
    return files, digest(b"nono-trusted-keys/1\0" + state)


def trusted_keys(files: list[tuple[str, bytes]] | None = None) -> dict[str, bytes]:
    """The trusted Ed25519 keys, keyid -> raw public key; unusable files are skipped."""
    keys: dict[str, bytes] = {}
    for _, data in trusted_key_files()[0] if files is None else files:
        try:
            raw = public_key_from_pem(data.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            continue
        keys[keyid_of(raw)] = raw
    return keys


# --------------------------------------------------------------------------- verification


def _refuse(path: str, message: str, *notes: str) -> NoReturn:
    # Imported here: nonoc.errors pulls in dataclasses, which the fast path does not need.
    from nonoc.errors import NonoError, Span

    raise NonoError(message, Span(path), notes=tuple(notes), exit_code=1)


def parse_envelope(path: str, data: bytes) -> tuple[bytes, list[dict[str, Any]]]:
    """Check the envelope's shape and type; return the decoded payload and the signatures."""
    from nonoc.launch.jsondata import loads as json_loads

    try:
        envelope = json_loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        _refuse(path, f"not a nono bundle: malformed JSON ({exc})")
    if not isinstance(envelope, dict):
        _refuse(path, "not a nono bundle: the envelope is not a JSON object")
    payload_type = envelope.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        _refuse(
            path, f"not a nono bundle: payloadType is {payload_type!r}, expected {PAYLOAD_TYPE!r}"
        )
    encoded = envelope.get("payload")
    signatures = envelope.get("signatures", [])
    if not isinstance(encoded, str) or not isinstance(signatures, list):
        _refuse(path, "not a nono bundle: 'payload' must be a string and 'signatures' a list")
    try:
        payload = b64decode(encoded)
    except ValueError:
        _refuse(path, "not a nono bundle: the payload is not valid base64")
    if not all(
        isinstance(s, dict)
        and isinstance(s.get("sig"), str)
        and isinstance(s.get("keyid", ""), str)
        for s in signatures
    ):
        _refuse(
            path,
            "not a nono bundle: every signature needs a 'sig' string "
            "(and a 'keyid' string, if any)",
        )
    return payload, signatures


def verify_signatures(
    path: str, payload: bytes, signatures: list[dict[str, Any]], keys: dict[str, bytes]
) -> str:
    """Return the id of a trusted key with a valid signature over ``payload``, or refuse."""
    if not signatures:
        _refuse(
            path,
            "bundle is unsigned; nono exec runs only signed bundles",
            "compile it without --unsigned to sign it with your key",
        )
    # Imported only on the slow path: it costs more than the rest of the launcher.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    message = pae(PAYLOAD_TYPE, payload)
    bad: list[str] = []
    for signature in signatures:
        keyid = signature.get("keyid") or ""
        candidates = [keyid] if keyid in keys else ([] if keyid else sorted(keys))
        try:
            sig = b64decode(signature["sig"])
        except ValueError:
            bad.append(keyid)
            continue
        for candidate in candidates:
            try:
                Ed25519PublicKey.from_public_bytes(keys[candidate]).verify(sig, message)
            except InvalidSignature:
                bad.append(candidate)
                continue
            return candidate
    if bad:
        _refuse(
            path,
            f"bundle signature does not verify (key {bad[0][:16] or '?'}): "
            "the bundle was changed after signing",
        )
    ids = ", ".join(str(s.get("keyid") or "?")[:16] for s in signatures)
    _refuse(
        path,
        f"bundle is signed by an untrusted key ({ids})",
        f"nono exec trusts the public keys in {trusted_keys_dir()}",
        "to trust a key, copy its .pub file there (nonoc keygen does this for your own key)",
    )


def check_payload(path: str, payload: bytes) -> dict[str, Any]:
    """Parse the payload and refuse a foreign format, target or architecture."""
    return check_document(path, parse_payload(path, payload))


def parse_payload(path: str, payload: bytes) -> dict[str, Any]:
    """The payload's JSON object; refuses what is not one."""
    from nonoc.launch.jsondata import loads as json_loads

    try:
        document = json_loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        _refuse(path, f"malformed bundle payload ({exc})")
    if not isinstance(document, dict):
        _refuse(path, "malformed bundle payload: no manifest")
    return document


def check_document(path: str, document: dict[str, Any]) -> dict[str, Any]:
    """Refuse a payload of a foreign format, target or architecture; return it otherwise.

    Run on every exec, memo or not: a cache directory may be shared by hosts of two kinds.
    """
    manifest = document.get("manifest")
    if not isinstance(manifest, dict):
        _refuse(path, "malformed bundle payload: no manifest")
    if document.get("format") != FORMAT:
        _refuse(
            path, f"unsupported bundle format {document.get('format')!r} (this nono reads {FORMAT})"
        )
    targets = manifest.get("targets")
    here = native_target()
    if not isinstance(targets, list) or here not in targets or here not in document:
        shown = ", ".join(map(str, targets)) if isinstance(targets, list) else "nothing"
        _refuse(
            path,
            f"bundle is compiled for {shown}, not {here}",
            f"recompile it with --target {here}",
        )
    arch = manifest.get("arch")
    machine = native_arch()
    if arch not in ("any", machine):
        _refuse(
            path,
            f"bundle is compiled for {arch}, this machine is {machine}",
            f"recompile it with --arch {machine}",
        )
    return document


def load_verified(
    path: str, *, memo: bool = True, defer_provenance: bool = False
) -> dict[str, Any]:
    """Read, verify and return the payload of the bundle at ``path``; refuse anything else.

    Raises ``nonoc.errors.NonoError`` (exit code 1) naming the bundle. With ``memo`` (the
    default) a bundle whose exact bytes were fully verified before, under the same trusted
    keys, is accepted on an authenticated memo instead of a new signature check, and its
    payload is taken from the memo. With ``defer_provenance`` the payload's ``provenance``
    may be a ``Deferred`` mapping, decoded from the same bytes when first read.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        _refuse(path, f"cannot read bundle: {exc.strerror or exc}")
    # Everything below works on these bytes only: what was verified is what is applied.
    bundle_digest = digest(data)
    if b'"mediaType"' in data:  # a Sigstore bundle (nonoc compile --sign sigstore)
        from nonoc.launch import keyless

        return keyless.load_verified(
            path, data, bundle_digest, memo=memo, defer_provenance=defer_provenance
        )
    files, trust_digest = trusted_key_files()
    # The memo also keeps the Landlock right facts, so it must name the rights.json they
    # came from: a changed file is a miss, like a changed trusted key.
    context = f"{trust_digest}/{digest(rights.source())}"
    view = memos.recall(bundle_digest, context) if memo else None
    if (
        view is not None
        and isinstance(view.get("payload"), dict)
        and rights.adopt(view.get("rights"))
    ):
        # The memo's tag covers the bundle's digest, the trusted keys, rights.json and this
        # view: these bytes passed a full check before, and the view is their payload less
        # provenance.
        document: dict[str, Any] = view["payload"]
        provenance = Deferred(lambda: payload_provenance(path, parse_envelope(path, data)[0]))
        document["provenance"] = provenance if defer_provenance else provenance.resolve()
        return check_document(path, document)
    payload, signatures = parse_envelope(path, data)
    verify_signatures(path, payload, signatures, trusted_keys(files))
    document = parse_payload(path, payload)
    if memo:
        launcher_view = {k: v for k, v in document.items() if k != "provenance"}
        memos.remember(bundle_digest, context, {"payload": launcher_view, "rights": rights.facts()})
    return check_document(path, document)


def payload_provenance(path: str, payload: bytes) -> dict[str, Any]:
    """The ``provenance`` of payload bytes a memo proved verified (``{}`` when absent)."""
    provenance = parse_payload(path, payload).get("provenance")
    return provenance if isinstance(provenance, dict) else {}


class Deferred(_MappingBase):
    """A read-only mapping decoded on first use: a memo-verified bundle's provenance.

    The launcher reads provenance only to explain a refusal or to print its plan; decoding
    it (three quarters of a payload's bytes) waits until then.
    """

    __slots__ = ("_load", "_value")

    def __init__(self, load: Callable[[], dict[str, Any]]) -> None:
        self._load: Callable[[], dict[str, Any]] | None = load
        self._value: dict[str, Any] | None = None

    def resolve(self) -> dict[str, Any]:
        """The decoded mapping (decoded now if it was not yet)."""
        if self._value is None:
            assert self._load is not None
            self._value, self._load = self._load(), None
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self.resolve()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.resolve())

    def __len__(self) -> int:
        return len(self.resolve())

    def __contains__(self, key: object) -> bool:
        return key in self.resolve()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Deferred):
            other = other.resolve()
        return self.resolve() == other

    __hash__ = None  # type: ignore[assignment]  # mutable-equality semantics, as dict

    def __repr__(self) -> str:
        return f"Deferred({self.resolve()!r})" if self._value is not None else "Deferred(...)"

    def get(self, key: str, default: Any = None) -> Any:
        """``mapping[key]``, or ``default`` when absent."""
        return self.resolve().get(key, default)

    def keys(self) -> Any:
        """The keys, as ``dict.keys``."""
        return self.resolve().keys()

    def items(self) -> Any:
        """The items, as ``dict.items``."""
        return self.resolve().items()

    def values(self) -> Any:
        """The values, as ``dict.values``."""
        return self.resolve().values()
