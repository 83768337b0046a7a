"""``nono completion bash|zsh|fish``: valid scripts that complete commands, flags and profiles."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nonoc.runtime.flags import FLAGS


def script(shell: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "nonoc.cli.nono", "completion", shell],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def need(shell: str) -> str:
    found = shutil.which(shell)
    if found is None:
        pytest.skip(f"{shell} is not installed; its completion script is not checked")
    return found


@pytest.fixture
def profiles_home(tmp_path: Path) -> dict[str, str]:
    """An environment whose user profile folder holds 'mine.nono'."""
    folder = tmp_path / "config" / "nono" / "profiles"
    folder.mkdir(parents=True)
    (folder / "mine.nono").write_text("profile mine {}\n")
    return {
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": "/usr/bin:/bin",
    }


def test_every_shell_script_names_every_run_flag() -> None:
    for shell in ("bash", "zsh", "fish"):
        text = script(shell)
        for flag in FLAGS:
            name = (
                flag.option
                if shell != "fish" or not flag.option.startswith("--")
                else f"-l {flag.option[2:]}"
            )
            assert name in text, f"{shell} completion lacks {flag.option}"


def test_bash_completes_commands_flags_and_profiles(
    tmp_path: Path, profiles_home: dict[str, str]
) -> None:
    bash = need("bash")
    path = tmp_path / "nono.bash"
    path.write_text(script("bash"))
    assert subprocess.run([bash, "-n", str(path)], check=False).returncode == 0

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        program = f"source {path}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _nono; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        result = subprocess.run(
            [bash, "-c", program],
            capture_output=True,
            text=True,
            env=profiles_home,
            timeout=30,
            check=False,
        )
        return result.stdout.split()

    assert {"run", "rollback"} <= set(complete("nono", "r"))
    assert complete("nono", "run", "--allow-c") == ["--allow-cwd", "--allow-command"]
    assert "mine" in complete("nono", "run", "--profile", "")
    assert "default_profile" in complete("nono", "config", "get", "def")
    assert complete("nono", "completion", "f") == ["fish"]


def test_zsh_script_parses_and_registers(tmp_path: Path) -> None:
    zsh = need("zsh")
    path = tmp_path / "_nono"
    path.write_text(script("zsh"))
    assert subprocess.run([zsh, "-n", str(path)], check=False).returncode == 0
    program = f"autoload -Uz compinit && compinit -u -d {tmp_path}/zcompdump && source {path} && print -- $_comps[nono]"
    result = subprocess.run(
        [zsh, "-f", "-c", program], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.stdout.strip() == "_nono", result.stderr


def test_fish_completes_flags_and_profiles(tmp_path: Path, profiles_home: dict[str, str]) -> None:
    fish = need("fish")
    path = tmp_path / "nono.fish"
    path.write_text(script("fish"))
    assert subprocess.run([fish, "-n", str(path)], check=False).returncode == 0

    def complete(line: str) -> list[str]:
        program = f"source {path}; complete -C {line!r}"
        env = {**profiles_home, "XDG_DATA_HOME": str(tmp_path / "data")}
        result = subprocess.run(
            [fish, "--no-config", "-c", program],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )
        return [entry.split("\t")[0] for entry in result.stdout.splitlines()]

    assert "--allow-cwd" in complete("nono run --allow-c")
    assert "mine" in complete("nono run --profile m")
    assert "run" in complete("nono ru")


def test_unknown_shell_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nonoc.cli.nono", "completion", "tcsh"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and "invalid choice" in result.stderr
