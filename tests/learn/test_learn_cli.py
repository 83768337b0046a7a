"""``nono learn``'s command line: errors before anything runs, and the files it writes."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from nonoc.cli.learn_cmd import write_atomic
from nonoc.cli.nono import main


def nono(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_missing_strace_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it: no strace
    code, out, err = nono(capsys, "learn", "--", sys.executable, "-c", "pass")
    assert code == 1 and out == ""
    expected = (
        "error: strace is not installed (not found on PATH); nono learn traces the command "
        "with it: install it, e.g. `apt-get install strace`"
    )
    assert err.splitlines() == [expected]


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = nono(capsys, "learn")
    assert code == 2 and "missing the command to learn from" in err
    code, _, err = nono(capsys, "learn", "--")
    assert code == 2
    profile = tmp_path / "p.nono"
    profile.write_text("profile p { use system }\n")
    code, _, err = nono(
        capsys, "learn", "--profile", "default", "--merge", str(profile), "--", "true"
    )
    assert code == 2 and "--profile and --merge exclude each other" in err


def test_a_bad_base_or_merge_file_is_refused_before_the_command_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    command = ["--", sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    code, _, err = nono(capsys, "learn", "--profile", "no-such-profile", *command)
    assert code == 1 and "unknown profile 'no-such-profile'" in err
    broken = tmp_path / "broken.nono"
    broken.write_text('profile p {\n  raed "/x"\n}\n')
    code, _, err = nono(capsys, "learn", "--merge", str(broken), *command)
    assert code == 1 and f"{broken}:2:3: error: unknown statement 'raed'" in err
    code, _, err = nono(capsys, "learn", "--merge", str(tmp_path / "absent.nono"), *command)
    assert code == 1 and "cannot read" in err
    assert not marker.exists()


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_a_command_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = nono(capsys, "learn", "--", "no-such-command-anywhere")
    assert code == 127 and "no-such-command-anywhere: command not found" in err


def test_write_atomic_replaces_keeping_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "p.nono"
    target.write_text("old\n")
    target.chmod(0o600)
    write_atomic(target, "new\n", like=target)
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "p.nono"]  # no temporary left
    fresh = tmp_path / "fresh.nono"
    write_atomic(fresh, "x\n")
    assert fresh.stat().st_mode & 0o777 == 0o644
