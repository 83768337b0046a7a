"""Environment hygiene under ``nono exec``: a compiled bundle strips what ``nono run`` strips.

Live (marked ``kernel``): ``nonoc compile`` writes the bundle, ``nono exec`` (or ``nono run``)
applies it, Landlock included, and execs a real child, which reports the environment it
was given. The macOS dispatch is checked off a Mac, up to the call into Seatbelt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from launch_helpers import PYTHON, PYTHON_PREFIX

from nonoc.runtime.envhygiene import STRIP

BIN = Path(sys.executable).parent
#: A library every process has loaded already: preloading it again changes nothing, so the
#: launcher itself (a Python process started with this environment) runs as usual.
PRELOAD = "libc.so.6"
#: Variables the child reports: two on the strip list, one that is not.
WATCHED = ("LD_PRELOAD", "PYTHONSTARTUP", "NONO_TEST_MARK")
REPORT = f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {WATCHED!r}}}))"


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


def compiled(tmp_path: Path, env: dict[str, str], extra: str = "") -> Path:
    source = tmp_path / "hygiene.nono"
    source.write_text(
        "profile hygiene {\n"
        '  read "/usr", "/lib", "/lib64", "/etc"\n'
        '  exec "/usr", "/lib", "/lib64"\n'
        f'  read "{PYTHON_PREFIX}"\n'
        f'  exec "{PYTHON_PREFIX}"\n'
        f"{extra}"
        "}\n"
    )
    bundle = tmp_path / "hygiene.bundle"
    done = subprocess.run(
        [str(BIN / "nonoc"), "compile", str(source), "-o", str(bundle)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return bundle


def child_environment(
    bundle: Path, env: dict[str, str], cwd: Path, *, how: tuple[str, ...] = ()
) -> dict[str, str | None]:
    """What the sandboxed child sees of ``WATCHED`` when the caller has all three set.

    ``how`` is the nono command before ``--``: ``nono exec BUNDLE`` unless given.
    """
    caller = {
        **env,
        "LD_PRELOAD": PRELOAD,
        "PYTHONSTARTUP": str(cwd / "startup.py"),
        "NONO_TEST_MARK": "kept",
    }
    command = how or ("exec", str(bundle))
    done = subprocess.run(
        [str(BIN / "nono"), *command, "--", PYTHON, "-I", "-S", "-c", REPORT],
        capture_output=True,
        text=True,
        env=caller,
        cwd=cwd,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, str | None] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_bundle_carries_the_hygiene_list(tmp_path: Path, env: dict[str, str]) -> None:
    from nonoc.launch.verify import parse_envelope, parse_payload

    path = str(compiled(tmp_path, env))
    with open(path, "rb") as handle:
        payload, _ = parse_envelope(path, handle.read())
    launch = parse_payload(path, payload)["linux"]["launch"]
    assert launch["env_strip"] == sorted(STRIP)


@pytest.mark.kernel
def test_nono_exec_strips_ld_preload(tmp_path: Path, env: dict[str, str], kernel_abi: int) -> None:
    bundle = compiled(tmp_path, env)
    seen = child_environment(bundle, env, tmp_path)
    assert seen == {"LD_PRELOAD": None, "PYTHONSTARTUP": None, "NONO_TEST_MARK": "kept"}


@pytest.mark.kernel
def test_env_keep_keeps_ld_preload(tmp_path: Path, env: dict[str, str], kernel_abi: int) -> None:
    bundle = compiled(tmp_path, env, '  env keep "LD_PRELOAD"\n')
    seen = child_environment(bundle, env, tmp_path)
    assert seen == {"LD_PRELOAD": PRELOAD, "PYTHONSTARTUP": None, "NONO_TEST_MARK": "kept"}


@pytest.mark.kernel
@pytest.mark.parametrize("keep", [False, True], ids=["strip", "keep"])
def test_nono_exec_and_nono_run_give_the_child_the_same_environment(
    tmp_path: Path, env: dict[str, str], kernel_abi: int, keep: bool
) -> None:
    bundle = compiled(tmp_path, env, '  env keep "LD_PRELOAD"\n' if keep else "")
    source = str(tmp_path / "hygiene.nono")
    by_exec = child_environment(bundle, env, tmp_path)
    by_run = child_environment(bundle, env, tmp_path, how=("run", "--profile", source))
    assert by_exec == by_run
    assert by_exec["LD_PRELOAD"] == (PRELOAD if keep else None)


def test_the_macos_dispatch_applies_the_launch_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nonoc.launch import cli, macos

    seen: dict[str, object] = {}

    def exec_command(section: object, argv: list[str], *, environ: object = None) -> int:
        seen.update(section=section, argv=argv, environ=environ)
        return 0

    monkeypatch.setattr(macos, "exec_command", exec_command)
    monkeypatch.setenv("LD_PRELOAD", PRELOAD)
    monkeypatch.setenv("DYLD_INSERT_LIBRARIES", "/tmp/x.dylib")
    monkeypatch.setenv("NODE_OPTIONS", "--require /tmp/x.js")
    launch = {"env_strip": sorted(STRIP), "env_keep": ["NODE_OPTIONS"], "env_set": {"A": "1"}}
    seatbelt = {"format": macos.FORMAT, "sbpl": "(version 1)"}
    args = cli.parse(["b.bundle", "--", "true"])
    assert not isinstance(args, int)
    assert cli._macos({"macos": {"seatbelt": seatbelt, "launch": launch}}, args) == 0
    environ = seen["environ"]
    assert isinstance(environ, dict)
    assert "LD_PRELOAD" not in environ and "DYLD_INSERT_LIBRARIES" not in environ
    assert environ["NODE_OPTIONS"] == "--require /tmp/x.js" and environ["A"] == "1"
    assert seen["section"] is seatbelt and seen["argv"] == ["true"]
