"""Exec-time path resolution and deny handling on a real directory tree (no Landlock needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from launch_helpers import READ_TREE, RW_TREE, deny, rule

from nonoc.errors import NonoError
from nonoc.launch import denies, hostpaths


def describe(rule_id: str) -> str:
    return f"{rule_id} (p.nono:1:1)"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def resolve(rules: list[dict], deny_rows: list[dict], values: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    values = values or {"HOME": "/nonexistent-home"}
    grants, skipped = hostpaths.resolve_grants(rules, values, describe)
    return grants, skipped, hostpaths.resolve_denies(deny_rows, values, describe)


def test_templates_expand_and_resolve_symlinks(tmp_path: Path) -> None:
    home = tmp_path.resolve() / "home"
    (home / "real").mkdir(parents=True)
    (home / "link").symlink_to(home / "real")
    grants, skipped, _ = resolve([rule("g0", "$HOME/link", READ_TREE)], [], {"HOME": str(home)})
    assert [g.path for g in grants] == [str(home / "real")]
    assert grants[0].is_dir and not skipped
    hostpaths.close_all(grants)


def test_missing_optional_is_skipped_and_missing_required_refused(tmp_path: Path) -> None:
    grants, skipped, _ = resolve([rule("g0", tmp_path / "absent", READ_TREE, optional=True)], [])
    assert grants == [] and skipped[0].rule_id == "g0" and "No such file" in skipped[0].reason
    with pytest.raises(NonoError) as caught:
        resolve([rule("g1", tmp_path / "absent", READ_TREE, optional=False)], [])
    assert caught.value.exit_code == 126
    assert "g1 (p.nono:1:1): required path" in str(caught.value)


def test_unset_variable_names_the_variable() -> None:
    with pytest.raises(NonoError, match=r"\$XDG_RUNTIME_DIR is not set"):
        resolve([rule("g0", "$XDG_RUNTIME_DIR/bus", READ_TREE, optional=False)], [])
    grants, skipped, _ = resolve([rule("g0", "$XDG_RUNTIME_DIR/bus", READ_TREE, optional=True)], [])
    assert grants == [] and skipped[0].reason == "$XDG_RUNTIME_DIR is not set"
    with pytest.raises(NonoError, match=r"\$XDG_RUNTIME_DIR is not set; cannot place deny"):
        resolve([], [deny("d0", "$XDG_RUNTIME_DIR/keyring")])


def test_file_rules_carry_only_file_rights_and_must_name_files(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    grants, _, _ = resolve([rule("g0", tmp_path / "f", RW_TREE)], [])
    assert grants[0].access == ["WRITE_FILE", "READ_FILE", "TRUNCATE", "IOCTL_DEV"]
    hostpaths.close_all(grants)
    with pytest.raises(NonoError, match="is a directory"):
        resolve([rule("g1", tmp_path, ["READ_FILE"], kind="file", optional=False)], [])


def test_denies_keep_the_symlink_place_and_the_target(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "data").mkdir()
    (root / "alias").symlink_to(root / "data")
    _, _, found = resolve([], [deny("d0", root / "alias"), deny("d1", root / "missing" / "x")])
    assert found[0].paths == (str(root / "data"), str(root / "alias"))
    assert found[1].paths == (str(root / "missing" / "x"),)


def test_within_compares_components() -> None:
    assert denies.within("/home/u/.ssh", "/home/u/.ssh")
    assert denies.within("/home/u/.ssh/id", "/home/u/.ssh")
    assert not denies.within("/home/u/.sshfoo", "/home/u/.ssh")
    assert denies.within("/anything", "/")


def _workspace(root: Path) -> Path:
    work = root / "work"
    for directory in ("a/b", "c", ".secret"):
        (work / directory).mkdir(parents=True)
    for name in ("a/b/secret", "a/b/keep", "a/x", "c/y", "top", ".secret/k"):
        (work / name).write_text(name)
    (work / "a" / "lnk").symlink_to("/etc")
    os.mkfifo(work / "fifo")
    return work


def test_split_grants_siblings_along_the_way_and_nothing_on_the_way(tmp_path: Path) -> None:
    work = _workspace(tmp_path.resolve())
    before = open_fds()
    grants, _, deny_list = resolve(
        [rule("g0", work, RW_TREE)],
        [deny("d0", work / "a" / "b" / "secret", "file"), deny("d1", work / ".secret")],
    )
    kept, dropped, splits = denies.apply(grants, deny_list, "split", describe)
    assert dropped == []
    by_path = {g.path: g for g in kept}
    assert sorted(by_path) == sorted(str(work / p) for p in ("a/b/keep", "a/x", "c", "fifo", "top"))
    assert by_path[str(work / "c")].is_dir and by_path[str(work / "c")].access == RW_TREE
    assert by_path[str(work / "top")].access == ["WRITE_FILE", "READ_FILE", "TRUNCATE", "IOCTL_DEV"]
    assert all(g.split_of == "g0" for g in kept)
    (split,) = splits
    assert split.closed_dirs == [str(work), str(work / "a"), str(work / "a" / "b")]
    assert [d.rule_id for d in split.denies] == ["d0", "d1"]
    hostpaths.close_all(kept)
    assert open_fds() == before


def test_split_lists_only_directories_on_the_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _workspace(tmp_path.resolve())
    for index in range(50):
        (work / "c" / f"deep{index}").mkdir()
    listed: list[int] = []
    real_scandir = os.scandir

    def counting(target):  # type: ignore[no-untyped-def]
        listed.append(target)
        return real_scandir(target)

    monkeypatch.setattr(denies.os, "scandir", counting)
    grants, _, deny_list = resolve(
        [rule("g0", work, RW_TREE)], [deny("d0", work / "a" / "b" / "secret")]
    )
    kept, _, _ = denies.apply(grants, deny_list, "split", describe)
    assert len(listed) == 3  # work, work/a, work/a/b: never work/c or its fifty children
    hostpaths.close_all(kept)


def test_grant_equal_to_or_inside_a_deny_is_dropped(tmp_path: Path) -> None:
    work = _workspace(tmp_path.resolve())
    (tmp_path / "spelling").symlink_to(work / ".secret")
    grants, _, deny_list = resolve(
        [
            rule("g0", tmp_path / "spelling", READ_TREE),
            rule("g1", work / ".secret" / "k", READ_TREE),
            rule("g2", work / "c", READ_TREE),
        ],
        [deny("d0", work / ".secret")],
    )
    kept, dropped, splits = denies.apply(grants, deny_list, "split", describe)
    assert [(d.grant.rule_id, d.deny.rule_id) for d in dropped] == [("g0", "d0"), ("g1", "d0")]
    assert [g.rule_id for g in kept] == ["g2"] and splits == []
    hostpaths.close_all(kept)


def test_refuse_names_both_rules(tmp_path: Path) -> None:
    work = _workspace(tmp_path.resolve())
    before = open_fds()
    grants, _, deny_list = resolve([rule("g0", work, RW_TREE)], [deny("d0", work / ".secret")])
    with pytest.raises(NonoError) as caught:
        denies.apply(grants, deny_list, "refuse", describe)
    assert caught.value.exit_code == 126
    message = str(caught.value)
    assert "d0 (p.nono:1:1)" in message and "g0 (p.nono:1:1)" in message
    assert open_fds() == before


def test_a_deny_beside_a_grant_changes_nothing(tmp_path: Path) -> None:
    work = _workspace(tmp_path.resolve())
    grants, _, deny_list = resolve(
        [rule("g0", work / "c", RW_TREE)], [deny("d0", work / ".secret")]
    )
    kept, dropped, splits = denies.apply(grants, deny_list, "split", describe)
    assert [g.path for g in kept] == [str(work / "c")] and not dropped and not splits
    hostpaths.close_all(kept)


def test_real_paths_agree_with_os_realpath(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("f")
    (root / "rel").symlink_to("a/b")
    (root / "abs").symlink_to(root / "a")
    (root / "chain").symlink_to("rel")
    (root / "a" / "up").symlink_to("..")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "dangling").symlink_to("nowhere/deeper")
    real = hostpaths.RealPaths()
    for relative in (
        "a/b/f",
        "rel/f",
        "abs/b/f",
        "chain/f",
        "a/up/a/up/rel",
        "missing/x/y",
        "rel/missing",
        "loop1/x",
        "dangling",
        "dangling/more",
        "a/b/",
        "a//b",
        "",
    ):
        path = f"{root}/{relative}" if relative else str(root)
        assert real(path) == os.path.realpath(path), relative
    assert real("/") == "/"


def _linked_tree(root: Path) -> list[str]:
    """A directory of many entries (files, dirs, symlinks in and out, dangling) and paths."""
    (root / "home" / "dir").mkdir(parents=True)
    (root / "outside").mkdir()
    (root / "home" / "file").write_text("f")
    (root / "home" / "in").symlink_to("dir")
    (root / "home" / "out").symlink_to(root / "outside")
    (root / "home" / "dangling").symlink_to("nowhere")
    names = ["dir", "file", "in", "out", "dangling", "absent1", "absent2", "absent3"]
    return [str(root / "home" / name) for name in names] + [
        str(root / "home" / "in" / "x"),
        str(root / "home" / "out" / "y"),
        str(root / "home" / "absent1" / "deeper"),
        str(root / "home" / "file" / "under-a-file"),
    ]


def test_survey_gives_what_realpath_gives(tmp_path: Path) -> None:
    paths = _linked_tree(tmp_path.resolve())
    surveyed = hostpaths.RealPaths()
    surveyed.survey(paths)
    assert surveyed._listed  # the directory of eight asked-about entries was listed
    plain = hostpaths.RealPaths()
    for path in paths:
        assert surveyed(path) == plain(path) == os.path.realpath(path), path
        assert surveyed.placed(path) == plain.placed(path), path
    assert surveyed.placed(paths[3]) == (str(tmp_path.resolve() / "outside"), paths[3])


def test_survey_gives_up_on_a_large_directory(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    paths = _linked_tree(root)
    for index in range(200):
        (root / "home" / f"other{index}").write_text("")
    surveyed = hostpaths.RealPaths()
    surveyed.survey(paths)
    assert not surveyed._listed  # more entries than the bound: each path gets its lstat
    assert [surveyed(p) for p in paths] == [os.path.realpath(p) for p in paths]
