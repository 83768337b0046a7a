"""The trust policy: whom to trust for instruction files, and what a failure does.

The user's policy (``$XDG_CONFIG_HOME/nono/trust-policy.json``, or a file given with
``--policy``) is the trust anchor. A project may carry ``.nono-trust.json`` at the top of
its working tree; since whoever can change the project can change that file, by default it
may only make things stricter (a harsher ``on_failure``, a shorter ``max_age_days``, more
file names to check). Its keys and identities count only when the user's policy says
``"project_policy": "trust"``. With no policy anywhere, failures are recorded (``audit``)
and nothing is refused.

Policy files are JSON::

    {"version": 1,
     "on_failure": "deny",                     # deny | warn | audit
     "max_age_days": 90,                       # signed within N days (optional)
     "keys": [{"name": "alice", "public_key_file": "keys/alice.pub"},
              {"name": "bob", "public_key": "-----BEGIN PUBLIC KEY-----\\n..."}],
     "identities": [{"issuer": "https://token.actions.githubusercontent.com",
                     "identity": "https://github.com/o/r/.github/workflows/sign.yml@refs/heads/main"},
                    {"issuer": "https://accounts.google.com", "identity_regex": ".*@example\\\\.com"}],
     "trusted_root": "trusted_root.json",      # or "sigstore-production" / "sigstore-staging"
     "files": ["GEMINI.md"],                   # extra instruction-file names
     "scripts": true,                          # also check scripts the files name
     "max_depth": 8, "max_entries": 50000,     # bounds of the working-tree walk
     "project_policy": "tighten"}              # tighten | trust | ignore
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, cast

from nonoc.errors import NonoError, Span
from nonoc.runtime.trust.envelope import PublicKey
from nonoc.runtime.trust.files import config_dir
from nonoc.runtime.trust.keys import TrustKeyError, keyid, load_public_pem
from nonoc.runtime.trust.statement import canonical_json, sha256_hex

OnFailure = Literal["deny", "warn", "audit"]
ProjectPolicy = Literal["tighten", "trust", "ignore"]
ON_FAILURE: tuple[OnFailure, ...] = ("audit", "warn", "deny")  # in order of strictness
USER_POLICY_NAME = "trust-policy.json"
PROJECT_POLICY_NAME = ".nono-trust.json"
#: Instruction files agents read on their own (matched case-insensitively).
DEFAULT_FILE_NAMES: tuple[str, ...] = (
    "AGENT.md",
    "AGENTS.md",
    "CLAUDE.md",
    "CLAUDE.local.md",
    "SKILL.md",
    "SKILLS.md",
)
_FIELDS = frozenset(
    {
        "version",
        "on_failure",
        "max_age_days",
        "keys",
        "identities",
        "trusted_root",
        "files",
        "scripts",
        "max_depth",
        "max_entries",
        "project_policy",
    }
)


class PolicyError(NonoError):
    """A trust policy file that cannot be used (exit code 1)."""


@dataclass(frozen=True)
class TrustedKey:
    """A public key the policy trusts, under a name for messages."""

    name: str
    public_key: PublicKey
    keyid: str


@dataclass(frozen=True)
class IdentityRule:
    """A keyless signer the policy trusts: an OIDC issuer and an identity.

    ``identity`` must equal the certificate's identity (its e-mail, URI or other name);
    ``identity_regex`` must match all of it (``re.fullmatch``: a pattern cannot be
    satisfied by a prefix or a suffix of a longer, foreign identity).
    """

    issuer: str
    identity: str | None = None
    identity_regex: str | None = None

    def matches(self, identity: str, issuer: str) -> bool:
        """Whether a certificate with this identity and issuer satisfies the rule."""
        if issuer != self.issuer:
            return False
        if self.identity is not None:
            return identity == self.identity
        if self.identity_regex is not None:
            return re.fullmatch(self.identity_regex, identity) is not None
        return False

    def describe(self) -> str:
        """``identity (issuer)`` as the policy wrote it."""
        who = self.identity if self.identity is not None else f"/{self.identity_regex}/"
        return f"{who} (issuer {self.issuer})"

    def to_json(self) -> dict[str, str]:
        """The rule as written in a policy file."""
        data = {"issuer": self.issuer}
        if self.identity is not None:
            data["identity"] = self.identity
        if self.identity_regex is not None:
            data["identity_regex"] = self.identity_regex
        return data


@dataclass(frozen=True)
class TrustPolicy:
    """The effective trust policy, after merging the user's and the project's files."""

    on_failure: OnFailure = "audit"
    max_age_days: int | None = None
    keys: tuple[TrustedKey, ...] = ()
    identities: tuple[IdentityRule, ...] = ()
    trusted_root: str | None = None
    file_names: tuple[str, ...] = DEFAULT_FILE_NAMES
    scripts: bool = True
    max_depth: int = 8
    max_entries: int = 50_000
    project_policy: ProjectPolicy = "tighten"
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    def digest(self) -> str:
        """SHA-256 of the policy's meaning (not its formatting): recorded in signatures."""
        return sha256_hex(canonical_json(self.to_json()))

    def source_label(self) -> str:
        """Where the policy came from, for the signature predicate and messages."""
        return " + ".join(self.sources) if self.sources else "built-in default"

    def key_by_id(self, wanted: str) -> TrustedKey | None:
        """The trusted key with id ``wanted``, if any."""
        for key in self.keys:
            if key.keyid == wanted:
                return key
        return None

    def to_json(self) -> dict[str, Any]:
        """The policy's meaning as JSON: keys by name and id (their PEM text is formatting)."""
        return {
            "on_failure": self.on_failure,
            "max_age_days": self.max_age_days,
            "keys": sorted(
                ({"name": k.name, "keyid": k.keyid} for k in self.keys),
                key=lambda k: (k["keyid"], k["name"]),
            ),
            "identities": [rule.to_json() for rule in self.identities],
            "trusted_root": self.trusted_root,
            "files": sorted(self.file_names),
            "scripts": self.scripts,
            "max_depth": self.max_depth,
            "max_entries": self.max_entries,
            "project_policy": self.project_policy,
        }


def user_policy_path() -> Path:
    """``$XDG_CONFIG_HOME/nono/trust-policy.json``."""
    return config_dir() / USER_POLICY_NAME


def load_policy(cwd: Path | None = None, explicit: Path | None = None) -> TrustPolicy:
    """The effective policy for a working tree at ``cwd``.

    ``explicit`` (``--policy FILE``) replaces the user's policy file; it must exist. The
    project's ``.nono-trust.json`` in ``cwd`` is then merged as the user's policy allows.
    """
    if explicit is not None:
        if not explicit.is_file():
            raise PolicyError(f"trust policy {explicit} does not exist")
        policy = _from_file(explicit, TrustPolicy())
    elif user_policy_path().is_file():
        policy = _from_file(user_policy_path(), TrustPolicy())
    else:
        policy = TrustPolicy()
    if cwd is not None:
        project = cwd / PROJECT_POLICY_NAME
        if project.is_file():
            policy = _merge_project(policy, project)
    return policy


def read_policy_file(path: Path) -> TrustPolicy:
    """A single policy file on its own (no project merge)."""
    return _from_file(path, TrustPolicy())


def _from_file(path: Path, base: TrustPolicy) -> TrustPolicy:
    data, text = _read_json(path)
    fields = _parse_fields(data, path, text)
    merged = replace(base, sources=(*base.sources, str(path)))
    return replace(merged, **fields)


def _merge_project(policy: TrustPolicy, path: Path) -> TrustPolicy:
    label = str(path)
    if policy.project_policy == "ignore":
        return replace(
            policy, notes=(*policy.notes, f"{label}: ignored (project_policy is ignore)")
        )
    data, text = _read_json(path)
    fields = _parse_fields(data, path, text)
    notes = list(policy.notes)
    changes: dict[str, Any] = {}
    if "on_failure" in fields:
        stricter = max(policy.on_failure, fields["on_failure"], key=ON_FAILURE.index)
        changes["on_failure"] = stricter
    if fields.get("max_age_days") is not None:
        ages = [a for a in (policy.max_age_days, fields["max_age_days"]) if a is not None]
        changes["max_age_days"] = min(ages)
    if "file_names" in fields:
        changes["file_names"] = tuple(dict.fromkeys((*policy.file_names, *fields["file_names"])))
    if fields.get("scripts"):
        changes["scripts"] = True
    anchors = [name for name in ("keys", "identities", "trusted_root") if name in fields]
    if policy.project_policy == "trust":
        if "keys" in fields:
            changes["keys"] = (*policy.keys, *fields["keys"])
        if "identities" in fields:
            changes["identities"] = (*policy.identities, *fields["identities"])
        if "trusted_root" in fields and policy.trusted_root is None:
            changes["trusted_root"] = fields["trusted_root"]
    elif anchors:
        notes.append(
            f"{label}: {', '.join(anchors)} ignored: only the user's policy may name whom to "
            'trust (set "project_policy": "trust" there to allow it)'
        )
    return replace(policy, **changes, sources=(*policy.sources, label), notes=tuple(notes))


def _read_json(path: Path) -> tuple[Any, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read trust policy {path}: {exc}") from exc
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        line_text = text.splitlines()[exc.lineno - 1] if text.splitlines() else ""
        span = Span(str(path), exc.lineno, exc.colno, source_line=line_text)
        raise PolicyError(f"invalid JSON: {exc.msg}", span) from exc


def _span_of(path: Path, text: str, key: str) -> Span:
    """Best-effort position of ``"key"`` in the file, for messages about a field."""
    needle = json.dumps(key)
    offset = text.find(needle)
    if offset < 0:
        return Span(str(path))
    line = text.count("\n", 0, offset) + 1
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    source = text[start : end if end >= 0 else len(text)]
    return Span(str(path), line, offset - start + 1, offset - start + 1 + len(needle), source)


def _parse_fields(data: Any, path: Path, text: str) -> dict[str, Any]:
    def fail(message: str, key: str = "") -> PolicyError:
        return PolicyError(message, _span_of(path, text, key) if key else Span(str(path)))

    if not isinstance(data, dict):
        raise fail("a trust policy is a JSON object")
    for name in data:
        if name not in _FIELDS:
            from nonoc.errors import did_you_mean

            raise fail(f"unknown field '{name}'{did_you_mean(name, _FIELDS)}", name)
    if data.get("version", 1) != 1:
        raise fail("unsupported trust policy version (this nono reads version 1)", "version")
    fields: dict[str, Any] = {}
    if "on_failure" in data:
        if data["on_failure"] not in ON_FAILURE:
            raise fail('on_failure must be "deny", "warn" or "audit"', "on_failure")
        fields["on_failure"] = data["on_failure"]
    if "project_policy" in data:
        if data["project_policy"] not in ("tighten", "trust", "ignore"):
            raise fail('project_policy must be "tighten", "trust" or "ignore"', "project_policy")
        fields["project_policy"] = cast(ProjectPolicy, data["project_policy"])
    for name, low in (("max_age_days", 1), ("max_depth", 1), ("max_entries", 1)):
        if name in data and data[name] is not None:
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise fail(f"{name} must be a whole number of at least {low}", name)
            fields[name] = value
    if "scripts" in data:
        if not isinstance(data["scripts"], bool):
            raise fail("scripts must be true or false", "scripts")
        fields["scripts"] = data["scripts"]
    if "files" in data:
        names = data["files"]
        if not isinstance(names, list) or not all(
            isinstance(n, str) and n and "/" not in n for n in names
        ):
            raise fail("files must be a list of file names (no '/')", "files")
        fields["file_names"] = tuple(dict.fromkeys((*DEFAULT_FILE_NAMES, *names)))
    if "keys" in data:
        fields["keys"] = tuple(_parse_key(entry, path, fail) for entry in _list(data, "keys", fail))
    if "identities" in data:
        fields["identities"] = tuple(
            _parse_identity(entry, fail) for entry in _list(data, "identities", fail)
        )
    if "trusted_root" in data:
        root = data["trusted_root"]
        if not isinstance(root, str) or not root:
            raise fail('trusted_root must be a file path or "sigstore-production"', "trusted_root")
        if root not in ("sigstore-production", "sigstore-staging"):
            root = str((path.parent / Path(root).expanduser()).resolve())
        fields["trusted_root"] = root
    return fields


def _list(data: dict[str, Any], name: str, fail: Any) -> list[Any]:
    value = data[name]
    if not isinstance(value, list):
        raise fail(f"{name} must be a list", name)
    return value


def _parse_key(entry: Any, path: Path, fail: Any) -> TrustedKey:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise fail('each key needs a "name" and a "public_key" or "public_key_file"', "keys")
    name = entry["name"]
    unknown = set(entry) - {"name", "public_key", "public_key_file"}
    if unknown:
        raise fail(f"key '{name}': unknown field '{sorted(unknown)[0]}'", sorted(unknown)[0])
    if isinstance(entry.get("public_key"), str):
        pem = entry["public_key"].encode("ascii", "replace")
        origin = f"{path}: key '{name}'"
    elif isinstance(entry.get("public_key_file"), str):
        key_path = path.parent / Path(entry["public_key_file"]).expanduser()
        try:
            pem = key_path.read_bytes()
        except OSError as exc:
            raise fail(
                f"key '{name}': cannot read {key_path}: {exc.strerror}", "public_key_file"
            ) from exc
        origin = str(key_path)
    else:
        raise fail(f'key \'{name}\' needs "public_key" or "public_key_file"', name)
    try:
        public_key = load_public_pem(pem, origin)
    except TrustKeyError as exc:
        field_name = "public_key" if "public_key" in entry else "public_key_file"
        raise fail(
            f"key '{name}': {exc.diagnostic.message.rpartition(': ')[2]}", field_name
        ) from exc
    return TrustedKey(name, public_key, keyid(public_key))


def _parse_identity(entry: Any, fail: Any) -> IdentityRule:
    if not isinstance(entry, dict) or not isinstance(entry.get("issuer"), str):
        raise fail('each identity needs an "issuer"', "identities")
    unknown = set(entry) - {"issuer", "identity", "identity_regex"}
    if unknown:
        raise fail(f"identity: unknown field '{sorted(unknown)[0]}'", sorted(unknown)[0])
    exact = entry.get("identity")
    pattern = entry.get("identity_regex")
    if (exact is None) == (pattern is None):
        raise fail(
            'each identity needs exactly one of "identity" and "identity_regex"', "identities"
        )
    if exact is not None and not isinstance(exact, str):
        raise fail("identity must be a string", "identity")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise fail("identity_regex must be a string", "identity_regex")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise fail(f"identity_regex does not compile: {exc}", "identity_regex") from exc
    return IdentityRule(entry["issuer"], exact, pattern)
