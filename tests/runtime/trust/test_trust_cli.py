"""``nono trust``: exit codes and one-line errors, in-process and as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from trust_helpers import MemoryKeyring, fake_token

from nonoc.cli.nono import main


def nono(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["trust", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_keygen_sign_verify_list(
    work: Path, capsys: pytest.CaptureFixture[str], memory_keyring: MemoryKeyring
) -> None:
    (work / "CLAUDE.md").write_text("Be careful.\n")
    code, out, _ = nono(capsys, "keygen", "--name", "alice", "--algorithm", "p256", "--trust")
    assert code == 0
    assert "created trust key 'alice' (p256" in out
    assert "private key: OS keyring (service 'nono', user 'trust-key:alice')" in out
    assert ("nono", "trust-key:alice") in memory_keyring.store

    code, out, _ = nono(capsys, "sign", "CLAUDE.md", "--key", "alice")
    assert (code, out) == (0, "signed CLAUDE.md -> CLAUDE.md.sigstore.json\n")

    code, out, err = nono(capsys, "verify")
    assert code == 0, err
    assert out.startswith("ok: CLAUDE.md: signed by key 'alice'")

    code, out, _ = nono(capsys, "verify", "CLAUDE.md", "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] is True
    assert document["files"][0]["trusted_as"] == "alice"

    code, out, _ = nono(capsys, "list")
    assert code == 0
    assert "alice  p256" in out and "key alice" in out


def test_verify_refuses_a_changed_file_with_exit_1(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "AGENTS.md").write_text("original\n")
    assert nono(capsys, "keygen", "--trust")[0] == 0
    assert nono(capsys, "sign", "AGENTS.md")[0] == 0
    (work / "AGENTS.md").write_text("changed\n")
    code, out, err = nono(capsys, "verify", "AGENTS.md")
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith("error: AGENTS.md: content does not match its signature")
    assert len(err.splitlines()) == 1


def test_verify_with_an_explicit_policy_that_trusts_nobody(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "CLAUDE.md").write_text("x\n")
    nono(capsys, "keygen", "--trust")
    nono(capsys, "sign", "CLAUDE.md")
    empty = tmp_path / "empty-policy.json"
    empty.write_text('{"on_failure": "deny"}\n')
    code, _out, err = nono(capsys, "verify", "--policy", str(empty))
    assert code == 1
    assert "which the trust policy does not trust (it trusts no keys)" in err


def test_sign_without_a_key(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "CLAUDE.md").write_text("x\n")
    code, _out, err = nono(capsys, "sign", "CLAUDE.md")
    assert code == 1
    assert err == "error: no key named 'default' (create one with 'nono trust keygen')\n"


def test_sign_a_missing_file_writes_nothing(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "CLAUDE.md").write_text("x\n")
    nono(capsys, "keygen")
    code, _, err = nono(capsys, "sign", "CLAUDE.md", "MISSING.md")
    assert code == 1 and err == "error: MISSING.md: no such file\n"
    assert not (work / "CLAUDE.md.sigstore.json").exists()


def test_keyless_sign_offline_is_one_line(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "CLAUDE.md").write_text("x\n")
    code, _, err = nono(capsys, "sign", "--keyless", "--identity-token", fake_token(), "CLAUDE.md")
    assert code == 1
    assert err.startswith("error: keyless signing failed (it needs the network")
    assert err.count("\n") == 1


def test_usage_errors_exit_2(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert nono(capsys)[0] == 2
    code, _, err = nono(capsys, "sign", "CLAUDE.md", "--identity-token", "t")
    assert code == 2 and "go with --keyless" in err
    with pytest.raises(SystemExit) as caught:
        main(["trust", "sign", "CLAUDE.md", "--key", "a", "--keyless"])
    assert caught.value.code == 2


def test_a_bad_policy_file_is_reported_with_its_position(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "on_failure": "sometimes"\n}\n')
    code, _, err = nono(capsys, "verify", "--policy", str(bad))
    assert code == 1
    assert err.splitlines()[0] == f'{bad}:2:3: error: on_failure must be "deny", "warn" or "audit"'


def test_a_real_process_exits_1_without_a_traceback(work: Path) -> None:
    (work / "CLAUDE.md").write_text("x\n")
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, "-m", "nonoc.cli.nono", "trust", "verify", "CLAUDE.md"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == "error: CLAUDE.md: not signed (no CLAUDE.md.sigstore.json)\n"
    assert "Traceback" not in result.stderr
