"""Rollback snapshot benchmark: a baseline of a generated tree, then a re-snapshot after 1% changes.

    .venv/bin/python benchmarks/rollback.py [--files 10000] [--megabytes 200] [--no-compare]

Prints figures; asserts nothing. The tree (by default 10,000 files, 200 MB, 100
directories, sizes log-normally spread, random content from a fixed seed) is written to
a temporary directory; then:

1. baseline: ``SnapshotStore.snapshot`` into an empty store (every file read, hashed, stored);
2. 1% of the files (chosen with the seed) are rewritten with new content of the same size;
3. re-snapshot: the same call again (only changed files are read);
4. restore of the baseline (undoes the 1%), and ``verify`` of the baseline.

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
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nonoc.runtime.rollback import SnapshotStore  # noqa: E402


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
    manager = nono_py.SnapshotManager(sys.argv[1], [sys.argv[2]])
    t = time.perf_counter(); manager.create_baseline(); print("baseline", time.perf_counter() - t, flush=True)
    sys.stdin.readline()
    t = time.perf_counter(); _, changes = manager.create_incremental()
    print("incremental", time.perf_counter() - t, len(changes), flush=True)
    """
)


def start_nono_py(work: Path, tree: Path) -> tuple[subprocess.Popen[str] | None, str]:
    """Install nono-py into a throwaway virtualenv and start the driver; (process, reason if not)."""
    venv = work / "nono-py-venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=120)
        pip = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "nono-py"], capture_output=True, text=True, timeout=600
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not create a virtualenv: {exc}"
    if pip.returncode != 0:
        return None, "pip install nono-py failed: " + (pip.stderr.strip().splitlines() or ["?"])[-1]
    process = subprocess.Popen(
        [str(venv / "bin" / "python"), "-c", NONO_PY_DRIVER, str(work / "nono-py-session"), str(tree)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, ""


def main() -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--change", type=float, default=0.01, help="fraction of files changed (default 0.01)")
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
        print(f"tree: {len(paths)} files, {total / 1e6:.1f} MB in {work} (written in {time.perf_counter() - t:.2f} s)")
        time.sleep(0.3)  # leave the window in which timestamps cannot prove a file unchanged

        store = SnapshotStore(work / "store")
        t = time.perf_counter()
        baseline = store.snapshot([tree], "bench", "baseline")
        baseline_s = time.perf_counter() - t
        print(f"nono baseline:      {baseline_s:7.3f} s  ({baseline.hashed_files} files, "
              f"{baseline.hashed_bytes / 1e6:.1f} MB hashed and stored, fsync included)")

        other, reason = (None, "--no-compare") if args.no_compare else start_nono_py(work, tree)
        other_baseline = None
        if other is not None:
            line = other.stdout.readline().split()  # type: ignore[union-attr]
            if line and line[0] == "baseline":
                other_baseline = float(line[1])
                print(f"nono-py baseline:   {other_baseline:7.3f} s")
            else:
                reason = "nono-py driver failed: " + other.stderr.read().strip()[-300:]  # type: ignore[union-attr]
                other = None

        changed_bytes = change(paths, args.change, rng)
        time.sleep(0.3)
        t = time.perf_counter()
        again = store.snapshot([tree], "bench", "after")
        again_s = time.perf_counter() - t
        print(f"nono re-snapshot:   {again_s:7.3f} s  ({again.hashed_files} files, "
              f"{again.hashed_bytes / 1e6:.1f} MB hashed; {changed_bytes / 1e6:.1f} MB changed)")
        print(f"re-snapshot / baseline: {again_s / baseline_s:.3f}  (target: under 0.1)")

        if other is not None:
            other.stdin.write("go\n")  # type: ignore[union-attr]
            other.stdin.flush()  # type: ignore[union-attr]
            line = other.stdout.readline().split()  # type: ignore[union-attr]
            other.wait(timeout=600)
            if line and line[0] == "incremental":
                other_again = float(line[1])
                print(f"nono-py incremental:{other_again:7.3f} s  ({line[2]} changes reported)")
                if other_baseline:
                    print(f"baseline nono / nono-py: {baseline_s / other_baseline:.2f}   "
                          f"re-snapshot nono / nono-py: {again_s / other_again:.2f}")
            else:
                print("nono-py incremental failed: " + other.stderr.read().strip()[-300:])  # type: ignore[union-attr]
        else:
            print(f"nono-py comparison skipped: {reason}")

        t = time.perf_counter()
        report = store.restore(baseline.id)
        print(f"nono restore:       {time.perf_counter() - t:7.3f} s  ({len(report.written)} files written back, "
              "safety snapshot included)")
        t = time.perf_counter()
        verified = store.verify(baseline.id)
        print(f"nono verify:        {time.perf_counter() - t:7.3f} s  ({verified.objects_checked} objects, "
              f"{'OK' if verified.ok else 'FAILED'})")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
