"""Time a cached ``nono run --allow /tmp -- /bin/true`` against ``nono exec`` of the same bundle.

Prints the median and minimum wall time of ``/bin/true``, ``nono exec BUNDLE -- /bin/true``
and ``nono run --allow /tmp -- /bin/true`` over N interleaved runs, then checks issue 6's
target: a cached ``nono run`` costs at most 1.5x ``nono exec`` of the same bundle.

Setup: a scratch HOME/XDG tree; one ``nono run`` fills the compile cache (and makes the
signing key); the bundle it compiled is taken from the cache and given to ``nono exec``,
so both apply byte-identical policy. The first runs of each command are warm-ups (the
launcher's verification memo, bytecode). Each run is one ``posix_spawn`` + ``wait4`` from
this process; the three commands are interleaved run by run so that load from elsewhere
on the machine falls on all alike. The script also checks that a cached ``nono run``
imports neither lark, pydantic nor jinja2 (``-X importtime`` of one run).

``--frozen``: run from a copy of the source tree (``PYTHONPATH``). The compile cache keys on
a stamp of the compiler's code and data, so in a checkout where other work is going on
each edit turns the next ``nono run`` into a full compile; a frozen copy, like an installed
wheel, does not change under the benchmark.

``--without-supervisor`` (with ``--frozen``): also time ``nono run`` from a second frozen
copy in which ``start.parent_hooks`` installs no supervisor hook (the one place it is
switched on, edited in the copy only), with its own scratch home, and report what the
always-on hook costs a cached run.

Usage: python benchmarks/run.py [--runs N] [--profile NAME|PATH] [--frozen] [--without-supervisor]
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

WARMUP = 3
HEAVY = ("lark", "pydantic", "jinja2")
BARE = "nono run, no supervisor hook"


def spawn(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``argv`` once; return its wall and CPU time in milliseconds.

    CPU time (user + system, from ``wait4``) includes the processes the command itself
    waited for, so ``nono run``'s parent and sandboxed child are both counted. On a machine
    busy with other work it is the steadier measure of what a command costs.
    """
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    elapsed = (time.perf_counter() - start) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed, (usage.ru_utime + usage.ru_stime) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--profile", help="profile for nono run (default: nono run's own default)")
    parser.add_argument("--frozen", action="store_true", help="run from a copy of the source tree")
    parser.add_argument(
        "--without-supervisor",
        action="store_true",
        help="with --frozen: also time nono run without its supervisor hook",
    )
    args = parser.parse_args()
    if args.without_supervisor and not args.frozen:
        parser.error("--without-supervisor needs --frozen (it edits a copy of the tree)")

    nono = os.path.join(os.path.dirname(sys.executable), "nono")
    true = "/bin/true"
    with tempfile.TemporaryDirectory(prefix="nono-bench-run-") as scratch:
        home = os.path.join(scratch, "home")
        os.mkdir(home)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
        if args.frozen:
            import shutil

            root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
            frozen = os.path.join(scratch, "src")
            for folder in ("nonoc", "grammar", "backends", "stdlib", "profiles"):
                shutil.copytree(
                    os.path.join(root, folder),
                    os.path.join(frozen, folder),
                    ignore=shutil.ignore_patterns("__pycache__"),
                )
            env["PYTHONPATH"] = frozen
            if args.without_supervisor:
                bare = os.path.join(scratch, "src-without-supervisor")
                shutil.copytree(frozen, bare)
                start_py = os.path.join(bare, "nonoc", "runtime", "run", "start.py")
                with open(start_py) as handle:
                    text = handle.read()
                switch = 'if sys.platform != "darwin":  # seccomp user notification: Linux only'
                if switch not in text:
                    raise SystemExit("start.py no longer switches the supervisor on as expected")
                with open(start_py, "w") as handle:
                    handle.write(text.replace(switch, "if False:"))
                bare_home = os.path.join(scratch, "home-without-supervisor")
                os.mkdir(bare_home)
                bare_env = dict(env, PYTHONPATH=bare, HOME=bare_home)
                for name, sub in (
                    ("XDG_CONFIG_HOME", ".config"),
                    ("XDG_CACHE_HOME", ".cache"),
                    ("XDG_STATE_HOME", os.path.join(".local", "state")),
                ):
                    bare_env[name] = os.path.join(bare_home, sub)
        # A neutral working directory: the cache refuses to record a compile whose sources it
        # cannot tell apart (a checkout's profiles/ next to the frozen copy's).
        os.chdir(scratch)
        profile = ["--profile", args.profile] if args.profile else []
        run_argv = [nono, "run", *profile, "--allow", "/tmp", "--", true]
        for _ in range(2):  # the first run makes the signing key and may not be cached
            subprocess.run(run_argv, env=env, check=True, stderr=subprocess.DEVNULL)
        bundles = glob.glob(os.path.join(home, ".cache", "nono", "bundles", "objects", "*.bundle"))
        if len(bundles) != 1:
            raise SystemExit(f"expected one cached bundle, found {len(bundles)}")
        exec_argv = [nono, "exec", bundles[0], "--", true]

        imports = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "nonoc.cli.nono", *run_argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stderr
        heavy = sorted({m for m in HEAVY if f" {m}\n" in imports or f" {m}." in imports})

        commands = {
            "/bin/true": [true],
            "nono exec BUNDLE -- /bin/true": exec_argv,
            "nono run --allow /tmp -- /bin/true": run_argv,
        }
        envs = {name: env for name in commands}
        if args.without_supervisor:
            for _ in range(2):
                subprocess.run(run_argv, env=bare_env, check=True, stderr=subprocess.DEVNULL)
            commands[BARE] = run_argv
            envs[BARE] = bare_env
        times: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for index in range(WARMUP + args.runs):
            for name, argv in commands.items():
                elapsed, used = spawn(argv, envs[name])
                if index >= WARMUP:
                    times[name].append(elapsed)
                    cpu[name].append(used)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )
    print(f"runs: {args.runs} interleaved (after {WARMUP} warm-ups)")
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(
        f"{'command':<36}{'wall median':>12}{'wall min':>10}{'CPU median':>12}{'CPU min':>9}  (ms)"
    )
    for name in commands:
        print(
            f"{name:<36}{statistics.median(times[name]):>12.2f}{min(times[name]):>10.2f}"
            f"{statistics.median(cpu[name]):>12.2f}{min(cpu[name]):>9.2f}"
        )
    run, exe = "nono run --allow /tmp -- /bin/true", "nono exec BUNDLE -- /bin/true"
    ratio = statistics.median(times[run]) / statistics.median(times[exe])
    print(f"cached nono run / nono exec = {ratio:.2f} (wall, median; target <= 1.50)")
    print(f"cached nono run / nono exec = {min(times[run]) / min(times[exe]):.2f} (wall, minimum)")
    cpu_ratio = statistics.median(cpu[run]) / statistics.median(cpu[exe])
    print(f"cached nono run / nono exec = {cpu_ratio:.2f} (CPU, median)")
    if BARE in times:
        wall = statistics.median(times[run]) - statistics.median(times[BARE])
        used = statistics.median(cpu[run]) - statistics.median(cpu[BARE])
        print(
            f"the supervisor hook costs a cached run {wall:.2f} ms wall, {used:.2f} ms CPU "
            f"(medians); without it nono run / nono exec = "
            f"{statistics.median(times[BARE]) / statistics.median(times[exe]):.2f} (wall), "
            f"{statistics.median(cpu[BARE]) / statistics.median(cpu[exe]):.2f} (CPU)"
        )
    print(
        "heavy imports on a cache hit: "
        + (", ".join(heavy) if heavy else "none (lark, pydantic, jinja2 absent)")
    )
    return 0 if ratio <= 1.5 and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
