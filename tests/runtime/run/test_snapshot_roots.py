"""Which writable trees ``nono run`` snapshots (``nonoc.runtime.run.roots``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nonoc.runtime.run.roots import snapshot_roots

WRITE = ["READ_FILE", "READ_DIR", "WRITE_FILE", "MAKE_REG", "REMOVE_FILE"]


def rule(rule_id: str, path: str, access: list[str], kind: str = "tree") -> dict[str, Any]:
    return {"id": rule_id, "path": path, "kind": kind, "access": access}


def payload(rules: list[dict[str, Any]], files: dict[str, str]) -> dict[str, Any]:
    provenance = {
        "linux": {rid: {"file": f, "line": 1, "column": 1, "chain": []} for rid, f in files.items()}
    }
    return {"linux": {"landlock": {"rules": rules}}, "provenance": provenance}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    for sub in (".config/nono", ".local/state/nono", ".cache/nono", "work/src", "cache-of-a-tool"):
        (home / sub).mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    monkeypatch.chdir(home / "work")
    return home


def test_the_users_writable_trees_are_roots(home: Path) -> None:
    rules = [
        rule("g0", "$CWD", WRITE),
        rule("g1", "$HOME/cache-of-a-tool", WRITE),  # from a stdlib group: not the user's
        rule("g2", "$HOME", ["READ_FILE", "READ_DIR"]),  # read-only
        rule("g3", "$CWD/src", WRITE),  # nested: the store keeps the outer root only
        rule("g4", "$HOME/missing", WRITE),
        rule("g5", "$HOME/work/src/f", WRITE, kind="file"),
        rule("g6", "$XDG_RUNTIME_DIR/x", WRITE),  # unset variable
    ]
    files = {
        "g0": "profiles/p.nono",
        "g1": "stdlib/runtimes.nono",
        "g2": "p.nono",
        "g3": "<command line>",
    }
    files |= {"g4": "p.nono", "g5": "p.nono", "g6": "p.nono"}
    roots, notes = snapshot_roots(payload(rules, files))
    assert roots == [str(home / "work"), str(home / "work" / "src")]
    assert notes == []


def test_scratch_pseudo_and_own_directories_are_left_out_with_a_note(
    home: Path, tmp_path: Path
) -> None:
    rules = [
        rule("g0", "/tmp", WRITE),
        rule("g1", "$TMPDIR", WRITE),
        rule("g2", "/dev/shm", WRITE),
        rule("g3", "$XDG_STATE_HOME/nono", WRITE),
        rule("g4", "$HOME/.config/nono", WRITE),
    ]
    roots, notes = snapshot_roots(payload(rules, {f"g{i}": "mine.nono" for i in range(5)}))
    assert roots == []
    assert len(notes) == 5
    assert "scratch space or a pseudo filesystem" in notes[0]
    assert str(tmp_path / "scratch") in notes[1]
    assert "nono's own directory" in notes[3] and "nono's own directory" in notes[4]


def test_a_bundle_without_a_linux_table() -> None:
    roots, notes = snapshot_roots({"macos": {}})
    assert roots == [] and "no Linux rule table" in notes[0]
