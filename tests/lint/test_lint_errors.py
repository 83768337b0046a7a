"""``nonoc check`` errors: whatever the compiler would refuse, for either target, with its place."""

from __future__ import annotations

import pytest

from nonoc.errors import UsageError
from nonoc.lint import policy_files
from tests.lint.lint_helpers import check, found, hermetic, where, write  # noqa: F401


def test_syntax_error_has_its_position() -> None:
    name = write("syn.nono", 'profile p {\n  raed "/x"\n}\n')
    report = check(name)
    (error,) = report.findings
    assert error.rule == "syntax-error" and error.severity == "error"
    assert where(error) == ("syn.nono", 2, 3)
    assert error.diagnostic.message == "unknown statement 'raed' (did you mean 'read'?)"


def test_resolver_refusal_is_a_policy_error() -> None:
    name = write("p.nono", 'profile p {\n  use toolz\n  read "/x"\n  deny "/x"\n}\n')
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "policy-error"
    assert where(error) == ("p.nono", 2, 7)
    assert error.targets == frozenset({"linux", "macos"})  # one finding for both targets


def test_failed_assertion_names_the_assertion_and_the_grant() -> None:
    name = write(
        "assert.nono",
        'group tools {\n  write "~/.config/tool"\n}\n'
        'profile p {\n  use tools\n  assert never write "~/.config"\n}\n',
    )
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "assertion-failed"
    assert where(error) == ("assert.nono", 6, 3)  # the assertion
    assert "assert.nono:2:3 grants write on $HOME/.config/tool" in error.diagnostic.message
    (grant,) = error.related  # the offending grant, with its source line for the caret
    assert (grant.file, grant.line, grant.column) == ("assert.nono", 2, 3)
    assert grant.source_line == '  write "~/.config/tool"'


def test_assertion_that_holds_reports_nothing() -> None:
    name = write("ok.nono", 'profile p {\n  write "$CWD"\n  assert never write "~/.ssh"\n}\n')
    assert [f for f in check(name).findings if f.severity == "error"] == []


def test_seatbelt_refusal_is_an_error_on_macos_only() -> None:
    name = write("ctl.nono", 'profile p {\n  read "/srv/a\\u0001b"\n}\n'.replace("\\u0001", "\x01"))
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "backend-error"
    assert error.targets == frozenset({"macos"})
    assert "control character U+0001" in error.diagnostic.message


def test_landlock_refusal_under_deny_inside_allow_refuse() -> None:
    name = write(
        "refuse.nono",
        'profile p {\n  deny_inside_allow refuse\n  read "$CWD"\n  deny "$CWD/x"\n}\n',
    )
    errors = [f for f in check(name).findings if f.severity == "error"]
    assert [e.rule for e in errors] == ["policy-error"]  # the front end refuses it first
    assert "deny_inside_allow refuse" in errors[0].diagnostic.message


def test_seccomp_program_over_the_kernel_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real limit (4,096) takes ~600 conditional rules and seconds of code generation
    # (see the slow test below); a lower limit takes the same refusal path.
    from nonoc.backends.seccomp import bpf

    monkeypatch.setattr(bpf, "MAX_INSNS", 40)
    rules = "".join(f"    syscall ioctl deny if arg1 == {n}\n" for n in range(20))
    name = write("big.nono", f"profile big {{\n  on linux {{\n{rules}  }}\n}}\n")
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "backend-error" and error.targets == frozenset({"linux"})
    assert "the kernel accepts at most 40" in error.diagnostic.message
    assert where(error) == ("big.nono", 1, 9)  # no place of its own: the profile's name


@pytest.mark.slow
def test_seccomp_program_over_4096_instructions() -> None:
    from nonoc.backends.seccomp import tables

    x86, arm = tables.load("x86_64"), tables.load("aarch64")
    names = [n for n, c in x86.by_name.items() if c.widths and (a := arm.lookup(n)) and a.widths]
    lines = []
    for name in names:
        lines.append(f"    syscall {name} deny if arg0 == 1 and arg0 != 2\n")
        lines.extend(f"    syscall {name} kill if arg0 == {100 + j}\n" for j in range(8))
    write("huge.nono", "profile huge {\n  on linux {\n" + "".join(lines) + "  }\n}\n")
    (error,) = [f for f in check("huge.nono").findings if f.severity == "error"]
    assert "the kernel accepts at most 4096" in error.diagnostic.message


def test_a_group_no_profile_uses_is_still_checked() -> None:
    lib = write("lib.nono", 'group broken {\n  read "$NOPE/x"\n}\n')
    (error,) = [f for f in check(lib).findings if f.severity == "error"]
    assert error.rule == "policy-error"
    assert where(error)[:2] == ("lib.nono", 2)
    assert "unknown variable $NOPE" in error.diagnostic.message


def test_unknown_syscall_in_a_library_group() -> None:
    lib = write("lib.nono", "group g {\n  syscall opne deny\n}\n")
    errors = [f for f in check(lib).findings if f.severity == "error"]
    assert [e.rule for e in errors] == ["backend-error"]
    assert "unknown system call 'opne'" in errors[0].diagnostic.message


def test_warnings_outside_the_checked_files_are_not_reported() -> None:
    write("lib.nono", 'group wide {\n  write "~"\n}\n')
    profile = write("p.nono", 'import "lib.nono"\nprofile p {\n  use wide\n}\n')
    assert found(check(profile), "broad-grant") == []
    hits = found(check(profile, "lib.nono"), "broad-grant")
    assert [where(f) for f in hits] == [("lib.nono", 2, 9)]


def test_errors_in_imported_files_are_reported() -> None:
    write("lib.nono", "group g {\n  raed\n}\n")
    profile = write("p.nono", 'import "lib.nono"\nprofile p { use g }\n')
    (error,) = check(profile).findings
    assert error.severity == "error" and where(error) == ("lib.nono", 2, 3)


def test_disabled_rules_are_not_reported() -> None:
    name = write("p.nono", 'profile p {\n  write "~"\n}\n')
    assert found(check(name), "broad-grant")
    assert found(check(name, disabled=("broad-grant",)), "broad-grant") == []


# --------------------------------------------------------------------------- finding files


def test_directories_are_searched_and_hidden_ones_skipped() -> None:
    write("a.nono", "")
    write("sub/b.nono", "")
    write("sub/notes.txt", "")
    write(".hidden/c.nono", "")
    write("node_modules/d.nono", "")
    assert policy_files([]) == ["a.nono", "sub/b.nono"]
    assert policy_files(["sub", "a.nono", "./a.nono"]) == ["a.nono", "sub/b.nono"]


def test_no_policy_files_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"no \.nono files"):
        policy_files([])
    with pytest.raises(UsageError, match=r"no such file or directory: missing\.nono"):
        policy_files(["missing.nono"])


def test_a_check_parses_each_file_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The front end's own cache serves every resolution of the check: the checked file and
    # the standard library are parsed once, however many profiles and targets read them.
    from collections import Counter

    from nonoc.resolve import parsed
    from nonoc.syntax import parser

    parsed.clear()
    counts: Counter[str] = Counter()

    def counting(text: str, filename: str):  # type: ignore[no-untyped-def]
        counts[filename] += 1
        return parser.parse(text, filename)

    monkeypatch.setattr(parsed, "parse", counting)
    write("p.nono", 'group g {\n  read "/x"\n}\nprofile a {\n  use g\n}\nprofile b {\n  use g\n}\n')
    check("p.nono")
    assert counts["p.nono"] == 1
    assert counts and set(counts.values()) == {1}
