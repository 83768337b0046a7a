"""``nonoc fmt`` on the command line: print, --check (CI), --diff, --write (atomic), stdin."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from nonoc.cli.nonoc import main

MESSY = 'profile p {\nread "/a","/b"   # why\n}\n'
CANONICAL = 'profile p {\n  read "/a", "/b"  # why\n}\n'


@pytest.fixture(autouse=True)
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def nonoc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["fmt", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_canonical_form(capsys: pytest.CaptureFixture[str], scratch: Path) -> None:
    (scratch / "p.nono").write_text(MESSY)
    assert nonoc(capsys, "p.nono") == (0, CANONICAL, "")
    assert (scratch / "p.nono").read_text() == MESSY  # printing changes nothing


def test_check(capsys: pytest.CaptureFixture[str], scratch: Path) -> None:
    (scratch / "messy.nono").write_text(MESSY)
    (scratch / "sub").mkdir()
    (scratch / "sub" / "fine.nono").write_text(CANONICAL)
    assert nonoc(capsys, "--check") == (1, "", "would reformat messy.nono\n")
    assert nonoc(capsys, "--check", "sub") == (0, "", "")
    code, out, _ = nonoc(capsys, "--check", "--diff", "messy.nono")
    assert code == 1
    assert '-read "/a","/b"   # why\n+  read "/a", "/b"  # why\n' in out
    assert out.startswith("--- messy.nono\n+++ messy.nono (formatted)\n")


def test_write_rewrites_atomically_keeping_mode_and_links(
    capsys: pytest.CaptureFixture[str], scratch: Path
) -> None:
    real = scratch / "real.nono"
    real.write_text(MESSY)
    real.chmod(0o640)
    (scratch / "link.nono").symlink_to("real.nono")
    (scratch / "fine.nono").write_text(CANONICAL)
    before = os.stat(scratch / "fine.nono").st_mtime_ns
    code, out, err = nonoc(capsys, "--write", "link.nono", "fine.nono")
    assert (code, out, err) == (0, "", "reformatted link.nono\n")
    assert real.read_text() == CANONICAL
    assert (real.stat().st_mode & 0o777) == 0o640
    assert (scratch / "link.nono").is_symlink()
    assert os.stat(scratch / "fine.nono").st_mtime_ns == before  # canonical: not touched
    assert sorted(p.name for p in scratch.iterdir()) == ["fine.nono", "link.nono", "real.nono"]


def test_a_file_that_does_not_parse(capsys: pytest.CaptureFixture[str], scratch: Path) -> None:
    (scratch / "bad.nono").write_text("profile p { raed }\n")
    (scratch / "good.nono").write_text(MESSY)
    code, _, err = nonoc(capsys, "--write", "bad.nono", "good.nono")
    assert code == 1
    assert err.startswith("bad.nono:1:13: error: unknown statement 'raed'")
    assert (scratch / "bad.nono").read_text() == "profile p { raed }\n"
    assert (scratch / "good.nono").read_text() == CANONICAL  # the others are still done


def test_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    assert nonoc(capsys, "-") == (0, CANONICAL, "")
    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    assert nonoc(capsys, "--check", "-") == (1, "", "would reformat <stdin>\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give the files to format"),
        (["a.nono", "b.nono"], "printing works on one file"),
        (["--diff", "a.nono"], "--diff goes with --check"),
        (["--write", "-"], "--write needs files"),
        (["missing.nono"], "no such file or directory"),
    ],
)
def test_usage_errors(
    capsys: pytest.CaptureFixture[str], scratch: Path, argv: list[str], message: str
) -> None:
    (scratch / "a.nono").write_text(CANONICAL)
    (scratch / "b.nono").write_text(CANONICAL)
    code, _, err = nonoc(capsys, *argv)
    assert code == 2 and message in err


def test_check_and_write_together_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fmt", "--check", "--write", "a.nono"])
    assert info.value.code == 2
