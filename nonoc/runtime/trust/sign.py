"""Signing instruction files: a statement per file, wrapped and written next to it.

Every file is read and every signature computed before anything is written, so a bad
argument leaves no half-signed set behind. The signed files themselves are only read;
each signature file is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from nonoc import __version__
from nonoc.errors import NonoError
from nonoc.runtime.trust.envelope import keyed_bundle_bytes, sign_envelope
from nonoc.runtime.trust.files import atomic_write, is_signature_file, signature_path
from nonoc.runtime.trust.keys import SigningKey
from nonoc.runtime.trust.policy import TrustPolicy
from nonoc.runtime.trust.statement import INTOTO_PAYLOAD_TYPE, Signer, build_statement

TOOL = f"nono {__version__}"


@dataclass(frozen=True)
class KeylessSigning:
    """How to sign keylessly: an identity token (raw JWT or None) and where Sigstore is."""

    token: str | None = None
    trust_config: Path | None = None
    staging: bool = False


def _read_targets(paths: Sequence[Path]) -> list[tuple[Path, bytes]]:
    targets = []
    for path in paths:
        if is_signature_file(path):
            raise NonoError(f"{path}: is a signature file; sign the file it belongs to")
        if not path.is_file():
            raise NonoError(f"{path}: no such file")
        try:
            targets.append((path, path.read_bytes()))
        except OSError as exc:
            raise NonoError(f"{path}: cannot read: {exc.strerror}") from exc
    return targets


def sign_files(
    paths: Sequence[Path],
    policy: TrustPolicy,
    *,
    key: SigningKey | None = None,
    keyless: KeylessSigning | None = None,
    now: datetime | None = None,
) -> list[Path]:
    """Sign each of ``paths`` with ``key`` or keylessly; return the signature files written."""
    if (key is None) == (keyless is None):
        raise NonoError("choose one way to sign: a key or keyless")
    moment = now if now is not None else datetime.now(UTC)
    targets = _read_targets(paths)
    policy_sha = policy.digest()
    source = policy.source_label()
    outputs: list[bytes]
    if key is not None:
        signer = Signer(kind="key", name=key.name, keyid=key.keyid)
        outputs = []
        for path, content in targets:
            statement = build_statement(
                name=path.name,
                content=content,
                signer=signer,
                signed_at=moment,
                policy_sha256=policy_sha,
                policy_source=source,
                tool=TOOL,
            )
            envelope = sign_envelope(key.private_key, INTOTO_PAYLOAD_TYPE, statement, key.keyid)
            outputs.append(keyed_bundle_bytes(envelope))
    else:
        assert keyless is not None
        from nonoc.runtime.trust import keyless as sigstore_signing

        token = sigstore_signing.identity_token(keyless.token)
        identity, issuer = sigstore_signing.token_identity(token)
        signer = Signer(kind="keyless", identity=identity, issuer=issuer)
        statements = [
            build_statement(
                name=path.name,
                content=content,
                signer=signer,
                signed_at=moment,
                policy_sha256=policy_sha,
                policy_source=source,
                tool=TOOL,
            )
            for path, content in targets
        ]
        outputs = sigstore_signing.sign_statements(
            statements, token, trust_config=keyless.trust_config, staging=keyless.staging
        )
    written = []
    for (path, _), data in zip(targets, outputs, strict=True):
        destination = signature_path(path)
        atomic_write(destination, data)
        written.append(destination)
    return written
