"""The shipped stdlib and examples: they resolve cleanly, and `system` runs real programs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nonoc import ir
from nonoc.resolve import resolve
from nonoc.resources import data_dir

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.nono"))


@pytest.fixture(autouse=True)
def hermetic_data() -> None:
    """Overrides the hermetic stdlib of conftest: these tests read the shipped one."""


@pytest.mark.parametrize("target", ["linux", "macos"])
def test_stdlib_files_resolve_cleanly(target: ir.Target, workdir: Path) -> None:
    for path in sorted(data_dir("stdlib").glob("*.nono")):
        (workdir / "probe.nono").write_text(f'import "{path}"\nprofile probe {{ }}\n')
        result = resolve("probe.nono", target)
        assert result.diagnostics == [], path


@pytest.mark.parametrize("target", ["linux", "macos"])
def test_system_group(target: ir.Target, workdir: Path) -> None:
    (workdir / "p.nono").write_text("profile p { use system }")
    result = resolve("p.nono", target)
    assert result.diagnostics == []
    grants = {(g.path, a) for g in result.policy.grants for a in g.access}
    assert ("/usr", ir.Access.READ) in grants
    assert ("/usr/bin", ir.Access.EXECUTE) in grants
    assert ("/dev/null", ir.Access.WRITE) in grants
    if target == "linux":
        assert ("/proc/self", ir.Access.READ) in grants
        assert ("/etc/ld.so.cache", ir.Access.READ) in grants
    else:
        assert ("/System/Library", ir.Access.READ) in grants
    # Nothing private: no home directory, no credentials, no write outside devices.
    assert not any(g.path.startswith("$") for g in result.policy.grants)
    writes = {g.path for g in result.policy.grants if ir.Access.WRITE in g.access}
    assert all(path.startswith("/dev/") for path in writes)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("target", ["linux", "macos"])
def test_examples_resolve_cleanly(example: Path, target: ir.Target) -> None:
    result = resolve(example, target)
    assert result.diagnostics == []
    assert result.policy.sources


def test_quickstart_example() -> None:
    policy = resolve(REPO / "examples" / "quickstart.nono", "linux").policy
    assert ("$CWD", ir.PathKind.TREE) in {
        (g.path, g.kind) for g in policy.grants if ir.Access.READ in g.access
    }
    assert "$CWD/private" in {d.path for d in policy.denies}
    assert policy.network.mode is ir.NetworkMode.BLOCKED


def test_agent_example_extends_and_groups() -> None:
    policy = resolve(REPO / "examples" / "agent.nono", "linux").policy
    chains = {tuple(link.name for link in g.provenance.chain) for g in policy.grants}
    assert ("agent", "team-base", "system", "system_programs") in chains
    assert ("agent", "python_tools") in chains
    assert policy.network.mode is ir.NetworkMode.PROXY
    assert policy.compat is ir.Compat.BEST_EFFORT


@pytest.mark.kernel
def test_quickstart_runs_sh_cat_and_python_under_landlock(tmp_path: Path) -> None:
    """Compile the quick start, run real programs in it, and read the kernel's answers."""
    if sys.platform != "linux":
        pytest.skip("Landlock needs Linux")
    # The system's python3: the `system` group grants /usr, not a user's pyenv or venv.
    python3 = shutil.which("python3", path="/usr/bin:/bin")
    if python3 is None:
        pytest.skip("no system python3 in /usr/bin or /bin")
    bindir = Path(sys.executable).parent
    if not (bindir / "nonoc").exists() or not (bindir / "nono").exists():
        pytest.skip("the nonoc/nono console scripts are not installed in this venv")
    home = tmp_path / "sandbox-home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    bundle = tmp_path / "quickstart.bundle"
    compiled = subprocess.run(
        [str(bindir / "nonoc"), "compile", str(REPO / "examples" / "quickstart.nono"), "--target", "linux", "-o", str(bundle)],
        env=env, check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if compiled.returncode != 0 and "No module named" in compiled.stderr:
        pytest.skip(f"the compile pipeline is incomplete: {compiled.stderr.strip()}")
    assert compiled.returncode == 0, compiled.stderr
    work = tmp_path / "sandbox-work"
    (work / "private").mkdir(parents=True)
    (work / "hello.txt").write_text("hello\n")
    (work / "private" / "secret.txt").write_text("secret\n")
    script = (
        "cat hello.txt; "
        "cat private/secret.txt 2>/dev/null; echo denied=$?; "
        f"{python3} -c 'import json, ssl, socket; print(\"python ok\")'; "
        f"{python3} -c 'open(\"private/secret.txt\")' 2>&1 | tail -1"
    )
    run = subprocess.run(
        [str(bindir / "nono"), "exec", str(bundle), "--", "/bin/sh", "-c", script],
        cwd=work, env=env, check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if run.returncode == 126:
        pytest.skip(f"the sandbox could not be applied here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "hello"
    assert lines[1] == "denied=1"
    assert lines[2] == "python ok"
    assert "PermissionError" in lines[3]
