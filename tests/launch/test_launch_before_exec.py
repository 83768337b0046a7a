"""``apply_payload(before_exec=…)``: the one point where ``nono run`` adds to the child's work.

The callback must run sandboxed (after Landlock and the bundle's filter) and right before
``execve`` in the same process, with the plan the ruleset was built from, and what it
raises must stop the launch. ``nono exec``
passes none; ``tests/launch/test_launch_memo.py`` checks what it imports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from launch_helpers import PYTHON, READ_TREE, payload, rule, table

pytestmark = pytest.mark.kernel

LAUNCHER = r"""
import errno, json, os, sys
from nonoc.launch.apply import apply_payload
spec = json.loads(sys.argv[1])

def before_exec(plan):
    try:
        open(spec["outside"]).close()
        seen = "OK"
    except OSError as exc:
        seen = errno.errorcode[exc.errno]
    granted = any(g.path == spec["granted"] for g in plan.grants)  # the plan it was built from
    os.write(1, f"before_exec {seen} {granted} {os.getpid()}\n".encode())
    if spec["fail"]:
        raise OSError(errno.EPERM, "refused by the hook")

try:
    sys.exit(apply_payload(spec["payload"], spec["argv"], before_exec=before_exec))
except OSError as exc:
    print("raised", exc.strerror)
    sys.exit(126)
"""


def launch(tree: Path, *, fail: bool) -> list[str]:
    document = payload(table([rule("g0", tree / "ro", READ_TREE)]))
    spec = {
        "payload": document,
        "argv": [PYTHON, "-I", "-S", "-c", "import os; print('exec', os.getpid())"],
        "outside": str(tree / "none" / "file"),
        "granted": str(tree / "ro"),
        "fail": fail,
    }
    result = subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == (126 if fail else 0), result.stderr
    return result.stdout.split()


def test_before_exec_runs_sandboxed_then_the_same_process_execs(
    kernel_abi: int, tree: Path
) -> None:
    hook, seen, granted, pid, execed, exec_pid = launch(tree, fail=False)
    assert (hook, seen, execed) == ("before_exec", "EACCES", "exec")  # Landlock already applied
    assert granted == "True"
    assert pid == exec_pid


def test_what_before_exec_raises_stops_the_launch(kernel_abi: int, tree: Path) -> None:
    words = launch(tree, fail=True)
    assert words[:2] == ["before_exec", "EACCES"]
    assert "exec" not in words and "raised" in words
