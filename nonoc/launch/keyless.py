"""Keyless-signed bundles at ``nono exec``: a Sigstore bundle carrying a nono payload.

``nonoc compile --sign sigstore`` writes the Sigstore bundle JSON itself (top-level
``mediaType`` ``application/vnd.dev.sigstore.bundle…``) around an in-toto statement whose
predicate holds the canonical payload (``nonoc.runtime.trust.bundle_statement``). The
launcher tells it from a keyed bundle by that key (``nonoc.launch.verify.load_verified``
looks for it, so that a keyed bundle never imports this module) and verifies it against
the identities the user trusts, in ``$XDG_CONFIG_HOME/nono/trusted_identities.json``::

    {"version": 1,
     "identities": [{"issuer": "https://token.actions.githubusercontent.com",
                     "identity": "https://github.com/ORG/REPO/.github/workflows/compile.yml@refs/heads/main"}],
     "trusted_root": "sigstore-production"}      # or a trusted_root.json, relative to this file

(the trust policy's format, ``nonoc.runtime.trust.policy``; only ``identities`` and
``trusted_root`` are read). Verification is offline: certificate chain at the logged time,
SCT, transparency-log inclusion proof, checkpoint and signed entry timestamp, envelope
signature, identity and issuer (``nonoc.runtime.trust.keyless``).

Speed. ``sigstore`` imports pydantic and costs ~350 ms, far past the launcher's budget,
so it is imported only here, only once the bytes hold a ``"mediaType"`` key (a keyed
bundle never does: its only text outside base64 is its own three keys), and only when
the verification memo (``nonoc.launch.memo``) has nothing for these bytes under the
current identities file and trusted root: a repeated exec of a keyless bundle costs what
a keyed one does. The memo's context is the digest of the identities file, the trusted
root's name or path and bytes, so changing whom you trust invalidates it. A keyed bundle
pays one ``bytes.__contains__`` scan for all this.
"""

from __future__ import annotations

import os

from nonoc.launch import memo as memos

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

IDENTITIES_NAME = "trusted_identities.json"
MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"
_NAMED_ROOTS = ("sigstore-production", "sigstore-staging")


def identities_path() -> str:
    """``$XDG_CONFIG_HOME/nono/trusted_identities.json``."""
    return os.path.join(memos.config_dir(), IDENTITIES_NAME)


def _refuse(path: str, message: str, *notes: str) -> NoReturn:
    from nonoc.errors import NonoError, Span

    raise NonoError(message, Span(path), notes=tuple(notes), exit_code=1)


def load_verified(
    path: str, data: bytes, bundle_digest: str, *, memo: bool = True, defer_provenance: bool = False
) -> dict[str, Any]:
    """Verify keyless bundle bytes ``data`` read from ``path``; return its payload document.

    Refuses (``NonoError``, exit 1) a bundle that is malformed, not a nono bundle, or whose
    signer is not trusted, and any keyless bundle when no identity is trusted.
    """
    from nonoc.launch.verify import Deferred, check_document, parse_payload, payload_provenance

    context = trust_context(path)
    view = memos.recall(bundle_digest, context) if memo else None
    if view is not None:
        provenance = Deferred(lambda: payload_provenance(path, payload_of(path, data)))
        view["provenance"] = provenance if defer_provenance else provenance.resolve()
        return check_document(path, view)
    payload = _verify(path, data)
    document = parse_payload(path, payload)
    if memo:
        memos.remember(
            bundle_digest, context, {k: v for k, v in document.items() if k != "provenance"}
        )
    return check_document(path, document)


def trust_context(path: str) -> str:
    """The memo context: digest of the identities file and the trusted root it names."""
    location = identities_path()
    try:
        with open(location, "rb") as handle:
            identities = handle.read(1 << 20)
    except OSError:
        _refuse(
            path,
            "bundle is signed keyless (Sigstore), but nono exec trusts no keyless signer",
            f"list the identities you trust, and a trusted root, in {location}",
            "(see docs/trust.md, 'Keyless-signed bundles')",
        )
    root_name, root_bytes = _trusted_root(location, identities)
    parts = (b"nono-keyless/1", identities, root_name.encode(), root_bytes)
    return memos.digest(b"".join(b"%d:%s" % (len(p), p) for p in parts))


def _trusted_root(location: str, identities: bytes) -> tuple[str, bytes]:
    """The trusted root the identities file names, as the trust policy resolves it."""
    from nonoc.launch.jsondata import loads

    try:
        document = loads(identities)
    except (ValueError, UnicodeDecodeError):
        return "", b""  # the full verification reports the file's error with its position
    root = document.get("trusted_root") if isinstance(document, dict) else None
    if not isinstance(root, str) or not root or root in _NAMED_ROOTS:
        return str(root or ""), b""
    resolved = os.path.realpath(os.path.join(os.path.dirname(location), os.path.expanduser(root)))
    try:
        with open(resolved, "rb") as handle:
            return resolved, handle.read(8 << 20)
    except OSError:
        return resolved, b""


def _verify(path: str, data: bytes) -> bytes:
    """The full check (imports ``sigstore``); returns the canonical payload bytes."""
    from pathlib import Path

    from nonoc.launch.jsondata import loads

    try:
        document = loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        _refuse(path, f"not a nono bundle: malformed JSON ({exc})")
    media = document.get("mediaType") if isinstance(document, dict) else None
    if not isinstance(media, str) or not media.startswith(MEDIA_TYPE_PREFIX):
        _refuse(path, f"not a nono bundle: mediaType is {media!r}, not a Sigstore bundle")
    from nonoc.runtime.trust.bundle_statement import verify_bundle_payload
    from nonoc.runtime.trust.keyless import KeylessError
    from nonoc.runtime.trust.policy import read_policy_file

    trusted = read_policy_file(Path(identities_path()))
    if not trusted.identities:
        _refuse(
            path,
            "bundle is signed keyless (Sigstore), but nono exec trusts no keyless signer",
            f'add "identities" to {identities_path()}',
        )
    if trusted.trusted_root is None:
        _refuse(
            path,
            "bundle is signed keyless (Sigstore), but no trusted root is set",
            f'set "trusted_root" in {identities_path()} (a trusted_root.json, or '
            '"sigstore-production")',
        )
    try:
        return verify_bundle_payload(data, trusted.identities, trusted.trusted_root)
    except KeylessError as exc:
        _refuse(path, str(exc))


def payload_of(path: str, data: bytes) -> bytes:
    """The payload inside keyless bundle bytes, without checking anything (memo hits only).

    Used only for bytes whose digest a memo proved verified: standard library only.
    """
    from nonoc.launch.jsondata import loads
    from nonoc.launch.verify import b64decode

    try:
        envelope: Any = loads(data)
        statement: Any = loads(b64decode(envelope["dsseEnvelope"]["payload"]))
        return b64decode(statement["predicate"]["payload"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        _refuse(path, "not a nono bundle: no payload in the Sigstore bundle")
