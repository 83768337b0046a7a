"""The signed claim about one instruction file: an in-toto Statement v1.

The statement names the file (subject: base name and SHA-256 of its bytes) and carries our
own predicate saying who signed it, when, and under which trust policy. Its bytes are
canonical JSON (sorted keys, compact separators), so the same claim always signs the same
bytes. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://nono.dev/attestation/instruction-file/v1"
#: The DSSE payload type of an in-toto statement (what Sigstore's DSSE signing uses too).
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class StatementError(ValueError):
    """The payload is not an instruction-file statement we can read."""


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace: the bytes we sign and digest."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC to the second (``2025-01-31T12:00:00Z``)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: signing times must carry a time zone")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Read a time written by :func:`format_time` (or any RFC 3339 time with an offset)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StatementError(f"signedAt {text!r} is not an RFC 3339 time") from exc
    if moment.tzinfo is None:
        raise StatementError(f"signedAt {text!r} has no time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Signer:
    """Who signed, as recorded in the predicate.

    ``kind`` is ``"key"`` (``name`` and ``keyid`` set) or ``"keyless"`` (``identity`` and
    ``issuer`` set: the OIDC identity Fulcio certified).
    """

    kind: str
    name: str | None = None
    keyid: str | None = None
    identity: str | None = None
    issuer: str | None = None

    def to_json(self) -> dict[str, str]:
        """The predicate's ``signer`` object (absent fields left out)."""
        fields = {
            "kind": self.kind,
            "name": self.name,
            "keyid": self.keyid,
            "identity": self.identity,
            "issuer": self.issuer,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def describe(self) -> str:
        """A short human description: ``key 'alice' (1a2b3c4d…)`` or ``alice@example.com``."""
        if self.kind == "key":
            short = (self.keyid or "")[:16]
            return f"key '{self.name}' ({short})" if self.name else f"key {short}"
        return f"{self.identity} (issuer {self.issuer})"


@dataclass(frozen=True)
class Statement:
    """A parsed instruction-file statement."""

    subject_name: str
    subject_sha256: str
    signer: Signer
    signed_at: datetime
    policy_sha256: str
    policy_source: str
    raw: bytes

    @property
    def signed_at_text(self) -> str:
        """``signed_at`` as written in the statement."""
        return format_time(self.signed_at)


def build_statement(
    *,
    name: str,
    content: bytes,
    signer: Signer,
    signed_at: datetime,
    policy_sha256: str,
    policy_source: str,
    tool: str,
) -> bytes:
    """The canonical bytes of a statement about the file ``name`` holding ``content``."""
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": sha256_hex(content)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "signer": signer.to_json(),
            "signedAt": format_time(signed_at),
            "policy": {"digest": {"sha256": policy_sha256}, "source": policy_source},
            "tool": tool,
        },
    }
    return canonical_json(statement)


def parse_statement(raw: bytes) -> Statement:
    """Read and check the shape of a statement; raise :class:`StatementError` if it is not ours."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StatementError(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("_type") != STATEMENT_TYPE:
        raise StatementError("payload is not an in-toto Statement v1")
    if data.get("predicateType") != PREDICATE_TYPE:
        raise StatementError(
            f"predicate type is {data.get('predicateType')!r}, not {PREDICATE_TYPE!r}"
        )
    subjects = data.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise StatementError("statement must name exactly one subject")
    subject = subjects[0]
    digest = subject.get("digest")
    name = subject.get("name")
    if not isinstance(name, str) or not isinstance(digest, dict):
        raise StatementError("subject needs a name and a digest")
    sha = digest.get("sha256")
    if not isinstance(sha, str) or len(sha) != 64:
        raise StatementError("subject has no SHA-256 digest")
    predicate = data.get("predicate")
    if not isinstance(predicate, dict):
        raise StatementError("statement has no predicate")
    signer_json = predicate.get("signer")
    if not isinstance(signer_json, dict) or signer_json.get("kind") not in ("key", "keyless"):
        raise StatementError("predicate names no signer")
    signer = Signer(
        kind=signer_json["kind"],
        name=_optional_str(signer_json, "name"),
        keyid=_optional_str(signer_json, "keyid"),
        identity=_optional_str(signer_json, "identity"),
        issuer=_optional_str(signer_json, "issuer"),
    )
    signed_at_text = predicate.get("signedAt")
    if not isinstance(signed_at_text, str):
        raise StatementError("predicate has no signedAt")
    policy = predicate.get("policy")
    policy_sha = ""
    policy_source = ""
    if isinstance(policy, dict):
        policy_digest = policy.get("digest")
        if isinstance(policy_digest, dict) and isinstance(policy_digest.get("sha256"), str):
            policy_sha = policy_digest["sha256"]
        if isinstance(policy.get("source"), str):
            policy_source = policy["source"]
    return Statement(
        subject_name=name,
        subject_sha256=sha.lower(),
        signer=signer,
        signed_at=parse_time(signed_at_text),
        policy_sha256=policy_sha,
        policy_source=policy_source,
        raw=raw,
    )


def _optional_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise StatementError(f"signer field {key!r} is not a string")
    return value
