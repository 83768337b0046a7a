"""Restore: exact, undoable, crash-safe, confined to the tree, and blind to what was left out."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from nonoc.runtime.rollback import RollbackError, RollbackOptions, SnapshotStore
from nonoc.runtime.rollback.restore import TEMP_PREFIX
from nonoc.runtime.rollback.safefs import TreeHandle


def agent_session(root: Path) -> None:
    """What an agent might do: create, modify, delete, rename, chmod, re-link, retype."""
    (root / "src" / "new.py").write_text("new = True\n")
    (root / "newdir" / "a").mkdir(parents=True)
    (root / "newdir" / "a" / "b.txt").write_text("deep")
    (root / "newempty").mkdir()
    (root / "src" / "app.py").write_text("print('modified by the agent')\n")
    (root / "secret.txt").unlink()
    os.rename(root / "docs" / "readme.md", root / "docs" / "README.md")
    os.chmod(root / "run.sh", 0o600)
    os.chmod(root / "src", 0o700)
    os.unlink(root / "app-link")
    os.symlink("run.sh", root / "app-link")
    os.unlink(root / "src" / "pkg" / "util.py")
    os.symlink("/etc/passwd", root / "src" / "pkg" / "util.py")
    os.rmdir(root / "empty")
    (root / "empty").write_text("now a file")
    os.unlink(root / "dangling")
    shutil.rmtree(root / "src" / "pkg")  # with its new symlink inside
    (root / "src" / "pkg").write_text("a file where a package was")
    os.chmod(root / "docs", 0o555)
    os.chmod(root, 0o711)


def test_restore_is_byte_for_byte(
    store: SnapshotStore, project: Path, capture_tree: Callable[[Path], dict]
) -> None:
    before_state = capture_tree(project)
    before = store.snapshot([project], "s", "before")
    agent_session(project)
    after_state = capture_tree(project)
    store.snapshot([project], "s", "after")
    report = store.restore(before.id)
    assert not report.errors and not report.kept
    assert capture_tree(project) == before_state
    assert not store.diff_current(before)
    # The restore can itself be undone: the safety snapshot has the agent's state.
    assert report.pre_restore is not None
    store.restore(report.pre_restore)
    assert capture_tree(project) == after_state


def test_restore_recreates_a_deleted_root(
    store: SnapshotStore, project: Path, capture_tree
) -> None:  # type: ignore[no-untyped-def]
    before_state = capture_tree(project)
    before = store.snapshot([project])
    os.chmod(project, 0o755)
    shutil.rmtree(project)
    store.restore(before.id)
    assert capture_tree(project) == before_state


def test_restore_of_selected_paths_only(store: SnapshotStore, project: Path) -> None:
    before = store.snapshot([project])
    (project / "src" / "app.py").write_text("changed\n")
    (project / "docs" / "readme.md").write_text("changed\n")
    (project / "src" / "extra.py").write_text("extra\n")
    report = store.restore(before.id, [str(project / "src" / "app.py")])
    assert report.written == [str(project / "src" / "app.py")]
    assert (project / "src" / "app.py").read_text() == "print('hello')\n"
    assert (project / "docs" / "readme.md").read_text() == "changed\n"
    assert (project / "src" / "extra.py").exists()
    store.restore(before.id, [str(project / "src")])
    assert not (project / "src" / "extra.py").exists()
    with pytest.raises(RollbackError, match="not inside the snapshot's trees"):
        store.restore(before.id, ["/etc"])


def test_dry_run_changes_nothing(store: SnapshotStore, project: Path, capture_tree) -> None:  # type: ignore[no-untyped-def]
    before = store.snapshot([project])
    agent_session(project)
    state = capture_tree(project)
    count = len(store.list())
    report = store.restore(before.id, dry_run=True)
    assert report.dry_run and report.changed > 5
    assert capture_tree(project) == state
    assert len(store.list()) == count


def test_restore_never_follows_a_symlink_out_of_the_tree(
    store: SnapshotStore, project: Path, tmp_path: Path, capture_tree
) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "app.py").write_text("outside content\n")
    outside_state = capture_tree(outside)
    before_state = capture_tree(project)
    before = store.snapshot([project])
    os.chmod(project / "src", 0o755)
    shutil.rmtree(project / "src")
    os.symlink(outside, project / "src")  # the agent points src/ at a directory outside
    store.restore(before.id, [str(project / "src" / "app.py")])
    assert capture_tree(outside) == outside_state
    assert (project / "src").is_dir() and not (project / "src").is_symlink()
    assert (project / "src" / "app.py").read_text() == "print('hello')\n"
    store.restore(before.id)
    assert capture_tree(project) == before_state
    assert capture_tree(outside) == outside_state


def test_tree_handle_refuses_symlinked_directories(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "link")
    outside_mode = outside.stat().st_mode
    with TreeHandle(str(root)) as tree:
        with pytest.raises(OSError):
            tree.create("link/planted")
        with pytest.raises(OSError):
            tree.set_mode("link", 0o777)
        with pytest.raises(OSError):
            tree.mkdir("link/sub", 0o755)
    assert list(outside.iterdir()) == []
    assert outside.stat().st_mode == outside_mode


def test_what_was_left_out_is_never_touched(store: SnapshotStore, project: Path) -> None:
    (project / "node_modules" / "pkg").mkdir(parents=True)
    (project / "node_modules" / "pkg" / "index.js").write_text("v1")
    (project / "debug.log").write_text("log")
    (project / ".gitignore").write_text("*.log\n")
    before = store.snapshot([project])
    (project / "node_modules" / "pkg" / "index.js").write_text("v2")
    (project / "debug.log").write_text("more log")
    (project / "newpkg" / "node_modules" / "dep").mkdir(parents=True)
    (project / "newpkg" / "node_modules" / "dep" / "f.js").write_text("dep")
    (project / "newpkg" / "main.js").write_text("main")
    report = store.restore(before.id)
    assert (project / "node_modules" / "pkg" / "index.js").read_text() == "v2"
    assert (project / "debug.log").read_text() == "more log"
    assert not (project / "newpkg" / "main.js").exists()
    assert (project / "newpkg" / "node_modules" / "dep" / "f.js").read_text() == "dep"
    assert report.kept == [(str(project / "newpkg"), "holds content the snapshot left out")]


def test_a_gitignore_written_by_the_agent_hides_nothing(
    store: SnapshotStore, project: Path
) -> None:
    before = store.snapshot([project])
    (project / ".gitignore").write_text("*\n")
    (project / "planted.txt").write_text("agent")
    store.restore(before.id)
    assert not (project / "planted.txt").exists()
    assert not (project / ".gitignore").exists()


def test_restore_refuses_a_damaged_store_before_touching_anything(
    store: SnapshotStore, project: Path, capture_tree
) -> None:  # type: ignore[no-untyped-def]
    before = store.snapshot([project])
    (project / "src" / "app.py").write_text("agent version\n")
    state = capture_tree(project)
    digest = store.entries(before)[str(project / "src" / "app.py")].sha256
    damaged = store.objects.path(digest)
    os.chmod(damaged, 0o600)
    damaged.write_text("print('HELLO')\n")
    with pytest.raises(RollbackError, match="damaged; nothing was restored"):
        store.restore(before.id)
    assert capture_tree(project) == state


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory an unprivileged user can reach (pytest's own is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nono-rollback-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_non_root_restore_into_read_only_directories(shared_tmp: Path) -> None:
    """A normal user's restore must write inside a directory the agent made read-only."""
    if os.getuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user in a child")
    tmp_path = shared_tmp
    root = tmp_path / "tree"
    (root / "ro").mkdir(parents=True)
    (root / "ro" / "f.txt").write_text("original")
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    for path in (tmp_path, root, root / "ro", root / "ro" / "f.txt", store_dir):
        os.chown(path, 65534, 65534)
    script = f"""
import os
from pathlib import Path
from nonoc.runtime.rollback import SnapshotStore
import nonoc.runtime.rollback.restore, fcntl, json, secrets, hashlib, stat
os.setgid(65534); os.setuid(65534)  # after the imports: the interpreter's files may be root's
store = SnapshotStore({str(store_dir)!r}, durable=False)
snap = store.snapshot([{str(root)!r}])
Path({str(root / "ro" / "f.txt")!r}).write_text("agent")
os.chmod({str(root / "ro")!r}, 0o555)
report = store.restore(snap.id)
assert not report.errors, report.errors
print(Path({str(root / "ro" / "f.txt")!r}).read_text(), oct(os.stat({str(root / "ro")!r}).st_mode & 0o777))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["original", "0o755"]


# -- interrupted restores ------------------------------------------------------------

KILLER = r"""
import os, signal, sys
from nonoc.runtime.rollback import SnapshotStore
from nonoc.runtime.rollback import store as store_module

store_module.RACY_NS = 0


class KillAt:
    def __init__(self, phase, at, pause):
        self.phase, self.at, self.pause, self.label, self.count = phase, at, pause, None, 0

    def start(self, label, total, unit="B"):
        self.label, self.count = label, 0

    def advance(self, amount=1):
        if self.label == self.phase:
            self.count += 1
            if self.pause:
                import time
                time.sleep(self.pause)
            if self.at and self.count >= self.at:
                os.kill(os.getpid(), signal.SIGKILL)

    def finish(self):
        pass


store = SnapshotStore(sys.argv[1], durable=True)
store.restore(sys.argv[2], progress=KillAt(sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
print("finished")
"""


def _run_killer(
    store: SnapshotStore, snap_id: str, phase: str, at: int, pause: float = 0.0
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", KILLER, str(store.root), snap_id, phase, str(at), str(pause)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _steps(store: SnapshotStore, snap_id: str) -> int:
    report = store.restore(snap_id, dry_run=True)
    return len(report.removed) + len(report.created) + 2 * len(report.written) + len(report.updated)


@pytest.mark.parametrize(
    ("phase", "fraction"),
    [
        ("snapshot", 0.0),
        ("checking objects", 0.0),
        ("restore", 0.05),
        ("restore", 0.3),
        ("restore", 0.5),
        ("restore", 0.7),
        ("restore", 0.95),
    ],
)
def test_interrupted_restore_completes_when_rerun(
    store: SnapshotStore, project: Path, capture_tree, phase: str, fraction: float
) -> None:  # type: ignore[no-untyped-def]
    before_state = capture_tree(project)
    before = store.snapshot([project], "s", "before")
    agent_session(project)
    for i in range(20):  # enough work for the kill points to fall in every step kind
        (project / f"gen{i}.txt").write_bytes(os.urandom(2000))
    after_state = capture_tree(project)
    at = max(1, int(_steps(store, before.id) * fraction))
    child = _run_killer(store, before.id, phase, at)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()  # type: ignore[union-attr]
    report = store.restore(before.id)
    assert capture_tree(project) == before_state
    assert not [p for p in project.rglob("*") if p.name.startswith(TEMP_PREFIX)]
    assert not list((store.root / "journal").glob("*.json"))
    # Nothing was lost: the agent's state is in the first safety snapshot.
    safety = report.pre_restore if report.resumed else _first_pre_restore(store)
    assert safety is not None
    store.restore(safety)
    assert capture_tree(project) == after_state


def _first_pre_restore(store: SnapshotStore) -> str | None:
    for snap in store.list():
        if snap.label == "pre-restore":
            return snap.id
    return None


def test_restore_killed_from_outside_completes_when_rerun(
    store: SnapshotStore, project: Path, capture_tree
) -> None:  # type: ignore[no-untyped-def]
    for i in range(150):
        (project / "src" / f"mod{i}.py").write_text(f"value = {i}\n")
    before_state = capture_tree(project)
    before = store.snapshot([project], "s", "before")
    for i in range(150):
        (project / "src" / f"mod{i}.py").write_text(f"value = {i * 2}  # changed\n")
    agent_session(project)
    after_state = capture_tree(project)
    child = _run_killer(store, before.id, "restore", 0, pause=0.004)  # slowed, never kills itself
    journal = store.root / "journal"
    deadline = time.monotonic() + 30
    while not list(journal.glob("*.json")) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the restore's ~1.3 s of steps
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    pending = [json.loads(p.read_bytes()) for p in journal.glob("*.json")]
    assert len(pending) == 1 and pending[0]["snapshot"] == before.id
    assert capture_tree(project) not in (before_state, after_state)  # really half-way
    report = store.restore(before.id)
    assert report.resumed
    assert capture_tree(project) == before_state
    store.restore(report.pre_restore or "")
    assert capture_tree(project) == after_state


def test_include_options_survive_into_restore(store: SnapshotStore, project: Path) -> None:
    (project / "dist").mkdir()
    (project / "dist" / "app.js").write_text("v1")
    before = store.snapshot([project], options=RollbackOptions(include=("dist",)))
    (project / "dist" / "app.js").write_text("v2")
    (project / "dist" / "extra.js").write_text("extra")
    store.restore(before.id)
    assert (project / "dist" / "app.js").read_text() == "v1"
    assert not (project / "dist" / "extra.js").exists()
