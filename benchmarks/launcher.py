"""Time and peak memory of ``nono exec BUNDLE -- /bin/true`` next to its baselines.

Prints, for each of ``/bin/true``, the same venv's ``python -c pass`` and ``nono exec``,
the median wall time (with quartiles and minimum), the median CPU time and the median peak
RSS over N runs, then checks the launcher
against issue 2's targets:

* what the launcher adds over ``python -c pass`` + ``/bin/true`` is at most half of
  ``python -c pass``'s own start-up time;
* its peak memory is at most 20% above ``python -c pass``'s.

Wall time: each run is one ``posix_spawn`` + ``wait4`` from this process, and the three
commands are interleaved run by run, so that load from elsewhere on the machine falls on
all three alike. Peak memory: ``ru_maxrss`` of a child spawned from a Python parent counts
the parent's own pages (the child shares or copies its memory until ``execve``), so peak
RSS is taken from GNU ``/usr/bin/time -f %M``, a small C parent whose ``wait4`` reports the
child's own peak, the figure ``getrusage(RUSAGE_CHILDREN)`` gives in a parent with only that
child. For ``nono exec`` the peak includes the Python launcher before its ``execve``.

Usage: python benchmarks/launcher.py [--runs N] [--bundle PATH] [--breakdown] [--landlock-only]
       [--also LABEL=TREE ...]
Without ``--bundle`` a small profile is compiled with ``nonoc compile`` in a scratch
config/cache directory (the launcher then verifies the signature fully once and uses its
verification memo afterwards, as it does for a user). The first runs of each command are
warm-ups and not counted.
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

PROFILE = """\
profile bench "launcher benchmark" {
  read "/usr", "/etc"
  exec "/usr"
}
"""

WARMUP = 3

#: Run in a child: the launcher's stages one by one, each timed (ms), printed as JSON.
STAGES = r"""
import time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import sys
from nonoc.cli import nono
mark("nonoc.cli.nono (what the entry script imports)")
from nonoc.launch import cli, apply
mark("nonoc.launch.cli, apply, landlock, libc (_ctypes)")
from nonoc.launch import verify
mark("nonoc.launch.verify, memo, rights (_blake2)")
payload = verify.load_verified(sys.argv[1], defer_provenance=True)
mark("load_verified (memo hit)")
linux = payload["linux"]
env = apply.child_environment(linux.get("launch") or {}, __import__("os").environ)
command = apply.find_command("/bin/true", env)
from nonoc.launch import compat, plan
mark("nonoc.launch.plan, compat, rights, hostpaths, denies, nonoc.paths")
built = plan.build(linux["landlock"], apply.linux_provenance(payload))
mark("plan.build (ABI, paths, denies)")
seccomp_artifact = linux.get("seccomp")
if seccomp_artifact:
    from nonoc.launch import seccomp
    mark("nonoc.launch.seccomp and its imports (ctypes)")
    program = seccomp.decode(seccomp_artifact)
    mark("seccomp decode")
apply.enforce(built)
mark("Landlock ruleset, rules, no_new_privs, restrict_self")
if seccomp_artifact:
    seccomp.install(program)
    mark("seccomp filter install")
# Printed without json: once restricted, this process may not read Python's library.
for i, (name, t) in enumerate(marks[1:]):
    print(f"{(t - marks[i][1]) * 1000}\t{name}")
"""


TIME = "/usr/bin/time"


def spawn(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``argv`` once; return its wall time and CPU time (user + system) in ms.

    CPU time comes from the child's own ``wait4`` rusage. On a loaded machine wall time
    includes waiting for a CPU and CPU time does not, so it shows the work done with
    less noise; the targets are judged on wall time. Exits if the command fails.
    """
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000


def peak_rss(argv: list[str], env: dict[str, str]) -> int | None:
    """Peak RSS (KiB) of one run of ``argv``, measured by GNU time; None without it."""
    if not os.access(TIME, os.X_OK):
        return None
    done = subprocess.run(
        [TIME, "-f", "%M", *argv], capture_output=True, text=True, env=env, check=True
    )
    return int(done.stderr.strip().splitlines()[-1])


class Row:
    """One command's figures: wall time (median, quartiles, minimum), CPU time, peak RSS."""

    def __init__(self, walls: list[float], cpus: list[float], peaks: list[int]) -> None:
        quartiles = statistics.quantiles(walls, n=4)
        self.wall, self.q1, self.q3, self.fastest = (
            statistics.median(walls),
            quartiles[0],
            quartiles[2],
            min(walls),
        )
        self.cpu = statistics.median(cpus)
        self.peak = statistics.median(peaks) if peaks else None


def measure(
    commands: dict[str, list[str]], envs: dict[str, dict[str, str]], runs: int
) -> dict[str, Row]:
    """Run every command ``runs`` times, interleaved (each with its env), then peak RSS."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, list[int]] = {name: [] for name in commands}
    for index in range(runs + WARMUP):
        for name, argv in commands.items():
            wall, cpu = spawn(argv, envs[name])
            if index >= WARMUP:
                walls[name].append(wall)
                cpus[name].append(cpu)
    for _ in range(min(runs, 10)):
        for name, argv in commands.items():
            peak = peak_rss(argv, envs[name])
            if peak is not None:
                peaks[name].append(peak)
    return {name: Row(walls[name], cpus[name], peaks[name]) for name in commands}


def breakdown(
    python: str, bundle: Path, env: dict[str, str], runs: int
) -> dict[str, tuple[float, float]]:
    """Median and minimum time of each launcher stage, measured inside a child Python."""
    samples: dict[str, list[float]] = {}
    for _ in range(runs):
        done = subprocess.run(
            [python, "-c", STAGES, str(bundle)], capture_output=True, text=True, env=env, check=True
        )
        for line in done.stdout.splitlines():
            ms, name = line.split("\t", 1)
            samples.setdefault(name, []).append(float(ms))
    return {name: (statistics.median(values), min(values)) for name, values in samples.items()}


def build_bundle(workdir: Path, env: dict[str, str], *, landlock_only: bool = False) -> Path:
    """Compile the benchmark profile (signing key made on first use).

    With ``landlock_only`` the bundle carries no seccomp filter: the figures then show the
    Landlock launcher alone.
    """
    source = workdir / "bench.nono"
    source.write_text(PROFILE)
    bundle = workdir / ("bench-landlock.bundle" if landlock_only else "bench.bundle")
    if landlock_only:
        script = (
            "import sys\n"
            "from nonoc.backends import landlock\n"
            "from nonoc.compile import compile_profile\n"
            "data = compile_profile(\n"
            "    sys.argv[1], 'linux', backends=[landlock], use_cache=False\n"
            ").data\n"
            "open(sys.argv[2], 'wb').write(data)\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, str(source), str(bundle)],
            check=True,
            env=env,
            capture_output=True,
        )
        return bundle
    nonoc = Path(sys.executable).parent / "nonoc"
    subprocess.run(
        [str(nonoc), "compile", str(source), "-o", str(bundle)],
        check=True,
        env=env,
        capture_output=True,
    )
    return bundle


def main() -> int:
    """Run the benchmark and print the figures; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--breakdown", action="store_true", help="time the launcher's stages too")
    parser.add_argument(
        "--landlock-only", action="store_true", help="compile the bundle without a seccomp filter"
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="LABEL=TREE",
        help="also time nono exec running the nonoc package in source tree TREE (put first on "
        "PYTHONPATH, e.g. a `git archive` of an older commit), interleaved with the others",
    )
    args = parser.parse_args()

    python = sys.executable
    nono = str(Path(python).parent / "nono")
    true = "/bin/true"
    with tempfile.TemporaryDirectory(prefix="nono-bench-") as scratch:
        env = dict(os.environ)
        # Users' interpreters keep bytecode; without it every run recompiles changed modules.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if args.bundle is None:
            env["XDG_CONFIG_HOME"] = f"{scratch}/config"
            env["XDG_CACHE_HOME"] = f"{scratch}/cache"
            bundle = build_bundle(Path(scratch), env, landlock_only=args.landlock_only)
        else:
            bundle = args.bundle
        commands = {
            "/bin/true": [true],
            "python -c pass": [python, "-c", "pass"],
            "nono exec BUNDLE -- /bin/true": [nono, "exec", str(bundle), "--", true],
        }
        envs = {name: env for name in commands}
        for also in args.also:
            label, _, tree = also.partition("=")
            name = f"nono exec ({label})"
            commands[name] = commands["nono exec BUNDLE -- /bin/true"]
            # Its own cache: launchers of another version keep their verification memo in
            # another form, and two of them sharing one would each miss every time.
            envs[name] = dict(env, PYTHONPATH=str(Path(tree).resolve()))
            envs[name]["XDG_CACHE_HOME"] = f"{scratch}/cache-{label}"
        load_before = os.getloadavg()[0]
        rows = measure(commands, envs, args.runs)
        load_after = os.getloadavg()[0]
        stages = breakdown(python, bundle, env, args.runs) if args.breakdown else {}

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Linux {platform.release()}, "
        f"Python {platform.python_version()}; load average {load_before:.2f} before, "
        f"{load_after:.2f} after"
    )
    print(
        f"runs: {args.runs} interleaved (after {WARMUP} warm-ups); peak RSS: median of "
        f"{min(args.runs, 10)} runs under {TIME}"
    )
    print(
        f"{'command':30} {'median ms':>9} {'q1..q3 ms':>13} {'min ms':>7} {'CPU ms':>7} "
        f"{'peak RSS KiB':>12}"
    )
    for name, row in rows.items():
        shown = f"{row.peak:12.0f}" if row.peak is not None else f"{'(no time)':>12}"
        name = name if len(name) <= 30 else name[:29] + "…"
        spread = f"{row.q1:.2f}..{row.q3:.2f}"
        print(f"{name:30} {row.wall:9.2f} {spread:>13} {row.fastest:7.2f} {row.cpu:7.2f} {shown}")

    true, python_row, nono_row = (
        rows["/bin/true"],
        rows["python -c pass"],
        rows["nono exec BUNDLE -- /bin/true"],
    )
    added = nono_row.wall - python_row.wall - true.wall
    ratio = added / python_row.wall
    added_cpu = nono_row.cpu - python_row.cpu - true.cpu
    memory = (
        nono_row.peak / python_row.peak - 1
        if nono_row.peak is not None and python_row.peak is not None
        else 0.0
    )
    if stages:
        print("stages inside the launcher (one process, after interpreter start-up):")
        print(f"  {'median':>7} {'min':>6}  ms")
        for name, (median, fastest) in stages.items():
            print(f"  {median:7.2f} {fastest:6.2f}  {name}")
    print(
        f"launcher adds {added:.2f} ms = {ratio:.0%} of python -c pass (target <= 50%); "
        f"CPU time: {added_cpu:.2f} ms = {added_cpu / python_row.cpu:.0%}"
    )
    print(f"peak memory {memory:+.0%} against python -c pass (target <= +20%)")
    for name, row in rows.items():
        if name.startswith("nono exec ("):
            extra = row.wall - python_row.wall - true.wall
            extra_cpu = row.cpu - python_row.cpu - true.cpu
            print(
                f"{name} adds {extra:.2f} ms = {extra / python_row.wall:.0%} (CPU "
                f"{extra_cpu / python_row.cpu:.0%}), peak memory "
                f"{(row.peak or 0) / (python_row.peak or 1) - 1:+.0%}"
            )
    return 0 if ratio <= 0.5 and memory <= 0.2 else 1


if __name__ == "__main__":
    sys.exit(main())
