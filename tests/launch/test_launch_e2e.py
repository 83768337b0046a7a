"""End to end: policy text -> ``nonoc compile`` (real front end and backends) -> ``nono exec``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from launch_helpers import PROBE, PYTHON, PYTHON_PREFIX

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.kernel


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }


def compile_profile(source: Path, env: dict[str, str]) -> Path:
    bundle = source.with_suffix(".bundle")
    done = subprocess.run(
        [str(BIN / "nonoc"), "compile", str(source), "-o", str(bundle)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return bundle


def run_probe(bundle: Path, ops: list[list[str]], env: dict[str, str], cwd: Path) -> list[str]:
    done = subprocess.run(
        [
            str(BIN / "nono"),
            "exec",
            str(bundle),
            "--",
            PYTHON,
            "-I",
            "-S",
            "-c",
            PROBE,
            json.dumps(ops),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_compiled_profile_is_enforced(tmp_path: Path, env: dict[str, str], kernel_abi: int) -> None:
    work = tmp_path.resolve() / "work"
    (work / "secret").mkdir(parents=True)
    (work / "secret" / "key").write_text("k")
    (work / "notes.txt").write_text("n")
    (tmp_path / "outside.txt").write_text("o")
    source = tmp_path / "e2e.nono"
    source.write_text(
        'profile e2e "end to end" {\n'
        '  read "/usr"\n'
        '  exec "/usr"\n'
        f'  read "{PYTHON_PREFIX}"\n'
        f'  exec "{PYTHON_PREFIX}"\n'
        '  allow "$CWD"\n'
        '  deny "$CWD/secret"\n'
        "}\n"
    )
    bundle = compile_profile(source, env)
    answers = run_probe(
        bundle,
        [
            ["read", f"{work}/notes.txt"],
            ["write", f"{work}/notes.txt"],
            ["read", f"{work}/secret/key"],
            ["read", str(tmp_path / "outside.txt")],
            ["create", f"{work}/secret/new"],
        ],
        env,
        cwd=work,
    )
    assert answers == ["OK", "OK", "EACCES", "EACCES", "EACCES"]
    shown = subprocess.run(
        [str(BIN / "nono"), "exec", "--dry-run", str(bundle), "--", "true"],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"\n  {work}/secret  <- d0 (" in shown.stdout
    assert f"split (deny inside an allowed tree; strategy split):\n  {work} <- g" in shown.stdout
