"""``--dry-run``, ``--json`` and ``-v``: the account of a run; and what a cached run costs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_run_support import Sandbox, require_landlock

pytestmark = pytest.mark.kernel
pytest_plugins = ["test_run_support"]  # the sandbox fixtures


@pytest.fixture(autouse=True)
def _landlock() -> None:
    require_landlock()


def test_dry_run_prints_policy_provenance_and_kernel_rules(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "--allow", ".", "--net-block", "--dry-run", command=["sh", "-c", "touch ran"]
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"profile: test, from {sandbox.profile} (--profile)" in out
    assert "flags (an anonymous profile extending test):" in out
    assert '  --allow .                  allow "$CWD"' in out
    assert "  --net-block                network block" in out
    assert 'built-in blocked commands  command block "apt"' in out
    assert "network: blocked" in out
    assert "environment: strips" in out and "LD_*" in out
    assert "command: sh -c touch ran: runs" in out
    assert "--- what the kernel gets ---" in out
    # The launcher's own account, with each rule's origin.
    assert f"  {sandbox.work}  [dir]  READ_FILE READ_DIR  <- g" in out
    assert "(<command line>:1:1, via profile test > flag --allow .)" in out
    assert "seccomp:" in out
    assert not (sandbox.work / "ran").exists()  # nothing ran


def test_dry_run_exit_code_says_what_the_run_would_do(sandbox: Sandbox) -> None:
    blocked = sandbox.run("--allow-cwd", "--dry-run", command=["rm", "x"])
    assert blocked.returncode == 126 and "command: rm x: blocked as rm" in blocked.stdout
    missing = sandbox.run("--dry-run", command=["no-such-command-anywhere"])
    assert missing.returncode == 127 and "not found" in missing.stdout
    bare = sandbox.nono("run", "--profile", str(sandbox.profile), "--dry-run")
    assert bare.returncode == 0 and "--- what the kernel gets ---" in bare.stdout
    assert "exec:" not in bare.stdout


def test_json_account(sandbox: Sandbox) -> None:
    result = sandbox.run(
        "--read",
        "./",
        "--allow-port",
        "8443",
        "--dry-run",
        "--json",
        command=["true"],
        env={"LD_PRELOAD": ""},
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["profile"]["name"] == "test"
    assert {"flag": "--read ./", "statements": 'read "$CWD"'} in document["flags"]
    assert document["launch"]["network"] == "open"
    assert "LD_*" in document["launch"]["environment"]["strip"]
    removed = document["launch"]["environment"]["removed_here"]
    assert "LD_PRELOAD" in removed and "HOME" not in removed and "PATH" not in removed
    assert document["command"]["verdict"] == "runs"
    allow = document["kernel"]["landlock"]["allow"]
    mine = [rule for rule in allow if rule["path"] == str(sandbox.work)]
    assert mine and "flag --read ./" in mine[0]["source"]
    assert mine[0]["access"] == ["READ_FILE", "READ_DIR"]
    assert document["kernel"]["seccomp"]["instructions"] > 0
    rule_id = mine[0]["rule"]
    assert document["provenance"][rule_id]["chain"][-1] == {
        "file": "<command line>",
        "kind": "flag",
        "line": 0,
        "name": "--read ./",
    }
    assert "--allow-port 8443 has no effect" in result.stderr


def test_json_needs_dry_run(sandbox: Sandbox) -> None:
    result = sandbox.run("--json", command=["true"])
    assert result.returncode == 2 and "--json goes with --dry-run" in result.stderr


def test_verbose_prints_the_account_then_runs(sandbox: Sandbox) -> None:
    (sandbox.work / "f").write_text("content")
    result = sandbox.run("-v", "--read", ".", command=["cat", "f"])
    assert result.returncode == 0
    assert result.stdout == "content"
    assert "--- what the kernel gets ---" in result.stderr and "flag --read ." in result.stderr


def test_second_identical_run_is_cached_and_imports_nothing_heavy(sandbox: Sandbox) -> None:
    flags = ("--read", "./", "--write-file", "./log")
    (sandbox.work / "log").write_text("")
    sandbox.run(*flags, command=["true"])
    again = sandbox.run(*flags, "--dry-run", command=["true"])
    assert "bundle: from the compile cache" in again.stdout
    traced = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "nonoc.cli.nono",
            "run",
            "--profile",
            str(sandbox.profile),
            *flags,
            "--",
            "true",
        ],
        env=sandbox.env,
        cwd=sandbox.work,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert traced.returncode == 0
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in traced.stderr.splitlines() if "|" in line
    }
    for heavy in ("lark", "pydantic", "jinja2", "nonoc.compile", "nonoc.resolve", "cryptography"):
        assert heavy not in imported, f"a cached nono run imported {heavy}"


def test_a_changed_profile_is_compiled_again(sandbox: Sandbox) -> None:
    profile = sandbox.write_profile("# first", name="changing.nono")
    sandbox.profile = profile
    first = sandbox.run("--dry-run", command=["true"])
    assert (
        "bundle: compiled now" in first.stdout or "bundle: from the compile cache" in first.stdout
    )
    assert "from the compile cache" in sandbox.run("--dry-run", command=["true"]).stdout
    profile.write_text(profile.read_text().replace("# first", 'read "/etc/hostname"'))
    changed = sandbox.run("--dry-run", command=["true"])
    assert "bundle: compiled now" in changed.stdout
    assert "/etc/hostname" in changed.stdout


def test_a_cached_run_still_warns_about_missing_flag_paths(sandbox: Sandbox) -> None:
    for _ in range(2):
        result = sandbox.run("--read", "./absent", command=["true"])
        assert result.returncode == 0
        assert (
            "--read ./absent:" in result.stderr
            and "does not exist; the grant is skipped" in result.stderr
        )
