"""Read-only instruction files: the rewrite of the run's rule table (``nonoc.runtime.run.protect``).

The kernel's answers for the rewritten table are in ``test_run_trust_live.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nonoc.runtime.run.protect import LABEL, READ, beside, protect

FULL = [
    "EXECUTE",
    "WRITE_FILE",
    "READ_FILE",
    "READ_DIR",
    "REMOVE_DIR",
    "REMOVE_FILE",
    "MAKE_DIR",
    "MAKE_REG",
    "MAKE_SYM",
    "REFER",
    "TRUNCATE",
]


def tree(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    (work / "docs" / "deep").mkdir(parents=True)
    (work / "src").mkdir()
    for name in (
        "CLAUDE.md",
        "CLAUDE.md.sigstore.json",
        "README",
        "docs/AGENTS.md",
        "docs/deep/x",
        "src/a.py",
    ):
        (work / name).write_text(name)
    (work / "docs" / "note").write_text("n")
    os.symlink("/etc", work / "link")
    return work


def payload(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "linux": {"landlock": {"handled_fs": FULL, "rules": rules}},
        "provenance": {"linux": {"g0": {"file": "p.nono", "line": 3, "column": 1, "chain": []}}},
    }


def test_entries_beside_the_way(tmp_path: Path) -> None:
    work = tree(tmp_path)
    found, unlisted = beside(str(work), [str(work / "CLAUDE.md"), str(work / "docs" / "AGENTS.md")])
    assert unlisted == []
    assert found == [
        (str(work / "CLAUDE.md.sigstore.json"), False),
        (str(work / "README"), False),
        (str(work / "docs" / "deep"), True),
        (str(work / "docs" / "note"), False),
        (str(work / "src"), True),
    ]  # the symlink gets nothing, the way (docs) and the targets no rule of their own


def test_a_tree_grant_is_split_around_the_protected_files(tmp_path: Path) -> None:
    work = tree(tmp_path)
    data = payload(
        [{"id": "g0", "path": str(work), "kind": "tree", "access": FULL, "optional": False}]
    )
    notes = protect(data, [work / "CLAUDE.md", work / "CLAUDE.md.sigstore.json"])
    assert notes == []
    rules = data["linux"]["landlock"]["rules"]
    assert rules[0] == {
        "id": "g0",
        "path": str(work),
        "kind": "tree",
        "access": list(READ[:3]),
        "optional": False,
    }
    added = {r["path"]: r for r in rules[1:]}
    assert set(added) == {str(work / n) for n in ("README", "docs", "src")}
    assert added[str(work / "src")]["access"] == FULL and added[str(work / "src")]["kind"] == "tree"
    assert added[str(work / "README")]["kind"] == "file"
    assert "READ_DIR" not in added[str(work / "README")]["access"]
    assert "WRITE_FILE" in added[str(work / "README")]["access"]
    provenance = data["provenance"]["linux"]
    for row in rules[1:]:
        assert provenance[row["id"]]["file"] == "p.nono"
        assert provenance[row["id"]]["chain"][-1]["name"] == LABEL


def test_a_file_grant_keeps_only_its_reads_and_others_are_untouched(tmp_path: Path) -> None:
    work = tree(tmp_path)
    rules = [
        {
            "id": "g0",
            "path": str(work / "CLAUDE.md"),
            "kind": "file",
            "access": ["READ_FILE", "WRITE_FILE", "TRUNCATE"],
        },
        {"id": "g1", "path": str(work / "src"), "kind": "tree", "access": FULL},
        {"id": "g2", "path": str(work), "kind": "tree", "access": ["READ_FILE", "READ_DIR"]},
        {"id": "g3", "path": "$XDG_RUNTIME_DIR/x", "kind": "tree", "access": FULL},
    ]
    data = payload([dict(r) for r in rules])
    protect(data, [work / "CLAUDE.md"], environ={"HOME": str(tmp_path)})
    assert data["linux"]["landlock"]["rules"] == [{**rules[0], "access": ["READ_FILE"]}, *rules[1:]]


def test_a_second_name_and_a_missing_truncate_right_are_reported(tmp_path: Path) -> None:
    work = tree(tmp_path)
    os.link(work / "CLAUDE.md", work / "src" / "copy.md")
    data = payload([])
    data["linux"]["landlock"]["handled_fs"] = ["READ_FILE", "WRITE_FILE"]
    notes = protect(data, [work / "CLAUDE.md"])
    assert any("has 2 names" in n for n in notes)
    assert any("truncate(2) is not stopped" in n for n in notes)


def test_seatbelt_gets_a_write_deny_per_file(tmp_path: Path) -> None:
    data: dict[str, Any] = {"macos": {"seatbelt": {"sbpl": "(version 1)\n(allow default)\n"}}}
    protect(data, [tmp_path / 'we"ird.md'])
    assert data["macos"]["seatbelt"]["sbpl"].endswith(
        f'(deny file-write* (literal "{tmp_path}/we\\"ird.md"))\n'
    )
