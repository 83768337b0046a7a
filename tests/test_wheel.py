"""The built wheel works on its own: installed into a clean virtualenv, away from the source
tree, it compiles a built-in profile and runs a command under the kernel sandbox.

The new venv gets the dependencies from this test venv's site-packages through a plain
path entry (a ``.pth`` line): the editable install's import hook lives in a ``.pth`` file
there, and such files are only processed for site directories, so the source tree stays
out of reach. The wheel itself is installed with pip, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kwargs)  # type: ignore[call-overload, no-any-return]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv with the freshly built wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    built = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(root / "dist"),
            str(REPO),
        ]
    )
    if built.returncode != 0:
        pytest.skip(
            f"cannot build the wheel here (needs hatchling from the registry): {built.stderr[-400:]}"
        )
    (wheel,) = (root / "dist").glob("nono-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    purelib = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    deps = sysconfig.get_paths()["purelib"]
    Path(purelib.stdout.strip(), "test-deps.pth").write_text(deps + "\n")
    installed = _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    assert installed.returncode == 0, installed.stderr
    return env_dir


def test_wheel_compiles_and_runs_without_the_source_tree(wheel_venv: Path, tmp_path: Path) -> None:
    bindir = wheel_venv / "bin"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("fake key\n")
    project = home / "project"
    project.mkdir()
    (project / "notes.txt").write_text("visible\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }

    where = _run(
        [str(bindir / "python"), "-c", "import nonoc.resources as r; print(r.data_dir('stdlib'))"],
        env=env,
        cwd=project,
    )
    assert where.returncode == 0, where.stderr
    assert str(wheel_venv) in where.stdout and str(REPO) not in where.stdout

    compiled = _run(
        [str(bindir / "nonoc"), "compile", "default", "--target", "linux", "-o", "default.bundle"],
        env=env,
        cwd=project,
    )
    assert compiled.returncode == 0, compiled.stderr

    allowed = _run(
        [str(bindir / "nono"), "exec", "default.bundle", "--", "cat", "notes.txt"],
        env=env,
        cwd=project,
    )
    if allowed.returncode == 126:
        pytest.skip(f"the sandbox cannot be applied on this host: {allowed.stderr.strip()}")
    assert (allowed.returncode, allowed.stdout) == (0, "visible\n"), allowed.stderr

    denied = _run(
        [
            str(bindir / "nono"),
            "exec",
            "default.bundle",
            "--",
            "cat",
            str(home / ".ssh" / "id_rsa"),
        ],
        env=env,
        cwd=project,
    )
    assert denied.returncode == 1
    assert "Permission denied" in denied.stderr
    assert os.path.exists(project / "default.bundle")
