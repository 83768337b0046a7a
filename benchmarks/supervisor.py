"""What the supervisor costs: open-heavy workloads supervised against unsupervised, and the
per-call cost of unix-socket and metadata mediation.

Workloads (each run is one sandboxed child, started the way ``nono run`` starts it: fork,
Landlock, the bundle's seccomp filter, the listener hand-off when there is one, exec):

* ``imports``: ``/usr/bin/python3 -I -c 'import json, email, http.client, …'``;
* ``find``: ``find /usr/lib/python3* -type f`` (an ``openat`` per directory);
* ``sendmsg``: 2,000 ``sendmsg`` on a socketpair (unix-socket mediation's per-call cost);
* ``chmod``: 2,000 ``chmod`` of a file in a writable grant (``protect metadata``'s).

Modes: ``plain`` (no supervisor: nothing notified), ``sockets`` (what every ``nono run``
gets on a kernel without Landlock's unix-socket right), ``supervised`` (``--supervised``:
opens too), ``metadata`` (``protect metadata``). Modes are interleaved run by run so load
from elsewhere falls on all alike; the first runs are warm-ups. ``--profile`` runs the
supervised ``imports`` workload once more with the supervisor's loop under cProfile and
prints where its time goes.

Usage: python benchmarks/supervisor.py [--runs N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from nonoc.backends.host import HostFacts  # noqa: E402
from nonoc.bundle.canonical import canonical_json  # noqa: E402
from nonoc.bundle.payload import build_payload  # noqa: E402
from nonoc.compile import _lower  # noqa: E402
from nonoc.launch.seccomp import native_arch  # noqa: E402
from nonoc.resolve import load_policy_text  # noqa: E402
from nonoc.runtime.supervisor.grants import GrantTable  # noqa: E402
from nonoc.runtime.supervisor.lowering import Mediation, with_notify_rules  # noqa: E402
from nonoc.runtime.supervisor.spawn import spawn  # noqa: E402
from nonoc.runtime.supervisor.supervisor import Supervisor  # noqa: E402

PYTHON = "/usr/bin/python3"
IMPORTS = (
    "import json, email, http.client, urllib.request, asyncio, decimal, xml.dom.minidom, "
    "argparse, logging, unittest"
)
SENDMSG = (
    "import socket\na, b = socket.socketpair()\n"
    "for _ in range(2000):\n    a.sendmsg([b'x'])\n    b.recv(1)\n"
)
WARMUP = 2


def payload_for(work: Path, mediation: Mediation) -> dict[str, Any]:
    text = (
        f'profile bench "supervisor benchmark" {{\n  use system\n  allow "{work}"\n'
        "  protect metadata\n}\n"
    )
    policy = load_policy_text(text, "bench.nono", "linux", profile="bench")
    policy = with_notify_rules(policy, mediation, native_arch())
    build = _lower(policy, HostFacts.for_target("linux"), None)
    return dict(json.loads(canonical_json(build_payload({"linux": build}))))


def run_once(
    payload: dict[str, Any],
    argv: list[str],
    env: dict[str, str],
    profiler: cProfile.Profile | None = None,
) -> tuple[float, dict[str, int]]:
    """Seconds from fork to the child's exit, and the supervisor's decision counts.

    The grant table is built before the clock starts: ``nono run`` builds it while the
    child sandboxes itself, so it costs a run no wall time there (the hook's own fixed
    cost is in ``docs/performance.md``).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    grants = GrantTable.from_payload(payload, environ=env)
    started = time.perf_counter()
    child = spawn(payload, argv, environ=env, stdio=(None, devnull, None))
    supervisor = None
    if child.listener is not None:
        supervisor = Supervisor(child.listener, grants)
        if profiler is not None:
            serve = supervisor.serve

            def profiled() -> None:
                profiler.enable()
                try:
                    serve()
                finally:
                    profiler.disable()

            supervisor.serve = profiled  # type: ignore[method-assign]
        supervisor.start()
    code = child.wait()
    elapsed = time.perf_counter() - started
    os.close(devnull)
    counts: dict[str, int] = {}
    if supervisor is not None:
        supervisor.wait(5)
        supervisor.stop()
        counts = dict(supervisor.counts)
    if code != 0:
        raise SystemExit(f"{argv[:3]} exited {code} under {counts}")
    return elapsed, counts


def roundtrip(work: Path, env: dict[str, str], payloads: dict[str, dict[str, Any]]) -> None:
    """One notification's cost: 5,000 opens of a granted file, plain against supervised.

    Wall time per notification depends on how soon the two context switches get a CPU;
    the loop thread's own CPU time per notification (``time.thread_time``) does not.
    """
    count = 5000
    code = f"import os\nfor _ in range({count}):\n    os.close(os.open({str(work / 'f')!r}, 0))\n"
    argv = [PYTHON, "-I", "-S", "-c", code]
    cpu: list[float] = []
    serve = Supervisor.serve

    def timed(self: Supervisor) -> None:
        started = time.thread_time()
        try:
            serve(self)
        finally:
            cpu.append(time.thread_time() - started)

    walls = []
    Supervisor.serve = timed  # type: ignore[method-assign]
    try:
        for _ in range(5):
            plain, _ = run_once(payloads["plain"], argv, env)
            supervised, counts = run_once(payloads["supervised"], argv, env)
            walls.append((supervised - plain) / sum(counts.values()))
    finally:
        Supervisor.serve = serve  # type: ignore[method-assign]
    per_call = statistics.median(walls) * 1e6
    loop_cpu = statistics.median(cpu) / (count + 20) * 1e6
    print(f"round trip: {per_call:.1f} µs wall per notification (fastest {min(walls) * 1e6:.1f}), ")
    print(f"            {loop_cpu:.1f} µs of it the supervisor loop's own CPU")


def main() -> int:
    """Run the benchmark and print a table (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    options = parser.parse_args()
    if not os.path.exists(PYTHON):
        raise SystemExit(f"{PYTHON} is needed")
    scratch = Path(tempfile.mkdtemp(prefix="nono-supervisor-bench-"))
    home, work = scratch / "home", scratch / "work"
    home.mkdir()
    work.mkdir()
    (work / "f").write_text("x")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    trees = sorted(str(p) for p in Path("/usr/lib").glob("python3*") if p.is_dir())
    target = str(work / "f")
    chmod = f"import os\nfor i in range(2000):\n    os.chmod({target!r}, 0o600 | (i & 1) << 6)\n"
    workloads = {
        "imports": [PYTHON, "-I", "-c", IMPORTS],
        "find": ["/usr/bin/find", *trees, "-type", "f"],
        "sendmsg": [PYTHON, "-I", "-S", "-c", SENDMSG],
        "chmod": [PYTHON, "-I", "-S", "-c", chmod],
    }
    modes = {
        "plain": Mediation(),
        "sockets": Mediation(sockets=True),
        "supervised": Mediation(opens=True, sockets=True),
        "metadata": Mediation(metadata=True),
    }
    payloads = {mode: payload_for(work, mediation) for mode, mediation in modes.items()}
    results: dict[tuple[str, str], list[float]] = {}
    notified: dict[tuple[str, str], int] = {}
    for index in range(options.runs + WARMUP):
        for workload, argv in workloads.items():
            for mode, payload in payloads.items():
                elapsed, counts = run_once(payload, argv, env)
                if index >= WARMUP:
                    results.setdefault((workload, mode), []).append(elapsed)
                    notified[(workload, mode)] = sum(counts.values())
    print(
        f"{options.runs} runs each: median and fastest ms, notifications per run, ratio to plain,"
    )
    print("and what each notification added (median against plain, over the notifications)")
    header = f"{'workload':<9} {'mode':<11} {'median':>8} {'min':>8}"
    print(f"{header} {'calls':>6} {'ratio':>6} {'µs/call':>8}")
    for workload in workloads:
        base = statistics.median(results[(workload, "plain")])
        for mode in modes:
            times = results[(workload, mode)]
            median = statistics.median(times)
            calls = notified.get((workload, mode), 0)
            each = f"{(median - base) / calls * 1e6:8.0f}" if calls else f"{'-':>8}"
            line = f"{workload:<9} {mode:<11} {median * 1000:8.1f} {min(times) * 1000:8.1f}"
            print(f"{line} {calls:6d} {median / base:6.2f} {each}")
    roundtrip(work, env, payloads)
    if options.profile:
        profiler = cProfile.Profile()
        run_once(payloads["supervised"], workloads["imports"], env, profiler)
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(14)
        print(stream.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
