"""The real terminal prompt, driven through tmux: the question appears, a typed answer decides."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from supervisor_helpers import Tree

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [{here!r}, {repo!r}]
    from supervisor_helpers import Tree, compile_payload, environment, run_supervised
    from nonoc.runtime.supervisor.prompt import TerminalPrompter
    from pathlib import Path
    work, target, home, result = sys.argv[1:5]
    payload = compile_payload(f'allow "{{work}}"')
    body = f"attempt('read', lambda: read({{target!r}}))"
    prompter = TerminalPrompter(timeout={timeout})
    out = run_supervised(payload, body, environment(Path(home)), answers=prompter)
    Path(result).write_text(json.dumps(out.results))
    """
)


def _tmux(server: str, *args: str) -> str:
    done = subprocess.run(["tmux", "-L", server, *args], capture_output=True, text=True, timeout=10)
    return done.stdout


def _wait_for(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def prompt_session(
    tree: Tree, keys: list[str], timeout: float = 20.0
) -> tuple[dict[str, Any], str]:
    """Start the supervised read in a tmux pane, type ``keys`` once the question shows."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    server = f"nono-supervisor-{os.getpid()}-{time.monotonic_ns()}"
    script = tree.root / "prompt_script.py"
    script.write_text(SCRIPT.format(here=str(HERE), repo=str(REPO), timeout=timeout))
    result = tree.root / "result.json"
    target = tree.outside / "notes.txt"
    command = " ".join(
        [
            sys.executable,
            str(script),
            str(tree.work),
            str(target),
            str(tree.home),
            str(result),
            "; sleep 30",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    subprocess.run(
        ["tmux", "-L", server, "new-session", "-d", "-x", "160", "-y", "40", command],
        env=env,
        check=True,
        timeout=10,
    )
    try:
        shown = _wait_for(lambda: "allow? [y/N]" in _tmux(server, "capture-pane", "-p"), 60)
        pane = _tmux(server, "capture-pane", "-p")
        assert shown, pane
        for key in keys:
            _tmux(server, "send-keys", key)
        assert _wait_for(result.exists, timeout + 30), _tmux(server, "capture-pane", "-p")
        time.sleep(0.1)
        return json.loads(result.read_text()), _tmux(server, "capture-pane", "-p", "-J")
    finally:
        _tmux(server, "kill-server")


def test_typed_yes_lets_the_agent_read(tree: Tree) -> None:
    results, pane = prompt_session(tree, ["y", "Enter"])
    assert results == {"read": "outside notes"}, pane
    assert f"wants to read {tree.outside / 'notes.txt'}" in pane
    assert "nono: allowed" in pane


def test_typed_no_is_eperm(tree: Tree) -> None:
    results, pane = prompt_session(tree, ["n", "Enter"])
    assert results == {"read": "EPERM"}, pane
    assert "nono: refused" in pane


def test_silence_past_the_timeout_is_no(tree: Tree) -> None:
    results, pane = prompt_session(tree, [], timeout=1.0)
    assert results == {"read": "EPERM"}, pane
    assert "no answer; refused" in pane
