"""Shared pieces of the ``nono run`` tests: an isolated home, a test profile, a probe.

``Sandbox`` runs the real ``nono`` command line (``python -m nonoc.cli.nono``) in a child
process with ``HOME`` and the XDG directories in a temporary folder and the OS keyring
replaced. The profile used by most tests (``test.nono``) lets the system's programs and
this interpreter run and grants nothing of the user's, so each test's flags decide what the
sandboxed command may touch. The probe is a small Python program that performs file and
socket operations and prints, for each, ``OK`` or the errno name the kernel answered.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sandbox_probe import PROBE, PYTHON, PYTHON_PREFIX

from nonoc.launch import landlock

REPO = Path(__file__).resolve().parents[2]

TEST_PROFILE = """\
import stdlib "system"

profile test "the system's programs and the test interpreter; nothing of the user's" {{
  use system
  read "{prefix}"
  exec "{prefix}"
  {extra}
}}
"""


def require_landlock() -> int:
    """The kernel's Landlock ABI; skips the test when there is none."""
    abi = landlock.abi_version()
    if abi <= 0:
        pytest.skip("this kernel has no Landlock (absent or not enabled at boot)")
    return abi


class Sandbox:
    """An isolated home and working directory for running ``nono`` commands.

    ``shared`` (a folder) holds a home and the test profile used by several tests, so that
    they share one signing key and the compile cache: the tests stay fast, and a repeated
    flag set is a cache hit, as for a user. Tests that change the home use their own.
    """

    def __init__(self, root: Path, shared: Path | None = None) -> None:
        self.root = root
        base = shared or root
        self.home = base / "home"
        self.work = root / "work"
        self.home.mkdir(exist_ok=True)
        self.work.mkdir()
        (base / "tmp").mkdir(exist_ok=True)
        self.base = base
        self.env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "TMPDIR": str(base / "tmp"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "PYTHONPATH": str(REPO),
            "LANG": "C.UTF-8",
        }
        self.profile = self.write_profile()

    def write_profile(self, extra: str = "", name: str | None = None) -> Path:
        """A test profile (``TEST_PROFILE`` plus ``extra`` statements), one file per content."""
        text = TEST_PROFILE.format(prefix=PYTHON_PREFIX, extra=extra)
        digest = hashlib.sha256(extra.encode()).hexdigest()[:12]
        path = self.base / (name or f"test-{digest}.nono")
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return path

    def nono(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 60,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``nono ARGS`` and wait for it."""
        return subprocess.run(
            [sys.executable, "-m", "nonoc.cli.nono", *args],
            env={**self.env, **(env or {})},
            cwd=cwd or self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            check=False,
        )

    def run(
        self, *flags: str, command: list[str], profile: bool = True, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """``nono run --profile test.nono FLAGS -- COMMAND``."""
        chosen = ["--profile", str(self.profile)] if profile else []
        return self.nono("run", *chosen, *flags, "--", *command, **kwargs)

    def probe(
        self, *flags: str, ops: list[list[str]], verb: str = "run", **kwargs: Any
    ) -> list[str]:
        """Run the probe under ``nono VERB --profile test.nono FLAGS``; the kernel's answers."""
        result = self.nono(
            verb,
            "--profile",
            str(self.profile),
            *flags,
            "--",
            PYTHON,
            "-I",
            "-S",
            "-c",
            PROBE,
            json.dumps(ops),
            **kwargs,
        )
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home (signing key, compile cache) shared by the tests of a session."""
    return tmp_path_factory.mktemp("nono-run-shared").resolve()


@pytest.fixture
def sandbox(tmp_path: Path, shared_home: Path) -> Sandbox:
    """A fresh work directory, with the shared home and test profile."""
    return Sandbox(tmp_path.resolve(), shared_home)


@pytest.fixture
def own_sandbox(tmp_path: Path) -> Sandbox:
    """A fresh home of its own too, for tests that change the home."""
    return Sandbox(tmp_path.resolve())
