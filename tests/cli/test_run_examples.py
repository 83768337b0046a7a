"""The command lines users know from nono's documentation, verbatim, with the default profile.

No ``--profile`` here (except the last example): ``nono run`` starts from the installed
``default`` profile, or from its built-in fallback when none is installed, as a user's
would. The commands are the system's (sh, cat, rm, bash), which every such profile runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_run_support import REPO, Sandbox, require_landlock

pytestmark = pytest.mark.kernel


@pytest.fixture(autouse=True)
def _landlock() -> None:
    require_landlock()


#: Temporary directories a default profile lets any program write (stdlib/scratch.nono).
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


@pytest.fixture(scope="module")
def outside_tmp() -> Iterator[Path]:
    """A folder outside the temporary directories, shared by this module's tests.

    A default profile grants the temporary directories to every program, and a user's
    project and home are not there either.
    """
    for base in ("/srv", "/opt", "/mnt", os.path.expanduser("~")):
        if os.path.isdir(base) and os.access(base, os.W_OK) and not base.startswith(SCRATCH):
            break
    else:
        pytest.skip("no writable directory outside /tmp, /var/tmp and /dev/shm for a project")
    root = Path(tempfile.mkdtemp(prefix="nono-run-test-", dir=base)).resolve()
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def project(outside_tmp: Path, request: pytest.FixtureRequest) -> Sandbox:
    """A work directory holding f, src/a and an empty output/; the module's shared home."""
    root = outside_tmp / request.node.name
    root.mkdir()
    sandbox = Sandbox(root, outside_tmp)
    (sandbox.work / "f").write_text("f")
    (sandbox.work / "src").mkdir()
    (sandbox.work / "src" / "a").write_text("a")
    (sandbox.work / "output").mkdir()
    (sandbox.home / "private").write_text("p")
    return sandbox


def test_allow_dot(project: Sandbox) -> None:
    result = project.nono("run", "--allow", ".", "--", "sh", "-c", "cat f && echo new > g")
    assert (result.returncode, result.stdout) == (0, "f"), result.stderr
    assert (project.work / "g").read_text() == "new\n"
    outside = project.nono(
        "run", "--allow", ".", "--", "sh", "-c", f"echo x > {project.root}/outside"
    )
    assert outside.returncode != 0 and "Permission denied" in outside.stderr
    assert not (project.root / "outside").exists()


def test_read_src_write_output(project: Sandbox) -> None:
    result = project.nono(
        "run", "--read", "./src", "--write", "./output", "--", "sh", "-c", "cat src/a > output/copy"
    )
    assert result.returncode == 0, result.stderr
    assert (project.work / "output" / "copy").read_text() == "a"
    denied = project.nono(
        "run", "--read", "./src", "--write", "./output", "--", "sh", "-c", "echo x > src/new"
    )
    assert denied.returncode != 0 and "Permission denied" in denied.stderr


def test_allow_dot_net_block(project: Sandbox) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        script = f"echo hi > /dev/tcp/127.0.0.1/{port} && echo connected"
        result = project.nono("run", "--allow", ".", "--net-block", "--", "bash", "-c", script)
        assert result.returncode != 0
        assert "Operation not permitted" in result.stderr  # EPERM from the seccomp filter
        opened = project.nono("run", "--allow", ".", "--net-allow", "--", "bash", "-c", script)
        assert (opened.returncode, opened.stdout) == (0, "connected\n"), opened.stderr


def test_allow_dot_dry_run(project: Sandbox) -> None:
    result = project.nono("run", "--allow", ".", "--dry-run", "--", "sh", "-c", "touch ran")
    assert result.returncode == 0, result.stderr
    assert "--allow ." in result.stdout and 'allow "$CWD"' in result.stdout
    assert "--- what the kernel gets ---" in result.stdout
    assert not (project.work / "ran").exists()


def test_allow_cwd_allow_command_rm(project: Sandbox) -> None:
    result = project.nono("run", "--allow-cwd", "--allow-command", "rm", "--", "rm", "./f")
    assert result.returncode == 0, result.stderr
    assert not (project.work / "f").exists()
    protected = project.nono(
        "run", "--allow-cwd", "--allow-command", "rm", "--", "rm", str(project.home / "private")
    )
    assert protected.returncode == 1 and "Permission denied" in protected.stderr
    assert (project.home / "private").exists()


def test_profile_claude_code(project: Sandbox) -> None:
    shipped = REPO / "profiles" / "claude-code.nono"
    if not shipped.exists():
        pytest.skip("profiles/claude-code.nono is not written yet (the profiles issue)")
    result = project.nono(
        "run", "--profile", "claude-code", "--", "sh", "-c", "echo hello from claude-code"
    )
    assert (result.returncode, result.stdout) == (0, "hello from claude-code\n"), result.stderr
    dry = project.nono("run", "--profile", "claude-code", "--dry-run", "--", "sh")
    assert "profile: claude-code" in dry.stdout


def test_the_fallback_profile_when_no_default_is_installed(
    project: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an installed 'default', nono run writes and uses its minimal built-in profile."""
    from nonoc.runtime.config import Settings
    from nonoc.runtime.run import prepare

    monkeypatch.setenv("XDG_STATE_HOME", project.env["XDG_STATE_HOME"])
    monkeypatch.setattr(prepare, "profile_installed", lambda name: False)
    choice = prepare.choose_profile(None, Settings())
    assert "built-in fallback" in choice.origin
    path = Path(choice.source)
    assert path.read_text() == prepare.MINIMAL_PROFILE
    path.write_text('profile minimal { allow "/" }\n')  # tampered: rewritten before use
    assert (
        Path(prepare.choose_profile(None, Settings()).source).read_text() == prepare.MINIMAL_PROFILE
    )
