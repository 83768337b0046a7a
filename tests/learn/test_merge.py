"""``nono learn --merge``: new statements go into the profile's body; every other byte stays."""

from __future__ import annotations

from pathlib import Path

import pytest

from nonoc.errors import NonoError
from nonoc.learn import profile_from_trace
from nonoc.learn.events import Endpoint, FileAccess, Trace
from nonoc.learn.merge import body_bounds
from nonoc.resolve import resolve

CWD = "/srv/nono-learn-test/app"

ORIGINAL = """\
# My tool's profile.   Keep this comment, and its odd spacing.
import stdlib "system"

group helpers "not a profile { with a brace in its description" {
  read "/opt/helpers"   # a comment with a } brace
}

profile mytool "My tool" {
  use system   # programs and libraries
  read "$CWD"  # the project

  # the network stays closed
  network block
}

# trailing comment
"""


def trace_of(*accesses: FileAccess, endpoints: tuple[Endpoint, ...] = ()) -> Trace:
    return Trace(accesses=list(accesses), endpoints=list(endpoints), pids={1}, exit_status=0)


RUN = trace_of(
    FileAccess("/usr/bin/python3", frozenset({"exec"}), "execve", 1),
    FileAccess(f"{CWD}/in.txt", frozenset({"read"}), "openat", 1),
    FileAccess(f"{CWD}/out.txt", frozenset({"write"}), "openat", 1),
    FileAccess("/etc/hostname", frozenset({"read"}), "openat", 1),
    FileAccess("/root/.ssh/id_rsa", frozenset({"read"}), "openat", 1),
)


@pytest.fixture
def profile_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", "/root")
    path = tmp_path / "mytool.nono"
    path.write_text(ORIGINAL, encoding="utf-8")
    return path


def test_merge_inserts_a_block_before_the_closing_brace_and_keeps_the_rest(
    profile_file: Path,
) -> None:
    learned = profile_from_trace(RUN, ["python3", "job.py"], cwd=CWD, merge_file=profile_file)
    assert learned.merged == profile_file and learned.profile == "mytool"
    assert learned.added == 2
    before, _ = ORIGINAL.split("  network block\n", 1)
    assert learned.text.startswith(before + "  network block\n")
    assert learned.text.endswith("}\n\n# trailing comment\n")
    inserted = learned.text[len(before) + len("  network block\n") :].split("}\n\n# trailing", 1)[0]
    assert inserted.splitlines() == [
        "",
        "  # Added by `nono learn` from: python3 job.py",
        "  # Left out (the policy denies them; this profile does not grant them):",
        inserted.splitlines()[3],
        '  read file "/etc/hostname"',
        '  write "$CWD"',
    ]
    assert inserted.splitlines()[3].startswith(
        "  #   read $HOME/.ssh/id_rsa: denied by group deny_credentials"
    )
    # The merged file resolves, and grants what the run needed.
    policy = resolve(str(profile_file), "linux", text=learned.text).policy
    assert {g.path for g in policy.grants} >= {"/etc/hostname", "$CWD"}


def test_merge_of_a_run_that_needs_nothing_new_changes_nothing(profile_file: Path) -> None:
    run = trace_of(FileAccess(f"{CWD}/in.txt", frozenset({"read"}), "openat", 1))
    learned = profile_from_trace(run, ["cat", "in.txt"], cwd=CWD, merge_file=profile_file)
    assert learned.added == 0
    assert learned.text == ORIGINAL


def test_merge_warns_instead_of_changing_the_network_mode(profile_file: Path) -> None:
    run = trace_of(endpoints=(Endpoint("inet", "connect", "10.0.0.1", 443, "tcp"),))
    learned = profile_from_trace(run, ["curl", "x"], cwd=CWD, merge_file=profile_file)
    assert learned.warnings and "network block" in learned.warnings[0]
    assert "  # IP traffic seen (addresses only: a trace cannot see host names):" in learned.text
    assert learned.text.count("network block") == 1 and "network open" not in learned.text


def test_merge_into_a_one_line_profile(tmp_path: Path) -> None:
    path = tmp_path / "one.nono"
    path.write_text('profile one { use system read "$CWD" }  # tiny\n', encoding="utf-8")
    learned = profile_from_trace(RUN, ["python3"], cwd=CWD, merge_file=path)
    assert learned.text.startswith('profile one { use system read "$CWD"\n')
    assert learned.text.endswith('  write "$CWD"\n}  # tiny\n')
    resolve(str(path), "linux", text=learned.text)


def test_merge_chooses_among_several_profiles_by_name(tmp_path: Path) -> None:
    path = tmp_path / "two.nono"
    text = "profile a {\n  use system\n}\n\nprofile b {\n\tuse system\n}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NonoError, match=r"several profiles \(a, b\); choose one with --name"):
        profile_from_trace(RUN, ["python3"], cwd=CWD, merge_file=path)
    learned = profile_from_trace(RUN, ["python3"], cwd=CWD, merge_file=path, name="b")
    assert learned.text.startswith(
        "profile a {\n  use system\n}\n\nprofile b {\n\tuse system\n\n\t# Added"
    )
    assert learned.text.endswith('\tallow "$CWD"\n}\n')  # b does not read $CWD yet


def test_body_bounds_skip_strings_and_comments() -> None:
    text = 'profile p "a { b" { # } not this\n read "/x}" }\n'
    opening, closing = body_bounds(text, 0)
    assert text[opening] == "{" and text[closing] == "}" and closing == len(text) - 2
