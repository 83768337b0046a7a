"""``nono run`` with its supervisor: live, through the real command line.

Every run has the supervisor hook (``start.parent_hooks``): on this kernel (Landlock ABI 7,
no unix-socket right) it mediates pathname unix sockets on every run, and with
``--supervised`` it asks about opens outside the grants — here through ``--answers FILE``,
so no terminal is needed. The sandboxed command is a real child; what it prints is the
kernel's answer (``OK`` or the errno's name).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_run_support import PYTHON, REPO, Sandbox, require_landlock

from nonoc.runtime.supervisor.lowering import socket_mediation_needed

pytestmark = pytest.mark.kernel
pytest_plugins = ["test_run_support"]  # the sandbox fixtures

#: Reads each path given and prints what happened, one result per path, as JSON.
READER = r"""
import errno, json, sys
out = []
for path in sys.argv[1:]:
    try:
        with open(path) as handle:
            out.append(handle.read().strip())
    except OSError as exc:
        out.append(errno.errorcode[exc.errno])
print(json.dumps(out))
"""

#: Connects to each unix socket path given; prints OK or the errno's name for each.
CONNECTOR = r"""
import errno, json, socket, sys
out = []
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        out.append("OK")
    except OSError as exc:
        out.append(errno.errorcode[exc.errno])
    finally:
        s.close()
print(json.dumps(out))
"""


@pytest.fixture(autouse=True)
def _landlock() -> None:
    require_landlock()


@pytest.fixture
def outside(sandbox: Sandbox) -> Path:
    """A folder the test profile does not grant, with two files in it."""
    folder = sandbox.root / "outside"
    folder.mkdir()
    (folder / "notes.txt").write_text("outside notes")
    (folder / "other.txt").write_text("other")
    return folder


def results(result: object) -> list[str]:
    """The JSON list the sandboxed helper printed last."""
    assert getattr(result, "returncode", None) == 0, getattr(result, "stderr", "")
    return list(json.loads(str(getattr(result, "stdout", "")).strip().splitlines()[-1]))


def read(sandbox: Sandbox, *flags: str, paths: list[Path]) -> list[str]:
    return results(
        sandbox.run(*flags, command=[PYTHON, "-I", "-S", "-c", READER, *map(str, paths)])
    )


def connect(sandbox: Sandbox, *flags: str, paths: list[Path]) -> list[str]:
    return results(
        sandbox.run(*flags, command=[PYTHON, "-I", "-S", "-c", CONNECTOR, *map(str, paths)])
    )


# ------------------------------------------------------------------ opens (--supervised)


def test_an_approved_open_reads_a_file_outside_the_grants(sandbox: Sandbox, outside: Path) -> None:
    answers = sandbox.root / "answers.txt"
    answers.write_text(f"allow read {outside}/notes.*\n")
    notes = outside / "notes.txt"
    assert read(sandbox, paths=[notes]) == ["EACCES"]  # Landlock alone: not granted
    got = read(sandbox, "--supervised", "--answers", str(answers), paths=[notes])
    assert got == ["outside notes"]


def test_a_refusal_is_eperm(sandbox: Sandbox, outside: Path) -> None:
    answers = sandbox.root / "answers.txt"
    answers.write_text(f"deny any {outside}/notes.txt\nallow read /nowhere/**\n")
    got = read(
        sandbox,
        "--supervised",
        "--answers",
        str(answers),
        paths=[outside / "notes.txt", outside / "other.txt"],  # refused; no rule matches
    )
    assert got == ["EPERM", "EPERM"]


def test_never_grantable_paths_are_eperm_whatever_the_answers_say(
    sandbox: Sandbox, outside: Path
) -> None:
    keys = outside / "keys"
    keys.mkdir()
    (keys / "id").write_text("key")
    sandbox.profile = sandbox.write_profile(f'deny "{keys}"')
    answers = sandbox.root / "answers.txt"
    answers.write_text("allow any /**\n")
    own_key = sandbox.home / ".config" / "nono" / "keys" / "default.pem"
    got = read(
        sandbox,
        "--supervised",
        "--answers",
        str(answers),
        paths=[keys / "id", own_key, outside / "notes.txt"],
    )
    assert own_key.exists()
    assert got == ["EPERM", "EPERM", "outside notes"]
    trail = sandbox.nono("audit", "show", "latest", "--json")
    assert trail.returncode == 0, trail.stderr
    decisions = [
        (r["decision"], r["reason"], r.get("path"))
        for r in json.loads(trail.stdout)
        if r["kind"] == "supervisor_decision" and r.get("path")
    ]
    assert ("deny", "never_grantable", str(keys / "id")) in decisions
    assert ("allow", "approved", str(outside / "notes.txt")) in decisions


def test_the_terminal_question_through_nono_run(sandbox: Sandbox, outside: Path) -> None:
    """``nono run --supervised`` in a real terminal (tmux): the question shows on it while
    the sandbox is stopped, a typed ``y`` lets the agent read, and the run goes on."""
    import os
    import shlex
    import shutil
    import subprocess
    import sys
    import time

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux)")
    server = f"nono-run-supervised-{os.getpid()}-{time.monotonic_ns()}"
    result = sandbox.root / "result.txt"
    reader = "import sys; print(open(sys.argv[1]).read())"
    nono = [sys.executable, "-m", "nonoc.cli.nono", "run", "--profile", str(sandbox.profile)]
    command = [*nono, "--supervised", "--", PYTHON, "-I", "-S", "-c", reader]
    line = (
        " ".join(f"{k}={shlex.quote(v)}" for k, v in sandbox.env.items())
        + f" {shlex.join(command)} {shlex.quote(str(outside / 'notes.txt'))}"
        + f" > {shlex.quote(str(result))} 2>&1; sleep 30"
    )
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}

    def pane() -> str:
        done = subprocess.run(
            ["tmux", "-L", server, "capture-pane", "-p", "-J"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout

    def wait_for(predicate: object, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if predicate():  # type: ignore[operator]
                return True
            time.sleep(0.05)
        return False

    size = ["-x", "200", "-y", "40"]
    subprocess.run(
        ["tmux", "-L", server, "new-session", "-d", *size, "-c", str(sandbox.work), line],
        env=env,
        check=True,
        timeout=10,
    )
    try:
        assert wait_for(lambda: "allow? [y/N]" in pane(), 60), pane()
        assert f"wants to read {outside / 'notes.txt'}" in pane()
        subprocess.run(["tmux", "-L", server, "send-keys", "y", "Enter"], check=True, timeout=10)
        assert wait_for(lambda: "outside notes" in result.read_text(), 30), result.read_text()
        assert "nono: allowed" in pane()
    finally:
        subprocess.run(["tmux", "-L", server, "kill-server"], capture_output=True, timeout=10)


# ------------------------------------------------------------------ unix sockets


@pytest.fixture
def listening(sandbox: Sandbox) -> Iterator[Path]:
    """A unix socket outside every grant, listening (connects complete in the backlog)."""
    folder = sandbox.root / "sockets"
    folder.mkdir()
    path = folder / "service.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    try:
        yield path
    finally:
        server.close()


def test_a_unix_socket_outside_the_grants_is_refused_without_supervised(
    sandbox: Sandbox, listening: Path
) -> None:
    if not socket_mediation_needed(7):
        pytest.skip("unreachable")
    assert connect(sandbox, paths=[listening, listening.parent / "missing.sock"]) == [
        "EACCES",
        "ENOENT",  # what the kernel would say: existence is not hidden
    ]


def test_a_granted_unix_socket_works(sandbox: Sandbox, listening: Path) -> None:
    assert connect(sandbox, "--allow-unix-socket", str(listening), paths=[listening]) == ["OK"]
    # A directory grants the sockets beneath it.
    assert connect(sandbox, "--allow-unix-socket", str(listening.parent), paths=[listening]) == [
        "OK"
    ]
    # The policy statement the flag stands for.
    sandbox.profile = sandbox.write_profile(f'unix_socket "{listening}"')
    assert connect(sandbox, paths=[listening]) == ["OK"]


OWN_SERVER = r"""
import errno, json, socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind("own.sock")
server.listen(1)
out = []
for path in ("own.sock", sys.argv[1]):
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        client.connect(path)
        out.append("OK")
    except OSError as exc:
        out.append(errno.errorcode[exc.errno])
print(json.dumps(out))
"""


def test_a_socket_the_command_binds_itself_is_reachable(sandbox: Sandbox, listening: Path) -> None:
    """As on Landlock ABI 9: the sandbox's own server, yes; another's in the same tree, no."""
    foreign = sandbox.work / "foreign.sock"
    listening.rename(foreign)  # a listening socket of this (unsandboxed) test process
    got = results(
        sandbox.run("--allow-cwd", command=[PYTHON, "-I", "-S", "-c", OWN_SERVER, str(foreign)])
    )
    assert got == ["OK", "EACCES"]


def test_a_unix_socket_grant_shows_in_the_dry_run(sandbox: Sandbox, listening: Path) -> None:
    result = sandbox.run("--allow-unix-socket", str(listening), "--dry-run", command=["true"])
    assert result.returncode == 0, result.stderr
    assert f"--allow-unix-socket {listening}" in result.stdout


# ------------------------------------------------------------------ metadata

CHMOD = r"""
import errno, json, os, sys
out = []
for path in sys.argv[1:]:
    try:
        os.chmod(path, 0o640)
        out.append("OK")
    except OSError as exc:
        out.append(errno.errorcode[exc.errno])
print(json.dumps(out))
"""


def test_protect_metadata_under_nono_run(sandbox: Sandbox, outside: Path) -> None:
    """Landlock never mediates chmod: without ``protect metadata`` the file outside every
    grant changes mode; with it, only a file in a writable grant does."""
    mine = sandbox.work / "mine.txt"
    mine.write_text("mine")
    theirs = outside / "notes.txt"
    theirs.chmod(0o644)
    command = [PYTHON, "-I", "-S", "-c", CHMOD, str(mine), str(theirs)]
    assert results(sandbox.run("--allow-cwd", command=command)) == ["OK", "OK"]  # the hole
    theirs.chmod(0o644)
    sandbox.profile = sandbox.write_profile("protect metadata")
    assert results(sandbox.run("--allow-cwd", command=command)) == ["OK", "EPERM"]
    assert theirs.stat().st_mode & 0o777 == 0o644


# ------------------------------------------------------------------ flags and failures


def test_answers_goes_with_supervised(sandbox: Sandbox) -> None:
    answers = sandbox.root / "answers.txt"
    answers.write_text("allow read /tmp/*\n")
    result = sandbox.run("--answers", str(answers), command=["true"])
    assert result.returncode == 2
    assert "--answers goes with --supervised" in result.stderr


def test_nono_wrap_has_no_supervisor(sandbox: Sandbox) -> None:
    result = sandbox.nono("wrap", "--profile", str(sandbox.profile), "--supervised", "--", "true")
    assert result.returncode == 2
    assert "--supervised needs nono run" in result.stderr


def test_a_malformed_answers_file_stops_the_run_with_its_line(sandbox: Sandbox) -> None:
    answers = sandbox.root / "answers.txt"
    answers.write_text("allow read /tmp/*\nallow everything\n")
    result = sandbox.run("--supervised", "--answers", str(answers), command=["true"])
    assert result.returncode != 0
    assert f"{answers}:2:1: error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_command_that_is_not_found_keeps_its_exit_code(sandbox: Sandbox) -> None:
    """The child never reaches the hand-off: no supervisor error, 127 as without one."""
    result = sandbox.run(command=["no-such-command-anywhere"])
    assert result.returncode == 127
    assert "supervisor" not in result.stderr


def test_nono_run_inside_nono_run_fails_closed(sandbox: Sandbox) -> None:
    """The kernel allows one listener per chain of filters: the inner run cannot attach its
    supervisor, and refuses to start rather than run without one."""
    inner = sandbox.work / "inner"
    venv_python = REPO / ".venv" / "bin" / "python3"
    if not venv_python.exists():
        pytest.skip("needs the repository's virtualenv (the inner nono compiles a profile)")
    sandbox.profile = sandbox.write_profile(
        f'read "{REPO}"\nread "{sandbox.base}"\nallow "{sandbox.work}"'
    )
    env = [
        f"HOME={inner}",
        f"XDG_CONFIG_HOME={inner}/config",
        f"XDG_CACHE_HOME={inner}/cache",
        f"XDG_STATE_HOME={inner}/state",
        f"PYTHONPATH={REPO}",
        "PYTHON_KEYRING_BACKEND=keyring.backends.fail.Keyring",
    ]
    nested = ["/usr/bin/env", *env, str(venv_python), "-m", "nonoc.cli.nono", "run"]
    result = sandbox.run(
        command=[*nested, "--profile", str(sandbox.profile), "--", "/bin/true"], timeout=120
    )
    assert result.returncode == 126, result.stderr
    assert "another supervisor already listens" in result.stderr
