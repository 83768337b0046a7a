"""``nono exec`` end to end: argument parsing, signed bundles, dry run, exit codes, imports."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from launch_helpers import PYTHON, READ_TREE, deny, payload, rule, table, where

from nonoc.launch import cli, verify

NONO = str(Path(sys.executable).parent / "nono")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An isolated HOME/XDG tree with one trusted Ed25519 key; returns the environment."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return {**os.environ, **env}


def signed_bundle(
    path: Path,
    document: dict[str, Any],
    key: Ed25519PrivateKey | None = None,
    *,
    trust: bool = True,
) -> Path:
    """Write ``document`` as a DSSE envelope signed with ``key`` (trusted unless told)."""
    key = key or Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    if trust:
        trusted = Path(verify.trusted_keys_dir())
        trusted.mkdir(parents=True, exist_ok=True)
        (trusted / "test.pub").write_text(verify.public_key_to_pem(raw))
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(verify.pae(verify.PAYLOAD_TYPE, body))
    envelope = {
        "payload": base64.b64encode(body).decode(),
        "payloadType": verify.PAYLOAD_TYPE,
        "signatures": [
            {"keyid": verify.keyid_of(raw), "sig": base64.b64encode(signature).decode()}
        ],
    }
    path.write_text(json.dumps(envelope))
    return path


def linux_document(
    landlock: dict[str, Any], provenance: dict[str, Any] | None = None
) -> dict[str, Any]:
    document = payload(landlock, provenance)
    document["manifest"] = {
        "compiler": "test",
        "profile": "demo",
        "targets": ["linux"],
        "arch": "any",
    }
    return document


def run_nono(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([NONO, *args], capture_output=True, text=True, env=env, timeout=60)


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "usage: nono exec [--dry-run] [-v] BUNDLE [--] CMD" in capsys.readouterr().out
    assert cli.main([]) == 2
    assert "missing BUNDLE" in capsys.readouterr().err
    assert cli.main(["app.bundle"]) == 2
    assert "missing the command" in capsys.readouterr().err
    assert cli.main(["app.bundle", "--"]) == 2
    assert cli.main(["--frobnicate", "app.bundle", "--", "true"]) == 2
    assert "unknown option --frobnicate" in capsys.readouterr().err


def test_parse_shapes() -> None:
    parsed = cli.parse(["--dry-run", "-v", "b.bundle", "--", "ls", "-l", "--", "x"])
    assert not isinstance(parsed, int)
    assert (parsed.bundle, parsed.command, parsed.dry_run, parsed.verbose) == (
        "b.bundle",
        ["ls", "-l", "--", "x"],
        True,
        True,
    )
    bare = cli.parse(["b.bundle", "ls", "-l"])
    assert not isinstance(bare, int) and bare.command == ["ls", "-l"] and not bare.dry_run


def test_missing_unsigned_and_untrusted_bundles_exit_1(
    tmp_path: Path, config: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([str(tmp_path / "absent.bundle"), "--", "true"]) == 1
    assert "cannot read bundle" in capsys.readouterr().err
    stranger = signed_bundle(tmp_path / "s.bundle", linux_document(table([])), trust=False)
    assert cli.main([str(stranger), "--", "true"]) == 1
    assert "untrusted key" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path, config: dict[str, str]) -> None:
    work = tmp_path.resolve() / "work"
    (work / ".secret").mkdir(parents=True)
    (work / "notes").write_text("n")
    document = linux_document(
        table(
            [rule("g0", work, READ_TREE), rule("g1", "$HOME/.absent", READ_TREE, optional=True)],
            [deny("d0", work / ".secret")],
        ),
        {"g0": where("demo.nono", 3), "d0": where("demo.nono", 4)},
    )
    bundle = signed_bundle(tmp_path / "demo.bundle", document)
    marker = tmp_path / "ran"
    done = run_nono(["exec", "--dry-run", str(bundle), "--", "touch", str(marker)], config)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    out = done.stdout
    assert f"bundle: {bundle} (profile demo)" in out
    assert "fully enforced" in out or "partially enforced" in out
    assert (
        f"{work}/notes  [file, split from g0]  READ_FILE  <- g0 (demo.nono:3:3, via profile test)"
        in out
    )
    assert (
        f"{work} <- g0 (demo.nono:3:3, via profile test): 1 entries granted beside d0 (demo.nono:4:3"
        in out
    )
    assert f"no right on (nothing can be created in them, listing fails): {work}" in out
    assert "$HOME/.absent <- g1: " in out
    assert "exec: /usr/bin/touch" in out or "exec: /bin/touch" in out


@pytest.mark.kernel
def test_nono_exec_runs_the_command_in_the_sandbox(
    tmp_path: Path, config: dict[str, str], kernel_abi: int
) -> None:
    (tmp_path / "secret").write_text("s")
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    ok = run_nono(["exec", str(bundle), "--", PYTHON, "-I", "-S", "-c", "print('inside')"], config)
    assert (ok.returncode, ok.stdout.strip()) == (0, "inside"), ok.stderr
    code = f"open({str(tmp_path / 'secret')!r}).read()"
    denied = run_nono(["exec", str(bundle), "--", PYTHON, "-I", "-S", "-c", code], config)
    assert denied.returncode == 1 and "PermissionError" in denied.stderr
    exit_code = run_nono(
        ["exec", str(bundle), "--", PYTHON, "-I", "-S", "-c", "raise SystemExit(42)"], config
    )
    assert exit_code.returncode == 42


@pytest.mark.kernel
def test_nono_exec_exit_codes(tmp_path: Path, config: dict[str, str], kernel_abi: int) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    missing = run_nono(["exec", str(bundle), "--", "no-such-command-here"], config)
    assert missing.returncode == 127 and "command not found" in missing.stderr
    needs = linux_document(table([rule("g0", tmp_path / "absent", READ_TREE, optional=False)]))
    refused = run_nono(
        ["exec", str(signed_bundle(tmp_path / "needs.bundle", needs)), "--", "true"], config
    )
    assert refused.returncode == 126 and "required path" in refused.stderr
    assert "Traceback" not in refused.stderr
    usage = run_nono(["exec", str(bundle)], config)
    assert usage.returncode == 2


def test_launcher_imports_no_compiler_module(tmp_path: Path, config: dict[str, str]) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    script = (
        "import sys\n"
        "from nonoc.cli.nono import main\n"
        f"code = main(['exec', '--dry-run', {str(bundle)!r}, '--', 'true'])\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    for _ in range(2):  # the first run verifies the signature, the second uses the memo
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=config, timeout=60
        )
        assert done.returncode == 0, done.stderr
        modules = set(done.stdout.rsplit("MODULES ", 1)[1].split())
        forbidden = {
            "lark",
            "pydantic",
            "jinja2",
            "argparse",
            "nonoc.ir",
            "nonoc.backends",
            "nonoc.syntax",
            "nonoc.resolve",
            "nonoc.bundle",
        }
        assert not modules & forbidden
    assert "cryptography" not in modules  # memo hit: no signature library at all


@pytest.mark.kernel
def test_verbose_prints_the_plan_on_stderr_then_runs(
    tmp_path: Path, config: dict[str, str], kernel_abi: int
) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    done = run_nono(
        ["exec", "-v", str(bundle), "--", PYTHON, "-I", "-S", "-c", "print('ran')"], config
    )
    assert done.returncode == 0 and done.stdout.strip() == "ran"
    assert "landlock: kernel ABI" in done.stderr and f"exec: {PYTHON}" in done.stderr
