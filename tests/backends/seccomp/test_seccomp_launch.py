"""The launcher's side: decoding a bundle's seccomp artifact before installing it."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from seccomp_helpers import compile_program, policy, rule

from nonoc.errors import SandboxError
from nonoc.launch import seccomp as launcher


def _artifact() -> dict[str, object]:
    _, artifact = compile_program(policy(rule("bpf")), launcher.native_arch())
    return artifact


def test_decode_returns_the_program_bytes() -> None:
    artifact = _artifact()
    raw = launcher.decode(artifact)
    assert raw == base64.b64decode(str(artifact["program"]))
    assert len(raw) == 8 * int(str(artifact["count"]))


def test_decode_refuses_a_foreign_arch() -> None:
    artifact = dict(_artifact(), arch="riscv64")
    with pytest.raises(SandboxError, match="riscv64"):
        launcher.decode(artifact)


def test_decode_refuses_a_count_mismatch() -> None:
    artifact = dict(_artifact(), count=1)
    with pytest.raises(SandboxError, match="artifact says 1"):
        launcher.decode(artifact)


def test_decode_refuses_bad_base64() -> None:
    artifact = dict(_artifact(), program="not base64!")
    with pytest.raises(SandboxError, match="base64"):
        launcher.decode(artifact)


def test_launcher_module_imports_no_compiler_code() -> None:
    code = (
        "import sys, nonoc.launch.seccomp\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('lark', 'pydantic', 'jinja2')"
        " or m.startswith(('nonoc.backends', 'nonoc.ir', 'nonoc.resolve', 'nonoc.syntax'))]\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
