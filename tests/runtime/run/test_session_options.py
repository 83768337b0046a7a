"""Session flags (rollback, audit, trust) into ``SessionOptions``, and the hooks they choose."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from nonoc.errors import UsageError
from nonoc.runtime.flags import parse
from nonoc.runtime.run.hooks import audit_hook, policy_summary, rollback_hook, trust_hook
from nonoc.runtime.run.options import session_options


def options_of(*argv: str) -> Any:
    request = parse([*argv, "--", "true"])
    assert request is not None
    return session_options(request)


def test_session_flags_are_not_policy() -> None:
    request = parse(["--allow", ".", "--rollback", "--rollback-exclude", "*.log", "--", "x"])
    assert request is not None
    assert request.policy == [("--allow", ".")]
    assert request.session == [("--rollback", ""), ("--rollback-exclude", "*.log")]


def test_defaults_and_values() -> None:
    options = options_of()
    assert options.rollback is None and options.audit and not options.audit_sign
    assert options.trust_policy is None
    options = options_of(
        "--rollback",
        "--rollback-include",
        "dist",
        "--rollback-include",
        "./node_modules/fork",
        "--rollback-exclude",
        "*.log",
        "--no-audit",
        "--trust-policy",
        "p.json",
    )
    assert options.rollback is True and not options.audit
    assert options.rollback_include == ("dist", "./node_modules/fork")
    assert options.rollback_exclude == ("*.log",)
    assert options.trust_policy == "p.json"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rollback", "--no-rollback"], "--rollback and --no-rollback contradict"),
        (["--no-audit", "--audit-sign"], "--no-audit and --audit-sign contradict"),
        (["--no-rollback", "--rollback-include", "x"], "--rollback-include has no effect"),
        (["--trust-policy", "a", "--trust-policy", "b"], "--trust-policy given twice (a, b)"),
        (["--rollback-exclude", " "], "--rollback-exclude needs a value"),
    ],
)
def test_contradictions_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        options_of(*argv)


def payload_with(rollback: bool | None) -> dict[str, Any]:
    return {
        "manifest": {"profile": "p"},
        "linux": {"launch": {"rollback": rollback}, "landlock": {}},
    }


@pytest.mark.parametrize(
    ("argv", "profile", "wanted"),
    [
        ([], None, False),
        ([], True, True),
        ([], False, False),
        (["--rollback"], None, True),
        (["--rollback"], False, True),
        (["--no-rollback"], True, False),
    ],
)
def test_rollback_flag_wins_over_the_profile(
    argv: list[str], profile: bool | None, wanted: bool
) -> None:
    assert options_of(*argv).rollback_wanted(payload_with(profile)) is wanted


def test_rollback_off_with_patterns_warns_and_installs_nothing() -> None:
    out = io.StringIO()
    assert (
        rollback_hook(
            options_of("--rollback-exclude", "*.log"), payload_with(None), None, stream=out
        )
        is None
    )
    assert "have no effect: rollback is off" in out.getvalue()


def test_rollback_without_a_tree_of_the_users_says_so() -> None:
    out = io.StringIO()
    assert rollback_hook(options_of("--rollback"), payload_with(None), None, stream=out) is None
    assert "no writable tree of yours to snapshot" in out.getvalue()


def test_no_audit_means_no_audit_hook() -> None:
    assert audit_hook(options_of("--no-audit"), payload_with(None)) is None
    hook = audit_hook(options_of(), payload_with(None))
    assert hook is not None and hook.fields["profile"] == "p"


def test_trust_hook_only_when_a_policy_is_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    work = tmp_path / "work"
    work.mkdir()
    assert trust_hook(options_of(), None, str(work)) is None
    assert trust_hook(options_of("--trust-policy", "x.json"), None, str(work)) is not None
    (work / ".nono-trust.json").write_text("{}")
    assert trust_hook(options_of(), None, str(work)) is not None
    (work / ".nono-trust.json").unlink()
    (tmp_path / "config" / "nono").mkdir(parents=True)
    (tmp_path / "config" / "nono" / "trust-policy.json").write_text("{}")
    assert trust_hook(options_of(), None, str(work)) is not None


def test_policy_file_names_match_the_trust_package() -> None:
    from nonoc.runtime.run import instructions
    from nonoc.runtime.trust import policy

    assert instructions.USER_POLICY_NAME == policy.USER_POLICY_NAME
    assert instructions.PROJECT_POLICY_NAME == policy.PROJECT_POLICY_NAME


def test_policy_summary_counts_rules() -> None:
    payload = {
        "manifest": {"profile": "p", "sources": {"a.nono": "00"}},
        "linux": {
            "landlock": {"rules": [{}, {}], "denies": [{}], "net": [{"port": 443}, {"port": 443}]},
            "launch": {"network": "proxy"},
            "seccomp": {"program": "x"},
        },
    }
    assert policy_summary(payload, "d") == {
        "digest": "d",
        "profile": "p",
        "sources": {"a.nono": "00"},
        "grants": 2,
        "denies": 1,
        "ports": [443],
        "network": "proxy",
        "seccomp": True,
    }
