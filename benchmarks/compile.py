"""Median wall time and peak memory of ``nonoc compile``: cold (empty cache) against cached.

Usage: python benchmarks/compile.py [SOURCE] [--runs N]

Every run is a fresh ``nonoc`` process in a throw-away HOME (its own keys, cache and
trusted keys), as a user would type it. The signing key is made first, so "cold" is the
compile itself: parse, resolve, lower, sign, store. Before each cold run the bundle cache
is emptied; cached runs reuse it. Bytecode is written as usual (a first, untimed run
compiles the modules), whatever PYTHONDONTWRITEBYTECODE says in the calling shell.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("lark", "pydantic", "jinja2", "cryptography", "keyring")


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Run ``command``; return its wall time (s) and peak resident memory (KiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed: {process.stderr.read().decode() if process.stderr else ''}"
        )
    if process.stderr:
        process.stderr.close()
    return elapsed, usage.ru_maxrss


def heavy_modules_on_hit(python: str, source: str, env: dict[str, str], cwd: Path) -> list[str]:
    """Which heavy libraries a cached compile imports (should be none)."""
    code = (
        "import sys; from nonoc.cli.nonoc import main; "
        f"main(['compile', {source!r}, '-o', 'bench.bundle']); "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [python, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )
    return [name for name in out.stdout.strip().split(",") if name]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(REPO / "examples" / "agent.nono"))
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    python = sys.executable
    nonoc = [python, "-m", "nonoc.cli.nonoc"]
    source = str(Path(args.source).resolve()) if Path(args.source).exists() else args.source
    with tempfile.TemporaryDirectory(prefix="nono-bench-") as scratch:
        home = Path(scratch)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        compile_cmd = [*nonoc, "compile", source, "-o", str(home / "bench.bundle")]
        subprocess.run([*nonoc, "keygen"], env=env, cwd=home, check=True, capture_output=True)
        timed(compile_cmd, env, home)  # writes bytecode; not counted
        bundles = home / "cache" / "nono" / "bundles"

        cold: list[tuple[float, int]] = []
        cached: list[tuple[float, int]] = []
        for _ in range(args.runs):
            shutil.rmtree(bundles, ignore_errors=True)
            cold.append(timed(compile_cmd, env, home))
            cached.append(timed(compile_cmd, env, home))
        bare = [timed([python, "-c", "pass"], env, home) for _ in range(args.runs)]
        heavy = heavy_modules_on_hit(python, source, env, home)

    def median_ms(runs: list[tuple[float, int]]) -> float:
        return statistics.median(t for t, _ in runs) * 1000

    def peak_mib(runs: list[tuple[float, int]]) -> float:
        return statistics.median(m for _, m in runs) / 1024

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    print(f"source: {args.source}   runs: {args.runs} each (medians of wall time and of peak RSS)")
    print(f"python -c pass        {median_ms(bare):7.1f} ms  {peak_mib(bare):6.1f} MiB")
    print(f"nonoc compile, cold   {median_ms(cold):7.1f} ms  {peak_mib(cold):6.1f} MiB")
    print(f"nonoc compile, cached {median_ms(cached):7.1f} ms  {peak_mib(cached):6.1f} MiB")
    ratio = median_ms(cached) / median_ms(cold)
    print(f"cached / cold = {ratio:.2f} (target: under 0.20)")
    print(f"heavy modules imported on a cache hit: {', '.join(heavy) or 'none'}")
    return 0 if ratio < 0.2 and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
