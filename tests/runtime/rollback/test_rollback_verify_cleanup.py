"""verify catches damage; cleanup keeps by count and size and collects unused objects; progress."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from nonoc.runtime.rollback import ProgressBar, SnapshotStore


def _object_of(store: SnapshotStore, snap_id: str, path: Path) -> Path:
    digest = store.entries(snap_id)[str(path)].sha256
    return store.objects.path(digest)


def test_verify_passes_on_an_intact_snapshot(store: SnapshotStore, project: Path) -> None:
    snap = store.snapshot([project])
    report = store.verify(snap.id)
    assert report.ok and report.merkle_computed == snap.merkle_root
    assert report.objects_checked == snap.files  # all contents differ in the fixture


def test_verify_names_a_corrupted_object(store: SnapshotStore, project: Path) -> None:
    snap = store.snapshot([project])
    damaged = _object_of(store, snap.id, project / "src" / "app.py")
    os.chmod(damaged, 0o600)
    with open(damaged, "r+b") as f:
        f.write(b"X")
    report = store.verify(snap.id)
    assert not report.ok
    assert len(report.problems) == 1
    assert (
        str(project / "src" / "app.py") in report.problems[0] and "corrupted" in report.problems[0]
    )


def test_verify_names_a_missing_object(store: SnapshotStore, project: Path) -> None:
    snap = store.snapshot([project])
    os.unlink(_object_of(store, snap.id, project / "run.sh"))
    report = store.verify(snap.id)
    assert [p for p in report.problems if "missing" in p and "run.sh" in p]


def test_verify_catches_an_edited_manifest(store: SnapshotStore, project: Path) -> None:
    snap = store.snapshot([project])
    manifest = store.root / "snapshots" / snap.id / "manifest.json"
    data = json.loads(manifest.read_bytes())
    mode = data["fields"].index("mode")
    for row in data["entries"]:
        if row[0].endswith("run.sh"):
            row[mode] = 0o4755  # a setuid bit slipped into what restore would write
    manifest.write_text(json.dumps(data))
    report = store.verify(snap.id)
    assert any("Merkle root of the entries" in p for p in report.problems)


def test_cleanup_keeps_the_newest_by_count(store: SnapshotStore, project: Path) -> None:
    ids = []
    for i in range(4):
        (project / "counter.txt").write_text(f"version {i}" * 100)
        ids.append(store.snapshot([project]).id)
    report = store.cleanup(keep=2)
    assert report.removed == ids[:2] and report.kept == ids[2:]
    assert [s.id for s in store.list()] == ids[2:]
    assert report.objects_removed == 2  # the two old versions of counter.txt
    for snap_id in ids[2:]:
        assert store.verify(snap_id).ok


def test_cleanup_by_size_drops_oldest_first(store: SnapshotStore, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    ids = []
    for _ in range(3):
        (root / "blob").write_bytes(os.urandom(10_000))
        ids.append(store.snapshot([root]).id)
    dry = store.cleanup(max_bytes=25_000, dry_run=True)
    assert dry.removed == ids[:1] and [s.id for s in store.list()] == ids
    report = store.cleanup(max_bytes=25_000)
    assert report.removed == ids[:1] and report.bytes_kept == 20_000
    assert store.cleanup(max_bytes=1).kept == ids[2:]  # the newest always stays


def test_cleanup_spares_snapshots_of_an_unfinished_restore(
    store: SnapshotStore, project: Path
) -> None:
    old = store.snapshot([project]).id
    store.snapshot([project])
    journal = store.root / "journal"
    journal.mkdir(parents=True)
    (journal / "abc.json").write_text(
        json.dumps(
            {"id": "abc", "snapshot": old, "pre_restore": None, "roots": [], "temporaries": []}
        )
    )
    report = store.cleanup(keep=1)
    assert old in report.kept


def test_cleanup_removes_debris(store: SnapshotStore, project: Path) -> None:
    store.snapshot([project])
    (store.root / "snapshots" / "half-written").mkdir()
    (store.root / "objects" / "tmp").mkdir(parents=True, exist_ok=True)
    (store.root / "objects" / "tmp" / "partial").write_bytes(b"x")
    store.cleanup(keep=5)
    assert not (store.root / "snapshots" / "half-written").exists()
    assert not (store.root / "objects" / "tmp" / "partial").exists()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_appears_only_after_a_moment_on_a_terminal() -> None:
    now = [0.0]
    stream = FakeTerminal()
    bar = ProgressBar(stream, delay=0.5, clock=lambda: now[0])
    bar.start("snapshot", 200_000_000)
    bar.advance(10_000_000)
    assert stream.getvalue() == ""  # quick work stays silent
    now[0] = 1.0
    bar.advance(90_000_000)
    assert "snapshot [###############---------------]  50%  100.0/200.0 MB" in stream.getvalue()
    bar.finish()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_progress_bar_is_silent_off_a_terminal() -> None:
    now = [0.0]
    stream = io.StringIO()
    bar = ProgressBar(stream, clock=lambda: now[0])
    bar.start("restore", 10, "ops")
    now[0] = 5.0
    bar.advance(5)
    bar.finish()
    assert stream.getvalue() == ""
    assert bar.render() == "restore [###############---------------]  50%  5/10 ops"
