"""The parent of ``nono run``: exit codes, signal forwarding, environment hygiene, ``nono wrap``."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest
from test_run_support import PYTHON, Sandbox, require_landlock

from nonoc.runtime.envhygiene import STRIP
from nonoc.runtime.run.session import exit_code_of

pytestmark = pytest.mark.kernel
pytest_plugins = ["test_run_support"]  # the sandbox fixtures

#: A sandboxed program that reports each signal it receives, after saying it is ready.
CATCHER = r"""
import os, signal, sys, time
seen = []
def say(text):
    os.write(1, (text + "\n").encode())  # not print(): a handler may interrupt a print
def note(signum, frame):
    seen.append(signal.Signals(signum).name)
    say("got " + signal.Signals(signum).name)
    if signum == signal.SIGTERM:
        time.sleep(0.3)  # a second, duplicated delivery would show up here
        say("seen " + ",".join(seen))
        os._exit(0)
for name in ("SIGTERM", "SIGINT", "SIGWINCH", "SIGUSR1", "SIGHUP"):
    signal.signal(getattr(signal, name), note)
say(f"ready {os.getpid()} {os.getppid()}")
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    time.sleep(0.05)
say("timeout")
os._exit(3)
"""


@pytest.fixture(autouse=True)
def _landlock() -> None:
    require_landlock()


def start(sandbox: Sandbox, script: str, *flags: str, **kwargs: object) -> subprocess.Popen[str]:
    """``nono run`` a Python script in the background, stdout piped."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nonoc.cli.nono",
            "run",
            "--profile",
            str(sandbox.profile),
            *flags,
            "--",
            PYTHON,
            "-I",
            "-S",
            "-c",
            script,
        ],
        env=sandbox.env,
        cwd=sandbox.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


def wait_for(process: subprocess.Popen[str], prefix: str, timeout: float = 30) -> str:
    """The first stdout line starting with ``prefix``."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.strip()
    process.kill()
    raise AssertionError(f"no {prefix!r} line; stderr: {process.communicate()[1]}")


def test_exit_codes(sandbox: Sandbox) -> None:
    assert sandbox.run(command=["sh", "-c", "exit 7"]).returncode == 7
    assert sandbox.run(command=["true"]).returncode == 0
    killed = sandbox.run(command=["sh", "-c", "kill -KILL $$"])
    assert killed.returncode == 128 + signal.SIGKILL
    missing = sandbox.run(command=["no-such-command-anywhere"])
    assert missing.returncode == 127
    assert "no-such-command-anywhere: command not found" in missing.stderr
    usage = sandbox.nono("run", "--allow")
    assert usage.returncode == 2 and "--allow needs a value" in usage.stderr
    nothing = sandbox.nono("run", "--allow", ".")
    assert nothing.returncode == 2 and "missing the command to run" in nothing.stderr


def test_a_bad_profile_is_nonos_own_error(sandbox: Sandbox) -> None:
    bad = sandbox.root / "bad.nono"
    bad.write_text('profile bad {\n  raed "/usr"\n}\n')
    result = sandbox.nono("run", "--profile", str(bad), "--", "true")
    assert result.returncode == 1
    assert f"{bad}:2:3: error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_exit_code_of_wait_statuses() -> None:
    assert exit_code_of(0) == 0
    assert exit_code_of(3 << 8) == 3
    assert exit_code_of(signal.SIGTERM) == 128 + signal.SIGTERM


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH]
)
def test_signals_sent_to_the_parent_reach_the_child_once(
    sandbox: Sandbox, signum: signal.Signals
) -> None:
    process = start(sandbox, CATCHER)
    try:
        ready = wait_for(process, "ready").split()
        child, parent = int(ready[1]), int(ready[2])
        assert parent == process.pid  # nono run stays as the parent
        assert child != process.pid
        os.kill(process.pid, signum)
        assert wait_for(process, "got") == f"got {signum.name}"
        if signum != signal.SIGTERM:
            time.sleep(0.2)
            os.kill(process.pid, signal.SIGTERM)
        assert wait_for(process, "seen") == "seen " + ",".join(
            dict.fromkeys([signum.name, "SIGTERM"])
        )
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 0, stderr


def test_a_forwarded_signal_that_kills_the_child_is_its_exit_code(sandbox: Sandbox) -> None:
    process = start(
        sandbox, "import os, time\nprint('ready', os.getpid(), flush=True)\ntime.sleep(20)\n"
    )
    try:
        wait_for(process, "ready")
        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM


def test_ctrl_c_on_a_terminal_reaches_the_child_once(sandbox: Sandbox) -> None:
    """The terminal signals the whole foreground group; the parent must not add a second."""
    master, slave = pty.openpty()
    script = CATCHER.replace(
        "if signum == signal.SIGTERM:", "if signum in (signal.SIGTERM, signal.SIGINT):"
    )

    def controlling_terminal() -> None:
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nonoc.cli.nono",
            "run",
            "--profile",
            str(sandbox.profile),
            "--",
            PYTHON,
            "-I",
            "-S",
            "-c",
            script,
        ],
        env=sandbox.env,
        cwd=sandbox.work,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=controlling_terminal,  # TIOCSCTTY must run in the child; no threads here
    )
    os.close(slave)
    output = b""
    try:
        output = read_until(master, b"ready", 30)
        os.write(master, b"\x03")  # the terminal's interrupt character: SIGINT to the group
        output += read_until(master, b"seen", 20)
        process.wait(timeout=20)
    finally:
        process.kill()
        os.close(master)
    text = output.decode(errors="replace")
    assert "seen SIGINT\r\n" in text, text  # exactly one SIGINT
    assert process.returncode == 0


def read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    """Read a pty until ``marker`` and the end of its line appear."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            data += chunk
            if marker in data and data.rstrip(b" ").endswith(b"\n"):
                return data
    raise AssertionError(f"no {marker!r} in {data!r}")


def test_environment_hygiene(sandbox: Sandbox) -> None:
    injected = {
        "LD_PRELOAD": "",
        "LD_LIBRARY_PATH": "/nonexistent/lib",
        "LD_AUDIT": "",
        "BASH_ENV": "/tmp/evil.sh",
        "ENV": "/tmp/evil.sh",
        "BASH_FUNC_ls%%": "() { echo pwned; }",
        "PYTHONSTARTUP": "/tmp/evil.py",
        "PYTHONWARNINGS": "ignore::evil.Category",
        "NODE_OPTIONS": "--require /tmp/evil.js",
        "PERL5OPT": "-Mevil",
        "RUBYOPT": "-revil",
        "JAVA_TOOL_OPTIONS": "-javaagent:/tmp/evil.jar",
        "GCONV_PATH": "/tmp/evil",
        "PLAIN_VARIABLE": "kept",
    }
    names = sorted(injected)
    result = sandbox.run(
        command=[
            PYTHON,
            "-I",
            "-S",
            "-c",
            f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {names!r}}}))",
        ],
        env=injected,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen == {name: ("kept" if name == "PLAIN_VARIABLE" else None) for name in names}
    # The parent's own environment is what the user had: only the child is cleaned.
    assert "HOME" in os.environ


def test_the_profile_can_keep_a_stripped_variable(sandbox: Sandbox) -> None:
    sandbox.profile = sandbox.write_profile('env keep "PERL5OPT"\n  env set "NO_COLOR" "1"')
    code = "import os; print(os.environ.get('PERL5OPT'), os.environ.get('RUBYOPT'), os.environ.get('NO_COLOR'))"
    result = sandbox.run(
        command=[PYTHON, "-I", "-S", "-c", code], env={"PERL5OPT": "-Mstrict", "RUBYOPT": "-rx"}
    )
    assert result.stdout.split() == ["-Mstrict", "None", "1"], result.stderr


def test_strip_list_covers_the_documented_families() -> None:
    for name in (
        "LD_*",
        "BASH_ENV",
        "ENV",
        "BASH_FUNC_*",
        "PYTHONSTARTUP",
        "PYTHONPATH",
        "NODE_OPTIONS",
        "PERL5OPT",
        "RUBYOPT",
        "JAVA_TOOL_OPTIONS",
        "DYLD_*",
    ):
        assert name in STRIP
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    for name in STRIP:
        assert f"`{name}`" in doc, f"{name} is not documented in docs/cli.md"


def test_wrap_leaves_no_parent(sandbox: Sandbox) -> None:
    code = "import os; print(os.getpid())"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nonoc.cli.nono",
            "wrap",
            "--profile",
            str(sandbox.profile),
            "--",
            PYTHON,
            "-I",
            "-S",
            "-c",
            code,
        ],
        env=sandbox.env,
        cwd=sandbox.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert int(stdout) == process.pid  # the command is the process nono wrap started as
    assert (
        sandbox.nono(
            "wrap", "--profile", str(sandbox.profile), "--", "sh", "-c", "exit 5"
        ).returncode
        == 5
    )


def test_run_keeps_a_parent(sandbox: Sandbox) -> None:
    code = "import os; print(os.getpid(), os.getppid())"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nonoc.cli.nono",
            "run",
            "--profile",
            str(sandbox.profile),
            "--",
            PYTHON,
            "-I",
            "-S",
            "-c",
            code,
        ],
        env=sandbox.env,
        cwd=sandbox.work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate(timeout=60)
    child, parent = map(int, stdout.split())
    assert parent == process.pid and child != process.pid, stderr


def test_the_child_cannot_signal_its_parent(sandbox: Sandbox) -> None:
    """Landlock's signal scope: the sandboxed child cannot signal nono run (outside its domain)."""
    code = "import os, errno\ntry:\n    os.kill(os.getppid(), 0)\n    print('OK')\nexcept OSError as e:\n    print(errno.errorcode[e.errno])"
    result = sandbox.run(command=[PYTHON, "-I", "-S", "-c", code])
    assert result.stdout.strip() == "EPERM", result.stderr
