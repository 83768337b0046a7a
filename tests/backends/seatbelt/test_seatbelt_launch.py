"""The macOS launcher's parts that run anywhere: parameters, fallback command line, exit codes.

The call into libsandbox itself only happens on a Mac (see test_seatbelt_macos.py); here a
C function of the same signature stands in for it, to check what crosses the ctypes line.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from seatbelt_policies import AGENT, FAKE_ENV, HAND_POLICIES, R, compile_policy, deny, grant, policy

from nonoc.errors import SandboxError
from nonoc.launch import macos

REPO = Path(__file__).resolve().parents[3]


def section(p=AGENT):  # type: ignore[no-untyped-def]
    return compile_policy(p)[0]


# ---------------------------------------------------------------------------- parameters


def test_parameters_on_a_real_tree(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "elsewhere").mkdir()
    home.mkdir()
    (home / ".ssh").symlink_to(tmp_path / "elsewhere")
    p = policy(grants=(grant("$HOME", R),), denies=(deny("$HOME/.ssh"),))
    params = macos.parameters(section(p), {"HOME": str(home)}, cwd="/")
    assert params["HOME"] == str(home)
    assert params["g0.real"] == os.path.realpath(home)
    assert params["d0.real"] == os.path.realpath(tmp_path / "elsewhere")
    ancestors = re.compile(params["DENY_ANCESTORS"])
    assert (
        ancestors.fullmatch(str(home))
        and ancestors.fullmatch(str(tmp_path))
        and ancestors.fullmatch("/")
    )
    assert ancestors.fullmatch(os.path.realpath(tmp_path))
    assert not ancestors.fullmatch(str(home / ".ssh")) and not ancestors.fullmatch(str(home) + "x")


def test_ancestors_regex_quotes_special_characters() -> None:
    p = policy(denies=(deny("/we.ird (dir)/[x]/secret"),))
    params = macos.parameters(section(p), FAKE_ENV, realpath=lambda path: path)
    ancestors = re.compile(params["DENY_ANCESTORS"])
    assert ancestors.fullmatch("/we.ird (dir)/[x]")
    assert not ancestors.fullmatch("/weXird (dir)")


def test_ancestors() -> None:
    assert macos.ancestors("/a/b/c") == ["/", "/a", "/a/b"]
    assert macos.ancestors("/a") == ["/"]


@pytest.mark.parametrize("text", ["/plain", "/a.b", "/(x)|[y]{2}*+?^$\\", "/日本"])
def test_ere_quote_round_trips(text: str) -> None:
    assert re.fullmatch(macos.ere_quote(text), text)


def test_unset_variable_is_a_sandbox_error_naming_it() -> None:
    p = policy(grants=(grant("$XDG_RUNTIME_DIR/app", R),))
    with pytest.raises(SandboxError) as caught:
        macos.parameters(section(p), {"HOME": "/Users/a"})
    assert caught.value.exit_code == 126
    assert "$XDG_RUNTIME_DIR is not set" in caught.value.diagnostic.message


def test_required_path_missing_is_a_sandbox_error(tmp_path: Path) -> None:
    p = policy(grants=(grant("$CWD/missing", R, optional=False),))
    with pytest.raises(SandboxError, match=r"required path .*missing.* does not exist"):
        macos.parameters(section(p), {"HOME": "/h"}, cwd=str(tmp_path))
    optional = policy(grants=(grant("$CWD/missing", R),))
    assert macos.parameters(section(optional), {"HOME": "/h"}, cwd=str(tmp_path))[
        "g0.real"
    ].endswith("missing")


@pytest.mark.parametrize("raw", ["", "0", "70000", "http"])
def test_proxy_mode_needs_a_valid_port(raw: str) -> None:
    with pytest.raises(SandboxError, match="proxy port"):
        macos.parameters(section(), FAKE_ENV | {macos.PROXY_PORT_ENV: raw})


def test_proxy_port_from_the_environment_or_the_caller() -> None:
    assert (
        macos.parameters(section(), FAKE_ENV | {macos.PROXY_PORT_ENV: "8899"})["PROXY_PORT"]
        == "8899"
    )
    assert macos.parameters(section(), FAKE_ENV, proxy_port=3128)["PROXY_PORT"] == "3128"


def test_unknown_parameter_kind_is_refused() -> None:
    with pytest.raises(SandboxError, match="unknown kind"):
        macos.parameters({"parameters": [{"name": "X", "kind": "future"}]}, FAKE_ENV)


def test_every_declared_parameter_gets_a_value() -> None:
    for p in HAND_POLICIES.values():
        artifact = section(p)
        params = macos.parameters(artifact, FAKE_ENV, proxy_port=1, exists=lambda _p: True)
        assert sorted(params) == [spec["name"] for spec in artifact["parameters"]]


# ---------------------------------------------------------------------------- applying


def test_sandbox_exec_command_line() -> None:
    argv = macos.sandbox_exec_argv("(version 1)", {"B": "2", "A": "x=y"}, ["/bin/ls", "-l"])
    assert argv == [
        "/usr/bin/sandbox-exec",
        "-p",
        "(version 1)",
        "-D",
        "A=x=y",
        "-D",
        "B=2",
        "/bin/ls",
        "-l",
    ]


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS the real libsandbox is found")
def test_no_libsandbox_off_macos() -> None:
    assert macos._sandbox_init() is None
    assert macos.apply_profile("(version 1)", {}) is False


INIT = ctypes.CFUNCTYPE(
    ctypes.c_int,
    ctypes.c_char_p,
    ctypes.c_uint64,
    ctypes.POINTER(ctypes.c_char_p),
    ctypes.POINTER(ctypes.c_void_p),
)
FREE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


def test_apply_profile_passes_profile_and_parameters_through_ctypes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, object] = {}

    def init(profile: bytes, flags: int, params, error) -> int:  # type: ignore[no-untyped-def]
        flat, i = [], 0
        while params[i] is not None:
            flat.append(params[i].decode())
            i += 1
        seen.update(profile=profile, flags=flags, params=flat)
        return 0

    functions = (INIT(init), FREE(lambda _p: None))
    monkeypatch.setattr(macos, "_sandbox_init", lambda: functions)
    assert macos.apply_profile("(version 1)\n", {"HOME": '/Users/a"b', "CWD": "/w"}) is True
    assert seen == {
        "profile": b"(version 1)\n",
        "flags": 0,
        "params": ["CWD", "/w", "HOME", '/Users/a"b'],
    }


def test_apply_profile_reports_libsandbox_error_and_frees_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = ctypes.create_string_buffer(b"unbound variable: nope")
    freed: list[int] = []

    def init(profile, flags, params, error) -> int:  # type: ignore[no-untyped-def]
        error[0] = ctypes.addressof(message)
        return -1

    functions = (INIT(init), FREE(lambda pointer: freed.append(pointer)))
    monkeypatch.setattr(macos, "_sandbox_init", lambda: functions)
    with pytest.raises(
        SandboxError, match="Seatbelt refused the profile: unbound variable: nope"
    ) as caught:
        macos.apply_profile("(version 1)", {})
    assert caught.value.exit_code == 126
    assert freed == [ctypes.addressof(message)]


# ---------------------------------------------------------------------------- exit codes


PRELUDE = """
import json, sys
from nonoc.launch import macos
section = json.loads(sys.argv[1]) if len(sys.argv) > 1 else None
"""


def launch(
    tmp_path: Path, argv: list[str], artifact: dict, patch: str = ""
) -> subprocess.CompletedProcess[str]:
    code = PRELUDE + patch + f"\nsys.exit(macos.exec_command(section, {argv!r}, proxy_port=3128))\n"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": f"{REPO}:{Path(__file__).parent}",
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), json.dumps(artifact)],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        cwd=tmp_path,
    )


def test_command_not_found_is_127(tmp_path: Path) -> None:
    result = launch(tmp_path, ["no-such-command-nono"], section())
    assert result.returncode == 127
    assert "no-such-command-nono: command not found" in result.stderr


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS has Seatbelt")
def test_no_seatbelt_is_126(tmp_path: Path) -> None:
    result = launch(
        tmp_path, ["true"], section(), patch=f"macos.SANDBOX_EXEC = {str(tmp_path / 'none')!r}\n"
    )
    assert result.returncode == 126
    assert "Seatbelt is not available" in result.stderr


def test_foreign_artifact_is_126(tmp_path: Path) -> None:
    result = launch(tmp_path, ["true"], {"format": "nono-seatbelt/99", "sbpl": ""})
    assert result.returncode == 126 and "nono-seatbelt/99" in result.stderr


def test_unset_variable_at_launch_is_126(tmp_path: Path) -> None:
    artifact = section(policy(grants=(grant("$XDG_RUNTIME_DIR", R),)))
    result = launch(tmp_path, ["true"], artifact)
    assert result.returncode == 126 and "$XDG_RUNTIME_DIR is not set" in result.stderr


def test_fallback_execs_sandbox_exec_with_profile_and_parameters(tmp_path: Path) -> None:
    fake = tmp_path / "sandbox-exec"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    patch = (
        f"macos.SANDBOX_EXEC = {str(fake)!r}\nmacos.apply_profile = lambda sbpl, params: False\n"
    )
    artifact = section(policy(grants=(grant("$HOME", R),)))
    result = launch(tmp_path, ["true", "arg one"], artifact, patch)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "-p" and lines[1] == "(version 1)"
    assert f"HOME={tmp_path}" in lines and f"g0.real={os.path.realpath(tmp_path)}" in lines
    assert lines[-2:] in (["/usr/bin/true", "arg one"], ["/bin/true", "arg one"])


def test_exec_denied_after_applying_is_126(tmp_path: Path) -> None:
    target = tmp_path / "not-executable"
    target.write_text("data")
    patch = "macos.apply_profile = lambda sbpl, params: True\n"
    result = launch(tmp_path, [str(target)], section(policy()), patch)
    assert result.returncode == 126 and "cannot execute" in result.stderr


def test_launcher_imports_nothing_from_the_compiler() -> None:
    code = (
        "import sys, nonoc.launch.macos\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('lark', 'pydantic', 'jinja2')"
        " or m.startswith(('nonoc.ir', 'nonoc.backends', 'nonoc.resolve', 'nonoc.syntax', 'nonoc.bundle'))]\n"
        "print(bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_describe_shows_parameters_then_profile() -> None:
    text = macos.describe(section(), FAKE_ENV, proxy_port=3128)
    assert ";; parameter HOME = '/Users/alice'" in text
    assert text.rstrip().endswith('(deny file-write-unlink\n    (regex (param "DENY_ANCESTORS")))')
