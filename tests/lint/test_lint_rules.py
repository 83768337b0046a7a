"""Each lint rule of ``nonoc check`` fires where it should, and a clean profile gets nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.lint.lint_helpers import DATA, check, found, hermetic, where, write  # noqa: F401

CLEAN = """\
profile clean "Reads the project and the system's programs" {
  use programs, temp
  read "$CWD"
  network block
}
"""


def test_clean_profile_has_no_finding() -> None:
    report = check(write("clean.nono", CLEAN))
    assert [f.diagnostic.render() for f in report.findings] == []


# --------------------------------------------------------------------------- broad-grant


def test_broad_grants() -> None:
    name = write(
        "broad.nono",
        'profile p {\n  write "~"\n  read "/"\n  exec "/"\n  write "~/project"\n  read "/home"\n}\n',
    )
    hits = found(check(name), "broad-grant")
    messages = {(where(f)[1], f.diagnostic.message.split(" covers")[0]) for f in hits}
    assert messages == {
        (2, "write access to $HOME"),
        (3, "read access to /"),
        (4, "execute access to /"),
        (6, "read access to /home"),
    }
    assert all(f.severity == "warning" for f in hits)
    # The caret points at the path itself.
    assert where(next(f for f in hits if where(f)[1] == 2)) == ("broad.nono", 2, 9)


def test_write_to_the_config_home_is_broad() -> None:
    name = write("cfg.nono", 'profile p {\n  write "$XDG_CONFIG_HOME"\n}\n')
    (hit,) = found(check(name), "broad-grant")
    assert "nono's trusted keys" in hit.diagnostic.message


# --------------------------------------------------------------------------- unenforceable-deny


def test_deny_inside_a_granted_tree_is_split_at_launch() -> None:
    name = write(
        "split.nono",
        'profile p {\n  read "$CWD"\n  allow "$CWD/src"\n  deny "$CWD/src/secret", "$CWD/other"\n}\n',
    )
    hits = found(check(name), "unenforceable-deny")
    by_column = {where(f)[2]: f for f in hits}
    assert set(by_column) == {8, 27}  # at each denied path of line 4
    secret = by_column[8]
    assert where(secret) == ("split.nono", 4, 8)
    assert "lies inside granted tree $CWD, $CWD/src" in secret.diagnostic.message
    assert "split" in secret.diagnostic.message
    assert secret.targets == frozenset({"linux"})
    assert any("split.nono:2:3" in n for n in secret.diagnostic.notes)
    assert any("nothing new can be created" in n for n in secret.diagnostic.notes)


def test_library_deny_inside_a_user_grant_is_reported_at_the_grant() -> None:
    # ~/.ssh is denied by the (test) standard library's mandatory group.
    name = write("home.nono", 'profile p {\n  read "~"\n}\n')
    (hit,) = found(check(name), "unenforceable-deny")
    assert where(hit) == ("home.nono", 2, 8)
    assert "1 deny lies inside the grant of $HOME ($HOME/.ssh)" in hit.diagnostic.message
    assert any("stdlib/mini.nono:4:3" in n and "group keep_out" in n for n in hit.diagnostic.notes)


def test_deny_inside_a_grant_of_another_variable_is_judged_on_this_host(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    name = write("host.nono", f'profile p {{\n  read "{home}"\n  deny "~/.aws"\n}}\n')
    (hit,) = [
        f for f in found(check(name), "unenforceable-deny") if "$HOME/.aws" in f.diagnostic.message
    ]
    assert where(hit) == ("host.nono", 3, 8)
    assert any("(on this host)" in n for n in hit.diagnostic.notes)


def test_refuse_strategy_makes_it_an_error_not_a_warning() -> None:
    name = write(
        "refuse.nono",
        'profile p {\n  deny_inside_allow refuse\n  read "$CWD"\n  deny "$CWD/x"\n}\n',
    )
    report = check(name)
    assert found(report, "unenforceable-deny") == []
    errors = [f for f in report.findings if f.severity == "error"]
    assert errors and all(f.rule in ("policy-error", "backend-error") for f in errors)


def test_wildcard_is_an_error_and_protect_metadata_warns_on_linux() -> None:
    name = write("wild.nono", 'profile p {\n  deny "~/.config/*.key"\n}\n')
    errors = [f for f in check(name).findings if f.severity == "error"]
    assert (
        len(errors) == 1
        and "wildcards are not part of the language" in errors[0].diagnostic.message
    )
    assert where(errors[0])[1:] == (2, 19)  # the "*"
    name = write("meta.nono", "profile p {\n  protect metadata\n}\n")
    hits = found(check(name), "unenforceable-deny")
    assert (
        len(hits) == 1 and "only `nono run`'s supervisor enforces it" in hits[0].diagnostic.message
    )


# --------------------------------------------------------------------------- missing-path


@pytest.mark.skipif(sys.platform != "linux", reason="host paths are checked for the host's target")
def test_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "home" / "present").mkdir()
    name = write(
        "missing.nono",
        "profile p {\n"
        '  read "/nonexistent/a"\n'
        '  require read "/nonexistent/b"\n'
        '  read "$CWD/not-here"\n'
        '  read "~/present"\n'
        '  read "$XDG_RUNTIME_DIR/bus"\n'
        "}\n",
    )
    hits = {where(f)[1]: f.diagnostic.message for f in found(check(name), "missing-path")}
    assert set(hits) == {2, 3, 6}
    assert hits[2] == "/nonexistent/a does not exist on this host; the grant will be skipped"
    assert hits[3].endswith("nono will refuse to start here (`require`)")
    assert hits[6] == (
        "$XDG_RUNTIME_DIR/bus: $XDG_RUNTIME_DIR is not set on this host; the grant will be skipped"
    )


# --------------------------------------------------------------------------- unused-group


def test_unused_group() -> None:
    lib = write(
        "lib.nono",
        'group used_here { read "/usr/a" }\n'
        'group used_there { read "/usr/b" }\n'
        'group in_a_block { read "/usr/c" }\n'
        'group nobody { read "/usr/d" }\n'
        'mandatory group always { deny "/srv/never" }\n'
        "profile p { use used_here }\n",
    )
    other = write(
        "other.nono",
        'import "lib.nono"\nprofile q {\n  use used_there\n  on macos { use in_a_block }\n}\n',
    )
    hits = found(check(lib, other), "unused-group")
    assert [(where(f), f.diagnostic.message) for f in hits] == [
        (("lib.nono", 4, 7), "group 'nobody' is defined but never used in the checked files")
    ]
    # Checked alone, lib.nono's groups used by other.nono are unused.
    alone = {f.diagnostic.message.split("'")[1] for f in found(check(lib), "unused-group")}
    assert alone == {"used_there", "in_a_block", "nobody"}


def test_standard_library_groups_are_never_unused() -> None:
    report = check(str(DATA / "stdlib" / "mini.nono"))
    assert found(report, "unused-group") == []


# --------------------------------------------------------------------------- shadowed-rule


def test_shadowed_rules() -> None:
    name = write(
        "shadow.nono",
        "profile p {\n"
        '  read "/srv"\n'
        '  read "/srv"\n'  # 3: granted twice
        '  read file "/srv/a.txt"\n'  # 4: a file in a granted tree
        '  read "/srv/sub"\n'  # 5: a tree in a tree
        '  readwrite "/srv/rw"\n'  # 6: adds write: not shadowed
        '  require read "/srv/req"\n'  # 7: adds the requirement: not shadowed
        '  read "/usr/share"\n'  # 8: the stdlib's programs group grants /usr
        "  use programs\n"
        "}\n",
    )
    hits = found(check(name), "shadowed-rule")
    lines = sorted(where(f)[1] for f in hits)
    assert lines == [3, 4, 5, 8]
    by_line = {where(f)[1]: f for f in hits}
    assert "granted twice" in by_line[3].diagnostic.message
    assert "shadow.nono:2:3" in by_line[3].diagnostic.message
    assert "covered by the grant of /srv" in by_line[4].diagnostic.message
    assert "stdlib/mini.nono:8:3" in by_line[8].diagnostic.message
    assert any("via group programs" in n for n in by_line[8].diagnostic.notes)


def test_a_statement_repeated_through_two_uses_is_not_shadowing() -> None:
    name = write(
        "diamond.nono",
        'group g { read "/srv" }\ngroup a { use g }\ngroup b { use g }\nprofile p { use a, b }\n',
    )
    assert found(check(name), "shadowed-rule") == []


# --------------------------------------------------------------------------- syscall-equivalent


def test_half_closed_syscall_families() -> None:
    name = write(
        "sys.nono",
        "profile p {\n"
        "  syscall open deny\n"
        "  syscall execve, execveat kill\n"
        "  syscall clone deny if arg0 & CLONE_NEWUSER == CLONE_NEWUSER\n"
        "  syscall rename allow\n"
        "}\n",
    )
    hits = {where(f)[1]: f.diagnostic.message for f in found(check(name), "syscall-equivalent")}
    assert set(hits) == {2, 4}
    assert hits[2].startswith("open is restricted but creat, openat, openat2 stay open")
    assert hits[4].startswith("clone is restricted but clone3 stays open")


def test_closed_families_are_quiet() -> None:
    name = write(
        "closed.nono",
        "profile p {\n"
        "  syscall open, openat, openat2, creat deny\n"
        "  syscall clone deny if arg0 & CLONE_NEWUSER == CLONE_NEWUSER\n"
        "  syscall clone3 deny errno ENOSYS\n"
        "}\n",
    )
    assert found(check(name), "syscall-equivalent") == []


def test_a_family_open_on_one_architecture_says_which() -> None:
    # `open` and `creat` exist on x86_64 only; closing the *at calls leaves them there.
    name = write("arch.nono", "profile p {\n  syscall openat, openat2 deny\n}\n")
    (hit,) = found(check(name), "syscall-equivalent")
    assert hit.diagnostic.message.startswith(
        "openat, openat2 are restricted but creat, open stay open on x86_64"
    )


def test_what_macos_cannot_enforce() -> None:
    name = write("mac.nono", "profile p {\n  syscall ptrace deny\n  port connect 443\n}\n")
    hits = [f for f in found(check(name), "unenforceable-deny") if f.targets == {"macos"}]
    messages = {where(f)[1]: f.diagnostic.message for f in hits}
    assert "Seatbelt has no equivalent, so macOS does not enforce it" in messages[2]
    assert messages[3].startswith("port rules have no effect while the network is open")
