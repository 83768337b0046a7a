"""``nono rollback``: the commands users type."""

from __future__ import annotations

import builtins
import json
import os
import sys
from pathlib import Path

import pytest

from nonoc.cli.nono import main
from nonoc.cli.rollback_cmd import format_size, parse_size
from nonoc.errors import UsageError
from nonoc.runtime.rollback import SnapshotStore


@pytest.fixture
def session(store: SnapshotStore, project: Path) -> tuple[str, str]:
    before = store.snapshot([project], "sess-1", "before")
    (project / "src" / "app.py").write_text("print('hello')\nprint('more')\n")
    (project / "added.txt").write_text("added")
    (project / "secret.txt").unlink()
    after = store.snapshot([project], "sess-1", "after")
    return before.id, after.id


def test_list(session: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", "list"]) == 0
    out = capsys.readouterr().out
    assert session[0] in out and session[1] in out and "before" in out and "sess-1" in out
    assert main(["rollback", "list", "--json"]) == 0
    assert [s["id"] for s in json.loads(capsys.readouterr().out)] == list(session)


def test_show_reports_the_sessions_changes(
    session: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback", "show", session[0]]) == 0
    out = capsys.readouterr().out
    assert "+ added.txt" in out and "~ src/app.py" in out and "- secret.txt" in out
    assert "15 B -> 29 B" in out and "4.0 KiB" in out
    assert "1 added, 1 modified, 1 deleted" in out
    assert main(["rollback", "show", session[1], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {c["kind"] for c in data["changes"]["changes"]} == {"added", "modified", "deleted"}


def test_diff_against_the_tree_and_of_one_file(
    session: tuple[str, str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback", "diff", session[0]]) == 0
    assert "+ added.txt" in capsys.readouterr().out
    assert main(["rollback", "diff", session[0], str(project / "src" / "app.py")]) == 0
    out = capsys.readouterr().out
    assert "+print('more')" in out and "(snapshot)" in out


def test_restore_needs_yes_off_a_terminal(
    session: tuple[str, str],
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    assert main(["rollback", "restore", session[0]]) == 2
    assert "--yes" in capsys.readouterr().err
    assert (project / "added.txt").exists()
    assert main(["rollback", "restore", session[0], "--yes"]) == 0
    out = capsys.readouterr().out
    assert "2 written, 1 removed" in out and "undoes this restore" in out
    assert not (project / "added.txt").exists() and (project / "secret.txt").exists()
    assert main(["rollback", "restore", session[0], "--yes"]) == 0
    assert "nothing to restore" in capsys.readouterr().out


def test_restore_asks_on_a_terminal(
    session: tuple[str, str],
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(builtins, "input", lambda prompt: "n")
    assert main(["rollback", "restore", session[0]]) == 1
    assert (project / "added.txt").exists()
    monkeypatch.setattr(builtins, "input", lambda prompt: "y")
    assert main(["rollback", "restore", session[0], str(project / "added.txt")]) == 0
    assert not (project / "added.txt").exists() and not (project / "secret.txt").exists()


def test_restore_dry_run(
    session: tuple[str, str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback", "restore", session[0], "--dry-run"]) == 0
    assert "remove 1: added.txt" in capsys.readouterr().out
    assert (project / "added.txt").exists()


def test_verify_exit_codes(
    store: SnapshotStore,
    session: tuple[str, str],
    project: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rollback", "verify", session[0]]) == 0
    assert "OK" in capsys.readouterr().out
    digest = store.entries(session[0])[str(project / "secret.txt")].sha256
    os.chmod(store.objects.path(digest), 0o600)
    store.objects.path(digest).write_bytes(b"tampered")
    assert main(["rollback", "verify", session[0]]) == 1
    err = capsys.readouterr().err
    assert "secret.txt" in err and "corrupted" in err and "FAILED" in err


def test_cleanup(session: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rollback", "cleanup", "--keep", "1"]) == 0
    assert "removed 1 snapshots" in capsys.readouterr().out
    assert main(["rollback", "cleanup", "--max-size", "lots"]) == 2


def test_unknown_snapshot_is_a_clean_error(
    store: SnapshotStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback", "show", "nope"]) == 1
    assert "error: no snapshot 'nope'" in capsys.readouterr().err
    assert main(["rollback"]) == 2


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("1k", 1024),
        ("500M", 500 << 20),
        ("2G", 2 << 30),
        ("1.5GiB", 3 << 29),
        ("3 MB", 3 << 20),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects_nonsense() -> None:
    with pytest.raises(UsageError):
        parse_size("-3G")


def test_format_size() -> None:
    assert [format_size(n) for n in (0, 1023, 1024, 5 << 20, 3 << 30)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
        "3.0 GiB",
    ]


def test_restore_latest_undoes_the_last_run(
    session: tuple[str, str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``latest`` for restore is the snapshot taken before the run, not the one after it."""
    assert main(["rollback", "restore", "latest", "--yes"]) == 0
    assert session[0] in capsys.readouterr().out
    assert not (project / "added.txt").exists()
    assert (project / "secret.txt").exists()
