"""Real Seatbelt on a real Mac: an allowed and a denied access, through the launcher.

Marked ``macos``; anywhere else every test skips and says why. These are the only tests
that show Seatbelt itself agrees with the generated text: docs/macos.md lists what the
rest of the suite can and cannot vouch for without them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from seatbelt_policies import R, W, X, compile_policy, deny, grant, policy

from nonoc.ir import Network, NetworkMode
from nonoc.launch import macos

pytestmark = pytest.mark.macos
REPO = Path(__file__).resolve().parents[3]

#: What the probe commands need to start on macOS 12–15 besides the built-in baseline.
SYSTEM = (
    grant("/usr", R, X),
    grant("/bin", R, X),
    grant("/System/Library", R, X),
    grant("/private/var/db/dyld", R),
)


@pytest.fixture(autouse=True)
def on_a_mac() -> None:
    if sys.platform != "darwin":
        pytest.skip(f"needs macOS: Seatbelt exists only there (this host is {sys.platform})")
    if macos._sandbox_init() is None and not os.path.exists(macos.SANDBOX_EXEC):
        pytest.skip("this Mac has neither sandbox_init_with_parameters nor /usr/bin/sandbox-exec")


def run(
    artifact: dict,
    argv: list[str],
    cwd: Path,
    *,
    fallback: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Launch ``argv`` under ``artifact`` in a child, by the ctypes path or by sandbox-exec."""
    patch = "macos.apply_profile = lambda sbpl, params: False\n" if fallback else ""
    code = (
        "import json, sys\nfrom nonoc.launch import macos\n"
        + patch
        + "sys.exit(macos.exec_command(json.loads(sys.argv[1]), sys.argv[2:]))\n"
    )
    child_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", str(cwd)),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-c", code, json.dumps(artifact), *argv],
        cwd=cwd,
        text=True,
        capture_output=True,
        timeout=60,
        env=child_env | (env or {}),
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "secret").mkdir(parents=True)
    (root / "readme.txt").write_text("allowed\n")
    (root / "secret" / "key.txt").write_text("denied\n")
    return root


@pytest.mark.parametrize("fallback", [False, True], ids=["sandbox_init", "sandbox-exec"])
def test_allowed_read_and_denied_read(project: Path, fallback: bool) -> None:
    artifact, _ = compile_policy(
        policy(
            grants=(*SYSTEM, grant("$CWD", R)),
            denies=(deny("$CWD/secret"),),
            network=Network(mode=NetworkMode.BLOCKED),
        )
    )
    allowed = run(artifact, ["/bin/cat", "readme.txt"], project, fallback=fallback)
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout == "allowed\n"
    denied = run(artifact, ["/bin/cat", "secret/key.txt"], project, fallback=fallback)
    assert denied.returncode != 0
    assert "Operation not permitted" in denied.stderr
    assert "denied" not in denied.stdout


def test_deny_holds_through_a_symlink(project: Path) -> None:
    (project / "link").symlink_to(project / "secret")
    artifact, _ = compile_policy(
        policy(
            grants=(*SYSTEM, grant("$CWD", R)),
            denies=(deny("$CWD/secret"),),
            network=Network(mode=NetworkMode.BLOCKED),
        )
    )
    result = run(artifact, ["/bin/cat", "link/key.txt"], project)
    assert result.returncode != 0 and "Operation not permitted" in result.stderr


def test_write_needs_a_write_grant(project: Path) -> None:
    read_only, _ = compile_policy(
        policy(grants=(*SYSTEM, grant("$CWD", R)), network=Network(mode=NetworkMode.BLOCKED))
    )
    refused = run(read_only, ["/usr/bin/touch", "new.txt"], project)
    assert refused.returncode != 0 and not (project / "new.txt").exists()
    writable, _ = compile_policy(
        policy(grants=(*SYSTEM, grant("$CWD", R, W)), network=Network(mode=NetworkMode.BLOCKED))
    )
    done = run(writable, ["/usr/bin/touch", "new.txt"], project)
    assert done.returncode == 0, done.stderr
    assert (project / "new.txt").exists()


def test_exit_codes(project: Path) -> None:
    artifact, _ = compile_policy(policy(grants=SYSTEM, network=Network(mode=NetworkMode.BLOCKED)))
    assert run(artifact, ["no-such-command-nono"], project).returncode == 127
    assert run(artifact, ["/usr/bin/true"], project).returncode == 0
    no_exec, _ = compile_policy(
        policy(grants=(grant("/usr", R),), network=Network(mode=NetworkMode.BLOCKED))
    )
    assert run(no_exec, ["/usr/bin/true"], project).returncode == 126


def test_proxy_mode_reaches_only_the_proxy_port(project: Path) -> None:
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    proxy, other = (s.getsockname()[1] for s in listeners)
    try:
        artifact, _ = compile_policy(policy(grants=SYSTEM, network=Network(mode=NetworkMode.PROXY)))
        env = {macos.PROXY_PORT_ENV: str(proxy)}
        reached = run(
            artifact, ["/usr/bin/nc", "-z", "-w", "5", "127.0.0.1", str(proxy)], project, env=env
        )
        assert reached.returncode == 0, reached.stderr
        refused = run(
            artifact, ["/usr/bin/nc", "-z", "-w", "5", "127.0.0.1", str(other)], project, env=env
        )
        assert refused.returncode != 0
    finally:
        for listener in listeners:
            listener.close()
