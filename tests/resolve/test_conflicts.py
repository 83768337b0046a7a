"""Grants against denies, decided by path component; assertions."""

from __future__ import annotations

from nonoc import ir
from tests.resolve.conftest import error, own_grants, resolution


def test_a_grant_equal_to_a_deny_is_an_error_naming_both() -> None:
    e = error('profile p {\n  read "~/.ssh"\n  deny "~/.ssh/"\n}')
    message = e.diagnostic.message
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:2:3"
    assert "$HOME/.ssh is both granted (read, p.nono:2:3) and denied (p.nono:3:3)" in message


def test_equal_across_files_and_spellings() -> None:
    e = error('group g { deny "$HOME/.aws" }\nprofile p {\n  use g\n  allow "~/.aws"\n}')
    assert "p.nono:4:3" in e.diagnostic.message and "p.nono:1:11" in e.diagnostic.message


def test_a_grant_inside_a_deny_is_dropped_with_a_warning() -> None:
    result = resolution('profile p {\n  deny "~/.ssh"\n  read file "~/.ssh/known_hosts"\n}')
    assert ("$HOME/.ssh/known_hosts", "file", "read") not in own_grants(result.policy)
    (warning,) = result.diagnostics
    assert warning.severity == "warning"
    assert warning.span is not None and warning.span.location() == "p.nono:3:3"
    assert "inside the deny of $HOME/.ssh (p.nono:2:3)" in warning.message


def test_component_comparison_is_not_a_string_prefix() -> None:
    result = resolution('profile p { deny "~/.ssh" read "~/.sshfoo" }')
    assert result.diagnostics == []
    assert ("$HOME/.sshfoo", "tree", "read") in own_grants(result.policy)


def test_a_deny_inside_a_grant_is_kept_under_split() -> None:
    result = resolution('profile p { read "$CWD" deny "$CWD/private" }')
    assert result.diagnostics == []
    assert ("$CWD", "tree", "read") in own_grants(result.policy)
    assert "$CWD/private" in {d.path for d in result.policy.denies}
    assert result.policy.deny_strategy is ir.DenyStrategy.SPLIT


def test_a_deny_inside_a_grant_is_an_error_under_refuse() -> None:
    e = error('profile p {\n  deny_inside_allow refuse\n  read "$CWD"\n  deny "$CWD/private"\n}')
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:4:3"
    assert (
        "deny of $CWD/private (p.nono:4:3) lies inside the grant of $CWD (p.nono:3:3)"
        in e.diagnostic.message
    )


def test_refuse_leaves_host_dependent_cases_to_the_launcher() -> None:
    # $HOME against /home: only the host knows whether one is under the other.
    result = resolution('profile p { deny_inside_allow refuse read "/home" deny "~/.ssh" }')
    assert result.diagnostics == []


def test_a_file_grant_of_a_denied_tree_path_is_dropped() -> None:
    result = resolution('profile p { deny "/srv/x" read file "/srv/x" }')
    assert ("/srv/x", "file", "read") not in own_grants(result.policy)
    assert len(result.diagnostics) == 1


def test_assertion_holds() -> None:
    result = resolution(
        'profile p { read "~/.ssh/config" deny "~/.ssh" assert never write "~/.ssh" }'
    )
    assert result.policy.assertions


def test_assertion_holds_when_a_deny_covers_it_inside_a_grant() -> None:
    result = resolution('profile p { allow "~" deny "~/.ssh" assert never write "~/.ssh" }')
    assert [a.path for a in result.policy.assertions] == ["$HOME/.ssh"]


def test_assertion_fails_on_a_covering_grant() -> None:
    e = error('profile p {\n  allow "~"\n  assert never write "~/.ssh"\n}')
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:3:3"
    assert (
        "assertion failed: never write $HOME/.ssh, but p.nono:2:3 grants write on $HOME"
        in e.diagnostic.message
    )


def test_assertion_fails_on_a_grant_inside() -> None:
    e = error(
        'profile p {\n  write file "~/.ssh/authorized_keys"\n  assert never write "~/.ssh"\n}'
    )
    assert "grants write on $HOME/.ssh/authorized_keys" in e.diagnostic.message
