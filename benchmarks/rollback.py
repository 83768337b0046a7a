"""Rollback snapshot benchmark: a baseline of a generated tree, then a re-snapshot after 1% changes.

    .venv/bin/python benchmarks/rollback.py [--files 10000] [--megabytes 200] [--no-compare]

Prints figures; asserts nothing. The tree (by default 10,000 files, 200 MB, 100
directories, sizes log-normally spread, random content from a fixed seed) is written to
a temporary directory; then:

1. baseline: ``SnapshotStore.snapshot`` into an empty store (every file read, hashed, stored);
2. 1% of the files (chosen with the seed) are rewritten with new content of the same size,
   and the tree snapshotted again (only changed files are read); repeated ``--runs`` times;
3. restore of the baseline (undoes the changes), and ``verify`` of the baseline.

Every measurement starts after ``sync``: on a shared machine the disk's writeback state
otherwise decides the figures more than the code does. Baselines and
re-snapshots are repeated (``--runs``, interleaved with nono-py's) and reported as min and
median.

With the comparison on, ``nono_py.SnapshotManager`` (PyPI ``nono-py``) runs the same
baseline and incremental snapshot on the same tree, from a temporary virtualenv of its
own (never the project's). When it cannot be installed, the comparison is skipped and
the reason printed. Both tools read a tree that is in the page cache.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nonoc.runtime.rollback import SnapshotStore


def generate(root: Path, files: int, total_bytes: int, rng: random.Random) -> list[Path]:
    """Write ``files`` files of random content adding up to about ``total_bytes``."""
    weights = [rng.lognormvariate(0, 1.2) for _ in range(files)]
    scale = total_bytes / sum(weights)
    paths = []
    per_dir = max(files // 100, 1)
    for i, weight in enumerate(weights):
        directory = root / f"pkg{i // per_dir:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"module{i:05d}.dat"
        path.write_bytes(rng.randbytes(max(int(weight * scale), 1)))
        paths.append(path)
    return paths


def change(paths: list[Path], fraction: float, rng: random.Random) -> int:
    """Rewrite ``fraction`` of the files with new content of the same size; return the bytes written."""
    chosen = rng.sample(paths, max(int(len(paths) * fraction), 1))
    written = 0
    for path in chosen:
        size = path.stat().st_size
        path.write_bytes(rng.randbytes(size))
        written += size
    return written


NONO_PY_DRIVER = textwrap.dedent(
    """
    import sys, time, nono_py
    runs, manager = 0, None
    for command in sys.stdin:
        if command.startswith("baseline"):
            runs += 1
            manager = nono_py.SnapshotManager(f"{sys.argv[1]}-{runs}", [sys.argv[2]])
            t = time.perf_counter(); manager.create_baseline()
            print("baseline", time.perf_counter() - t, flush=True)
        elif command.startswith("incremental"):
            t = time.perf_counter(); _, changes = manager.create_incremental()
            print("incremental", time.perf_counter() - t, len(changes), flush=True)
    """
)


class NonoPy:
    """nono-py's SnapshotManager, driven in its own throwaway virtualenv."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    @classmethod
    def start(cls, work: Path, tree: Path) -> tuple[NonoPy | None, str]:
        """Install nono-py into a new virtualenv and start the driver; (driver, reason if not)."""
        venv = work / "nono-py-venv"
        try:
            subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                check=True,
                capture_output=True,
                timeout=120,
            )
            pip = subprocess.run(
                [str(venv / "bin" / "pip"), "install", "-q", "nono-py"],
                capture_output=True,
                text=True,
                timeout=600,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"could not create a virtualenv: {exc}"
        if pip.returncode != 0:
            return None, "pip install nono-py failed: " + (
                pip.stderr.strip().splitlines() or ["?"]
            )[-1]
        process = subprocess.Popen(
            [
                str(venv / "bin" / "python"),
                "-c",
                NONO_PY_DRIVER,
                str(work / "nono-py-session"),
                str(tree),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return cls(process), ""

    def ask(self, command: str) -> list[str]:
        """Send one command; return the reply's words (empty if the driver died)."""
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().split()

    def stop(self) -> str:
        """End the driver; return what it wrote on stderr."""
        assert self.process.stdin and self.process.stderr
        self.process.stdin.close()
        self.process.wait(timeout=60)
        return self.process.stderr.read().strip()


def quiet() -> None:
    """Flush dirty pages so each measurement starts from the same state of the disk."""
    os.sync()
    time.sleep(0.3)  # also leaves the window in which timestamps prove nothing


def stats(values: list[float]) -> str:
    """``min / median`` of the runs, in seconds."""
    return f"min {min(values):6.3f} s  median {statistics.median(values):6.3f} s"


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument(
        "--change", type=float, default=0.01, help="fraction of files changed (default 0.01)"
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="baselines per tool, interleaved (default 3)"
    )
    parser.add_argument("--no-compare", action="store_true", help="skip the nono-py comparison")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    rng = random.Random(20240601)
    work = Path(tempfile.mkdtemp(prefix="nono-rollback-bench-"))
    tree = work / "tree"
    try:
        t = time.perf_counter()
        paths = generate(tree, args.files, args.megabytes * 1_000_000, rng)
        total = sum(p.stat().st_size for p in paths)
        print(
            f"tree: {len(paths)} files, {total / 1e6:.1f} MB (written in {time.perf_counter() - t:.2f} s)"
        )
        other, reason = (None, "--no-compare") if args.no_compare else NonoPy.start(work, tree)

        ours: list[float] = []
        ours_no_sync: list[float] = []
        theirs: list[float] = []
        store = SnapshotStore(work / "store-0")
        baseline = None
        for run in range(args.runs):
            quiet()
            store = SnapshotStore(work / f"store-{run}")
            t = time.perf_counter()
            baseline = store.snapshot([tree], "bench", "baseline")
            ours.append(time.perf_counter() - t)
            # The same without the filesystem sync, which nono-py does not do: like for like.
            quiet()
            t = time.perf_counter()
            SnapshotStore(work / f"store-nosync-{run}", durable=False).snapshot([tree])
            ours_no_sync.append(time.perf_counter() - t)
            if other is not None:
                quiet()
                reply = other.ask("baseline")
                if reply[:1] != ["baseline"]:
                    reason, other = "nono-py driver failed: " + other.stop()[-300:], None
                else:
                    theirs.append(float(reply[1]))
        assert baseline is not None
        print(
            f"nono baseline:        {stats(ours)}  ({baseline.hashed_files} files, "
            f"{baseline.hashed_bytes / 1e6:.1f} MB hashed and stored; includes the fsync)"
        )
        print(f"nono, no sync:        {stats(ours_no_sync)}")
        if theirs:
            print(f"nono-py baseline:     {stats(theirs)}")

        # Re-snapshots, each after a fresh 1% change, interleaved with nono-py's incrementals.
        again_times: list[float] = []
        other_again: list[float] = []
        for run in range(args.runs):
            changed_bytes = change(paths, args.change, rng)
            quiet()
            t = time.perf_counter()
            again = store.snapshot([tree], "bench", f"after-{run}")
            again_times.append(time.perf_counter() - t)
            if other is not None:
                quiet()
                reply = other.ask("incremental")
                if reply[:1] == ["incremental"]:
                    other_again.append(float(reply[1]))
                else:
                    reason, other = "nono-py incremental failed: " + other.stop()[-300:], None
        print(
            f"nono re-snapshot:     {stats(again_times)}  ({again.hashed_files} files, "
            f"{again.hashed_bytes / 1e6:.1f} MB hashed; {changed_bytes / 1e6:.1f} MB changed)"
        )
        ratio = statistics.median(again_times) / statistics.median(ours)
        print(f"re-snapshot / baseline (medians): {ratio:.3f}  (target: under 0.1)")
        if other is not None and other_again:
            print(f"nono-py incremental:  {stats(other_again)}")
            print(
                f"nono / nono-py (medians): baseline {statistics.median(ours) / statistics.median(theirs):.2f} "
                f"(without sync {statistics.median(ours_no_sync) / statistics.median(theirs):.2f}), "
                f"re-snapshot {statistics.median(again_times) / statistics.median(other_again):.2f}"
            )
            other.stop()
        else:
            print(f"nono-py comparison skipped: {reason}")

        quiet()
        t = time.perf_counter()
        report = store.restore(baseline.id)
        print(
            f"nono restore:         {time.perf_counter() - t:6.3f} s  ({len(report.written)} files written back, "
            "safety snapshot included)"
        )
        quiet()
        t = time.perf_counter()
        verified = store.verify(baseline.id)
        print(
            f"nono verify:          {time.perf_counter() - t:6.3f} s  ({verified.objects_checked} objects, "
            f"{'OK' if verified.ok else 'FAILED'})"
        )
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
