"""``nono learn -- python3 -c '...'`` for real: strace, the profile, then the kernel's answers.

The learned profile must let the same command run (read a file of the project, write
another) under ``nonoc compile`` + ``nono exec`` and under ``nono run --profile FILE``,
while the fake ``~/.ssh/id_rsa`` it read during learning stays denied (EACCES).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nonoc.launch import landlock
from nonoc.resolve import resolve

pytestmark = pytest.mark.kernel

#: Places on the system temporary directories are granted wholesale by the baseline, so a
#: project there would teach nothing: the project lives outside them.
SCRATCH_BASES = ("/srv", "/var/lib", "/opt", "/root", "/home")
GRANTED_ANYWAY = ("/tmp", "/var/tmp", "/dev/shm")

SCRIPT = """\
import os
data = open("in.txt").read()
open("out.txt", "w").write(data.upper())
try:
    open(os.path.expanduser("~/.ssh/id_rsa")).read()
    print("KEY READ")
except OSError as exc:
    print("KEY", exc.errno)
"""


def python3() -> str:
    """A python3 that runs without a virtualenv's or a version manager's files."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.isfile(candidate):
            return candidate
    return os.path.realpath(sys.executable)


@pytest.fixture
def project() -> Iterator[Path]:
    """A project directory outside the temporary directories, removed afterwards."""
    bases = [
        os.environ.get("NONO_TEST_SCRATCH", ""),
        *SCRATCH_BASES,
        pwd.getpwuid(os.getuid()).pw_dir,
    ]
    for base in bases:
        if not base or not os.path.isdir(base) or base.startswith(GRANTED_ANYWAY):
            continue
        try:
            path = Path(tempfile.mkdtemp(prefix="nono-learn-test-", dir=base))
        except OSError:
            continue
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
        return
    pytest.skip("no writable directory outside /tmp for a project (set NONO_TEST_SCRATCH)")


@pytest.fixture
def fake_key(isolated_home: Path) -> Path:
    key = isolated_home / ".ssh" / "id_rsa"
    key.parent.mkdir(mode=0o700)
    key.write_text("-----BEGIN FAKE KEY-----\n")
    return key


def nono(*argv: str, cwd: Path, tool: str = "nono") -> subprocess.CompletedProcess[str]:
    module = "nonoc.cli.nono" if tool == "nono" else "nonoc.cli.nonoc"
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_learned_profile_runs_the_command_and_keeps_the_key_denied(
    project: Path, fake_key: Path
) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    if landlock.abi_version() < 1:
        pytest.skip("this kernel has no Landlock")
    (project / "in.txt").write_text("data\n")
    command = [python3(), "-c", SCRIPT]

    learned = nono("learn", "-o", "learned.nono", "--", *command, cwd=project)
    assert learned.returncode == 0, learned.stderr
    assert learned.stdout == "KEY READ\n"  # learning watches; it does not restrict
    assert (
        "nono learn: left out read $HOME/.ssh/id_rsa: denied by group deny_credentials"
        in learned.stderr
    )
    text = (project / "learned.nono").read_text()
    assert "#   read $HOME/.ssh/id_rsa: denied by group deny_credentials" in text
    assert ".ssh" not in text.split("{", 1)[1]
    resolve(str(project / "learned.nono"), "linux")  # the output parses and resolves

    (project / "out.txt").unlink()
    compiled = nono("compile", "learned.nono", "-o", "learned.bundle", cwd=project, tool="nonoc")
    assert compiled.returncode == 0, compiled.stderr
    run = nono("exec", "learned.bundle", "--", *command, cwd=project)
    assert run.returncode == 0, run.stderr
    assert (project / "out.txt").read_text() == "DATA\n"
    assert run.stdout == "KEY 13\n"  # EACCES from the kernel

    outside = nono(
        "exec", "learned.bundle", "--", python3(), "-c", "open('/etc/shadow')", cwd=project
    )
    assert outside.returncode != 0 and "PermissionError" in outside.stderr

    (project / "out.txt").unlink()
    ran = nono("run", "--profile", str(project / "learned.nono"), "--", *command, cwd=project)
    assert ran.returncode == 0, ran.stderr
    assert (project / "out.txt").read_text() == "DATA\n"
    assert ran.stdout == "KEY 13\n"


def test_merge_adds_what_a_new_run_needs(project: Path, isolated_home: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    profile = project / "tool.nono"
    original = (
        '# the tool\nprofile tool extends default {\n  # reads the project\n  read "$CWD"\n}\n'
    )
    profile.write_text(original)
    (project / "in.txt").write_text("x\n")
    command = [python3(), "-c", "open('in.txt').read(); open('out.txt', 'w').write('y')"]
    merged = nono("learn", "--merge", "tool.nono", "--", *command, cwd=project)
    assert merged.returncode == 0, merged.stderr
    text = profile.read_text()
    assert text.startswith(
        '# the tool\nprofile tool extends default {\n  # reads the project\n  read "$CWD"\n'
    )
    assert '  write "$CWD"\n}\n' in text
    again = nono("learn", "--merge", "tool.nono", "--", *command, cwd=project)
    assert again.returncode == 0 and "already allows everything" in again.stderr
    assert profile.read_text() == text
