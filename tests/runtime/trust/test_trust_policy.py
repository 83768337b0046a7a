"""Trust policy files: parsing, errors with positions, and the user/project merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trust_helpers import make_key

from nonoc.runtime.trust.keys import public_pem
from nonoc.runtime.trust.policy import (
    IdentityRule,
    PolicyError,
    load_policy,
    read_policy_file,
    user_policy_path,
)


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def test_no_policy_anywhere_is_audit_and_trusts_nobody(work: Path) -> None:
    policy = load_policy(work)
    assert policy.on_failure == "audit"
    assert policy.keys == () and policy.identities == ()
    assert policy.source_label() == "built-in default"


def test_user_policy_with_keys_and_identities(work: Path) -> None:
    alice, bob = make_key("alice"), make_key("bob", "p256")
    pub = work.parent / "bob.pub"
    pub.write_bytes(public_pem(bob.public_key))
    write_json(
        user_policy_path(),
        {
            "version": 1,
            "on_failure": "deny",
            "max_age_days": 30,
            "keys": [
                {"name": "alice", "public_key": public_pem(alice.public_key).decode()},
                {"name": "bob", "public_key_file": str(pub)},
            ],
            "identities": [
                {
                    "issuer": "https://token.actions.githubusercontent.com",
                    "identity": "https://github.com/o/r/.github/workflows/sign.yml@refs/heads/main",
                },
                {"issuer": "https://accounts.google.com", "identity_regex": ".*@example\\.com"},
            ],
            "trusted_root": "root.json",
            "files": ["GEMINI.md"],
        },
    )
    policy = load_policy(work)
    assert policy.on_failure == "deny"
    assert policy.max_age_days == 30
    assert [k.keyid for k in policy.keys] == [alice.keyid, bob.keyid]
    assert policy.trusted_root == str(user_policy_path().parent / "root.json")
    assert "GEMINI.md" in policy.file_names and "CLAUDE.md" in policy.file_names
    assert policy.sources == (str(user_policy_path()),)


def test_identity_regex_must_match_the_whole_identity() -> None:
    rule = IdentityRule("https://accounts.google.com", identity_regex=".*@example\\.com")
    assert rule.matches("dev@example.com", "https://accounts.google.com")
    assert not rule.matches("dev@example.com.evil.org", "https://accounts.google.com")
    assert not rule.matches("dev@example.com", "https://evil.example")
    exact = IdentityRule("https://iss", identity="a@b.c")
    assert exact.matches("a@b.c", "https://iss") and not exact.matches("a@b.cc", "https://iss")


def test_the_digest_follows_meaning_not_formatting(tmp_path: Path) -> None:
    key = make_key()
    data = {
        "on_failure": "warn",
        "keys": [{"name": "k", "public_key": public_pem(key.public_key).decode()}],
    }
    compact = tmp_path / "a.json"
    compact.write_text(json.dumps(data))
    spaced = write_json(tmp_path / "b.json", data)
    assert read_policy_file(compact).digest() == read_policy_file(spaced).digest()
    changed = write_json(tmp_path / "c.json", {**data, "on_failure": "deny"})
    assert read_policy_file(changed).digest() != read_policy_file(spaced).digest()


@pytest.mark.parametrize(
    "text, message, position",
    [
        (
            '{"on_failure": "deny",\n "keyz": []}\n',
            "unknown field 'keyz' (did you mean 'keys'?)",
            ":2:2",
        ),
        ('{"on_failure": "never"}\n', 'on_failure must be "deny", "warn" or "audit"', ":1:2"),
        ('{"max_age_days": 0}\n', "max_age_days must be a whole number of at least 1", ":1:2"),
        (
            '{"identities": [{"issuer": "x", "identity_regex": "("}]}\n',
            "identity_regex does not compile",
            ":1:33",
        ),
        (
            '{"identities": [{"issuer": "x"}]}\n',
            'exactly one of "identity" and "identity_regex"',
            ":1:2",
        ),
        (
            '{"keys": [{"name": "k", "public_key": "nope"}]}\n',
            "key 'k': not a PEM public key",
            ":1:25",
        ),
        ('{"on_failure": "deny",,}\n', "invalid JSON", ":1:23"),
        ('{"version": 2}\n', "unsupported trust policy version", ":1:2"),
    ],
)
def test_bad_policies_are_reported_with_a_position(
    tmp_path: Path, text: str, message: str, position: str
) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text)
    with pytest.raises(PolicyError) as caught:
        read_policy_file(path)
    headline = caught.value.diagnostic.headline()
    assert message in headline
    assert headline.startswith(str(path) + position)


def test_project_policy_can_only_tighten_by_default(work: Path) -> None:
    alice, mallory = make_key("alice"), make_key("mallory")
    write_json(
        user_policy_path(),
        {
            "on_failure": "warn",
            "max_age_days": 90,
            "keys": [{"name": "alice", "public_key": public_pem(alice.public_key).decode()}],
        },
    )
    write_json(
        work / ".nono-trust.json",
        {
            "on_failure": "deny",
            "max_age_days": 7,
            "files": ["RULES.md"],
            "keys": [{"name": "mallory", "public_key": public_pem(mallory.public_key).decode()}],
        },
    )
    policy = load_policy(work)
    assert policy.on_failure == "deny"
    assert policy.max_age_days == 7
    assert "RULES.md" in policy.file_names
    assert [k.name for k in policy.keys] == ["alice"], "a project cannot add whom to trust"
    assert any("keys ignored" in note for note in policy.notes)


def test_project_policy_cannot_loosen(work: Path) -> None:
    write_json(user_policy_path(), {"on_failure": "deny", "max_age_days": 7})
    write_json(work / ".nono-trust.json", {"on_failure": "audit", "max_age_days": 365})
    policy = load_policy(work)
    assert policy.on_failure == "deny"
    assert policy.max_age_days == 7


def test_project_trust_anchors_count_when_the_user_allows(work: Path) -> None:
    team = make_key("team")
    write_json(user_policy_path(), {"project_policy": "trust"})
    write_json(
        work / ".nono-trust.json",
        {
            "keys": [{"name": "team", "public_key": public_pem(team.public_key).decode()}],
        },
    )
    assert [k.name for k in load_policy(work).keys] == ["team"]


def test_project_policy_can_be_ignored(work: Path) -> None:
    write_json(user_policy_path(), {"project_policy": "ignore", "on_failure": "warn"})
    write_json(work / ".nono-trust.json", {"on_failure": "deny"})
    assert load_policy(work).on_failure == "warn"


def test_explicit_policy_replaces_the_users(work: Path, tmp_path: Path) -> None:
    write_json(user_policy_path(), {"on_failure": "warn"})
    explicit = write_json(tmp_path / "ci-policy.json", {"on_failure": "deny"})
    assert load_policy(work, explicit).on_failure == "deny"
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(work, tmp_path / "missing.json")
