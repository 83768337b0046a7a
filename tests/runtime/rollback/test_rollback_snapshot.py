"""Snapshots: what is recorded, the object store, the Merkle root, incremental hashing, exclusions."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest

from nonoc.runtime.rollback import RollbackOptions, SnapshotStore
from nonoc.runtime.rollback import store as store_module
from nonoc.runtime.rollback.manifest import Entry, merkle_root


def paths_of(store: SnapshotStore, snap_id: str, root: Path) -> set[str]:
    return {os.path.relpath(p, root) for p in store.entries(snap_id)}


def test_records_files_dirs_symlinks_and_empty_dirs(store: SnapshotStore, project: Path) -> None:
    snap = store.snapshot([project], "s1", "before")
    entries = store.entries(snap)
    assert entries[str(project)].type == "dir"
    assert entries[str(project / "empty")].type == "dir"
    assert entries[str(project / "app-link")].type == "symlink"
    assert entries[str(project / "app-link")].target == "src/app.py"
    assert entries[str(project / "dangling")].target == "../outside-does-not-exist"
    assert entries[str(project / "run.sh")].mode == 0o755
    assert entries[str(project / "secret.txt")].mode == 0o600
    app = entries[str(project / "src" / "app.py")]
    assert app.sha256 == hashlib.sha256(b"print('hello')\n").hexdigest()
    assert (snap.files, snap.dirs, snap.symlinks) == (6, 5, 2)
    assert snap.session == "s1" and snap.label == "before"
    assert store.get(snap.id[:12]).id == snap.id
    assert store.get("latest").id == snap.id


def test_objects_are_sharded_and_deduplicated(store: SnapshotStore, tmp_path: Path) -> None:
    root = tmp_path / "dup"
    root.mkdir()
    for i in range(5):
        (root / f"copy{i}.txt").write_text("same content\n")
    store.snapshot([root])
    digest = hashlib.sha256(b"same content\n").hexdigest()
    assert list(store.objects.digests()) == [digest]
    assert store.objects.path(digest) == store.root / "objects" / digest[:2] / digest[2:]
    assert store.objects.path(digest).read_bytes() == b"same content\n"


def test_large_file_is_streamed_into_the_store(store: SnapshotStore, tmp_path: Path) -> None:
    root = tmp_path / "big"
    root.mkdir()
    data = os.urandom(3 * 1024 * 1024 + 17)
    (root / "blob.bin").write_bytes(data)
    snap = store.snapshot([root])
    entry = store.entries(snap)[str(root / "blob.bin")]
    assert entry.sha256 == hashlib.sha256(data).hexdigest() and entry.size == len(data)
    assert store.objects.read_bytes(entry.sha256) == data


def test_merkle_root_commits_to_path_type_mode_and_content(
    store: SnapshotStore, project: Path
) -> None:
    snap = store.snapshot([project])
    entries = list(store.entries(snap).values())
    assert merkle_root(entries) == snap.merkle_root
    changed = [
        Entry(
            e.path,
            e.type,
            e.mode ^ 0o100 if e.type == "file" else e.mode,
            e.size,
            e.sha256,
            e.target,
        )
        for e in entries
    ]
    assert merkle_root(changed) != snap.merkle_root
    # The stat fields are a cache, not content: they do not move the root.
    recached = [
        Entry(e.path, e.type, e.mode, e.size, e.sha256, e.target, 1, 2, 3, 4) for e in entries
    ]
    assert merkle_root(recached) == snap.merkle_root
    again = store.snapshot([project])
    assert again.merkle_root == snap.merkle_root


def test_merkle_root_matches_rfc6962_for_three_leaves() -> None:
    entries = [
        Entry(f"/r/{n}", "file", 0o644, 1, hashlib.sha256(n.encode()).hexdigest()) for n in "abc"
    ]
    from nonoc.runtime.rollback.manifest import leaf_hash

    a, b, c = (leaf_hash(e) for e in entries)
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle_root(entries) == hashlib.sha256(b"\x01" + ab + c).hexdigest()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_unchanged_files_are_not_hashed_again(store: SnapshotStore, project: Path) -> None:
    first = store.snapshot([project])
    assert first.hashed_files == first.files
    second = store.snapshot([project])
    assert second.parent == first.id
    assert second.hashed_files == 0
    (project / "src" / "app.py").write_text("print('changed')\n")
    third = store.snapshot([project])
    assert third.hashed_files == 1


def test_same_size_change_with_mtime_put_back_is_still_seen(
    store: SnapshotStore, project: Path
) -> None:
    target = project / "src" / "app.py"
    before = store.snapshot([project])
    st = os.stat(target)
    target.write_text("print('HELLO')\n")  # same size
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # what an agent could do to hide it
    after = store.snapshot([project])
    assert after.hashed_files == 1
    diff = store.diff(before, after)
    assert [c.path for c in diff.modified] == [str(target)]


def test_files_changed_just_before_a_snapshot_are_rehashed(
    store: SnapshotStore, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "RACY_NS", 10 * 1_000_000_000)
    store.snapshot([project])
    second = store.snapshot([project])
    # Everything was written within the margin: timestamps prove nothing, so all is read.
    assert second.hashed_files == second.files


def test_default_exclusions_are_reported(store: SnapshotStore, project: Path) -> None:
    for name in (
        "node_modules/lib",
        ".git/objects",
        "__pycache__",
        "target/debug",
        ".venv/bin",
        "dist",
        "build",
    ):
        (project / name).mkdir(parents=True)
        (project / name / "f").write_text("x")
    (project / "src" / "__pycache__").mkdir()
    (project / "src" / "__pycache__" / "app.pyc").write_bytes(b"\0")
    snap = store.snapshot([project])
    reported = {os.path.relpath(x.path, project): x.reason for x in snap.excluded}
    assert reported == {
        "node_modules": "regenerable",
        ".git": "version-control internals",
        "__pycache__": "regenerable",
        "target": "regenerable",
        ".venv": "regenerable",
        "dist": "regenerable",
        "build": "regenerable",
        "src/__pycache__": "regenerable",
    }
    recorded = paths_of(store, snap.id, project)
    assert not any(p.split("/")[0] in {"node_modules", ".git", "target", "dist"} for p in recorded)


def test_include_patterns_win_over_defaults(store: SnapshotStore, project: Path) -> None:
    (project / "dist").mkdir()
    (project / "dist" / "bundle.js").write_text("js")
    (project / "node_modules" / "keep").mkdir(parents=True)
    (project / "node_modules" / "keep" / "index.js").write_text("kept")
    (project / "node_modules" / "drop").mkdir()
    (project / "node_modules" / "drop" / "index.js").write_text("dropped")
    options = RollbackOptions(include=("dist", "/node_modules/keep/"))
    snap = store.snapshot([project], options=options)
    recorded = paths_of(store, snap.id, project)
    assert {
        "dist",
        "dist/bundle.js",
        "node_modules",
        "node_modules/keep",
        "node_modules/keep/index.js",
    } <= recorded
    assert "node_modules/drop" not in recorded and "node_modules/drop/index.js" not in recorded


def test_exclude_patterns(store: SnapshotStore, project: Path) -> None:
    (project / "a.log").write_text("log")
    (project / "docs" / "b.log").write_text("log")
    snap = store.snapshot([project], options=RollbackOptions(exclude=("*.log", "/docs/")))
    recorded = paths_of(store, snap.id, project)
    assert "a.log" not in recorded and "docs" not in recorded and "docs/b.log" not in recorded
    assert snap.ignored == 2


def test_gitignore_is_honoured(store: SnapshotStore, project: Path) -> None:
    (project / ".gitignore").write_text("*.log\n!keep.log\n/out/\ncache\n")
    (project / "src" / ".gitignore").write_text("generated_*.py\n")
    for name in (
        "a.log",
        "keep.log",
        "out/x",
        "src/out/y",
        "src/cache",
        "src/generated_x.py",
        "src/real.py",
    ):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(name)
    snap = store.snapshot([project])
    recorded = paths_of(store, snap.id, project)
    assert {"keep.log", "src/out/y", "src/real.py", ".gitignore", "src/.gitignore"} <= recorded
    assert not {"a.log", "out", "out/x", "src/cache", "src/generated_x.py"} & recorded
    ignoring_off = store.snapshot([project], options=RollbackOptions(use_gitignore=False))
    assert "a.log" in paths_of(store, ignoring_off.id, project)


def test_gitignore_cannot_hide_itself(store: SnapshotStore, project: Path) -> None:
    (project / ".gitignore").write_text(".gitignore\n")
    snap = store.snapshot([project])
    assert ".gitignore" in paths_of(store, snap.id, project)


def test_directories_over_the_size_limit_are_left_out(store: SnapshotStore, project: Path) -> None:
    (project / "assets" / "big").mkdir(parents=True)
    (project / "assets" / "small.txt").write_text("small")
    for i in range(4):
        (project / "assets" / "big" / f"chunk{i}").write_bytes(b"z" * 40_000)
    (project / "huge.bin").write_bytes(b"h" * 150_000)
    snap = store.snapshot([project], options=RollbackOptions(dir_size_limit=100_000))
    reported = {os.path.relpath(x.path, project): x.reason for x in snap.excluded}
    assert reported == {
        "assets/big": "directory over size limit",
        "huge.bin": "file over size limit",
    }
    recorded = paths_of(store, snap.id, project)
    assert "assets/small.txt" in recorded and "assets/big" not in recorded


def test_special_files_are_reported(store: SnapshotStore, project: Path) -> None:
    os.mkfifo(project / "pipe")
    snap = store.snapshot([project])
    assert [(os.path.basename(x.path), x.reason) for x in snap.excluded] == [
        ("pipe", "unsupported type (fifo)")
    ]


def test_several_roots_and_nested_roots(
    store: SnapshotStore, project: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "o.txt").write_text("o")
    snap = store.snapshot([project, other, project / "src"])
    assert snap.roots == tuple(sorted((str(project), str(other))))
    assert str(other / "o.txt") in store.entries(snap)


def test_manifest_is_canonical_json(store: SnapshotStore, project: Path) -> None:
    snap = store.snapshot([project])
    raw = (store.root / "snapshots" / snap.id / "manifest.json").read_bytes()
    data = json.loads(raw)
    assert raw == json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    assert data["snapshot"]["merkle_root"] == snap.merkle_root


def test_diff_reports_added_modified_deleted_with_sizes(
    store: SnapshotStore, project: Path
) -> None:
    before = store.snapshot([project], "s", "before")
    (project / "new.txt").write_text("12345")
    (project / "docs" / "readme.md").write_text("short")
    (project / "secret.txt").unlink()
    os.chmod(project / "run.sh", 0o644)
    os.rename(project / "src" / "pkg" / "util.py", project / "src" / "pkg" / "helpers.py")
    after = store.snapshot([project], "s", "after")
    diff = store.diff(before, after)
    kinds = {
        os.path.relpath(c.path, project): (c.kind, c.old_size, c.new_size, c.what)
        for c in diff.changes
    }
    assert kinds == {
        "new.txt": ("added", None, 5, ()),
        "docs/readme.md": ("modified", 500, 5, ("content",)),
        "secret.txt": ("deleted", 4096, None, ()),
        "run.sh": ("modified", 19, 19, ("mode",)),
        "src/pkg/util.py": ("deleted", 22, None, ()),
        "src/pkg/helpers.py": ("added", None, 22, ()),
    }
    assert diff.summary() == "+2 ~2 -2"
    limited = store.diff(before, after, [str(project / "src")])
    assert {c.kind for c in limited.changes} == {"added", "deleted"} and len(limited.changes) == 2


def test_durable_snapshot(tmp_path: Path, project: Path) -> None:
    durable = SnapshotStore(tmp_path / "durable-store", durable=True)
    snap = durable.snapshot([project])
    assert durable.verify(snap).ok


def test_unknown_and_ambiguous_ids(store: SnapshotStore, project: Path) -> None:
    from nonoc.runtime.rollback import RollbackError

    with pytest.raises(RollbackError, match="there are no snapshots"):
        store.get("latest")
    store.snapshot([project])
    store.snapshot([project])
    with pytest.raises(RollbackError, match="no snapshot 'nope'"):
        store.get("nope")
    with pytest.raises(RollbackError, match="names several snapshots"):
        store.get(time.strftime("%Y"))


def test_nonos_own_state_is_never_snapshotted(
    store: SnapshotStore, project: Path, tmp_path: Path
) -> None:
    store.snapshot([project])  # the store now exists under tmp_path/state/nono/rollback
    (tmp_path / "state" / "nono" / "audit").mkdir(parents=True)
    snap = store.snapshot([tmp_path])
    reasons = {os.path.relpath(x.path, tmp_path): x.reason for x in snap.excluded}
    assert reasons == {"state/nono": "nono's own state"}
    assert not any("/state/nono/" in p for p in store.entries(snap))
    (project / "new.txt").write_text("x")
    store.restore(snap.id)  # the store is not "extra content" to delete
    assert store.verify(snap.id).ok and not (project / "new.txt").exists()


def test_include_paths_become_anchored_patterns(
    store: SnapshotStore, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nonoc.runtime.rollback.rules import include_patterns

    (project / "node_modules" / "fork").mkdir(parents=True)
    (project / "node_modules" / "fork" / "index.js").write_text("patched")
    (project / "node_modules" / "other").mkdir()
    monkeypatch.chdir(project)
    patterns = include_patterns(["./node_modules/fork", "dist", "*.lock"], (str(project),))
    assert patterns == ("/node_modules/fork/", "dist", "*.lock")
    snap = store.snapshot([project], options=RollbackOptions(include=patterns))
    recorded = paths_of(store, snap.id, project)
    assert "node_modules/fork/index.js" in recorded and "node_modules/other" not in recorded
