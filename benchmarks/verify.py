"""What bundle verification costs the launcher: full signature check against the memo.

Usage: python benchmarks/verify.py [--runs N]

Each run is a fresh interpreter that imports ``nonoc.launch.verify`` and verifies one
signed bundle, the first thing ``nono exec`` does. "full" disables the memo (the first
exec of a bundle: Ed25519 through ``cryptography``); "memo" is every later exec of the
same bytes (a keyed BLAKE2b check). Both are shown next to ``python -c pass``: the
median wall time of whole processes, and the median time the verification itself takes
inside the process (import of ``nonoc.launch.verify`` and the call), which is less noisy
on a busy machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wall_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of ``command`` over ``runs`` fresh processes."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def inside_ms(code: str, env: dict[str, str], runs: int) -> float:
    """Median time ``code`` takes inside a fresh interpreter (imports included)."""
    timer = (
        f"import time; _t = time.perf_counter(); {code}; print((time.perf_counter() - _t) * 1000)"
    )
    times = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", timer], env=env, check=True, capture_output=True, text=True
        )
        times.append(float(result.stdout))
    return statistics.median(times)


def import_ms(code: str, env: dict[str, str]) -> tuple[float, list[str]]:
    """Total import time (ms) of ``code`` beyond a bare interpreter, and the top modules."""

    def profile(snippet: str) -> dict[str, int]:
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", snippet],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        found: dict[str, int] = {}
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "|" not in line or "self [us]" in line:
                continue
            _, cumulative, name = line.split("|")
            if not name.startswith("  "):  # top level of the tree only
                found[name.strip()] = int(cumulative)
            found.setdefault(name.strip(), found.get(name.strip(), 0))
        return {k: v for k, v in found.items() if v}

    base = profile("pass")
    mine = profile(code)
    extra = {name: us for name, us in mine.items() if name not in base}
    top = sorted(extra.items(), key=lambda item: -item[1])[:5]
    return sum(extra.values()) / 1000, [f"{name} {us / 1000:.1f}" for name, us in top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nono-bench-") as scratch:
        home = Path(scratch)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_CACHE_HOME=str(home / "cache"),
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        )
        bundle = home / "bench.bundle"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "nonoc.cli.nonoc",
                "compile",
                str(REPO / "examples" / "quickstart.nono"),
                "-o",
                str(bundle),
            ],
            env=env,
            cwd=home,
            check=True,
            capture_output=True,
        )
        full = f"from nonoc.launch.verify import load_verified; load_verified({str(bundle)!r}, memo=False)"
        memo = f"from nonoc.launch.verify import load_verified; load_verified({str(bundle)!r})"
        subprocess.run(
            [sys.executable, "-c", memo], env=env, check=True
        )  # writes the memo and bytecode
        bare_ms = wall_ms([sys.executable, "-c", "pass"], env, args.runs)
        full_ms = wall_ms([sys.executable, "-c", full], env, args.runs)
        memo_ms = wall_ms([sys.executable, "-c", memo], env, args.runs)
        full_inside = inside_ms(full, env, args.runs)
        memo_inside = inside_ms(memo, env, args.runs)
        json_inside = inside_ms("import json", env, args.runs)
        full_imports, full_top = import_ms(full, env)
        memo_imports, memo_top = import_ms(memo, env)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    print(f"runs: {args.runs} fresh interpreters each; medians")
    print("                          process wall  in-process (import + verify)")
    print(f"python -c pass            {bare_ms:8.1f} ms")
    print(f"verify, full (Ed25519)    {full_ms:8.1f} ms  {full_inside:6.1f} ms")
    print(f"verify, memo (BLAKE2b)    {memo_ms:8.1f} ms  {memo_inside:6.1f} ms")
    print(
        f"import json alone                         {json_inside:6.1f} ms  (the launcher reads JSON anyway)"
    )
    print("import profile (-X importtime, beyond a bare interpreter; inflated by the profiler):")
    print(f"  full: {full_imports:.1f} ms: {', '.join(full_top)}")
    print(f"  memo: {memo_imports:.1f} ms: {', '.join(memo_top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
