"""``nono run`` with rollback and audit, through the real command line and a real child.

A sandboxed Python program creates, modifies, deletes and renames files (and changes a
mode, a symlink, an empty directory); ``nono rollback restore ID --yes`` with the ID the
run printed brings the tree back byte for byte. The run's audit session verifies with
``nono audit verify``, holds every kind of record the run produced, and a changed record
is caught and named.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from test_run_support import PYTHON, Sandbox, require_landlock

pytestmark = pytest.mark.kernel

AGENT = r"""
import os
os.makedirs("made/deeper")
with open("made/deeper/new.txt", "w") as f: f.write("brand new\n")
with open("created.txt", "wb") as f: f.write(b"\x00\x01 binary")
with open("edit.txt", "a") as f: f.write("appended by the agent\n")
with open("dir/nested.txt", "w") as f: f.write("rewritten\n")
os.unlink("gone.txt")
os.rename("old-name.txt", "new-name.txt")
os.chmod("script.sh", 0o600)
os.unlink("link"); os.symlink("edit.txt", "link")
os.rmdir("empty")
print("agent done")
"""


def state(root: Path) -> dict[str, Any]:
    """Every path under ``root``: type, permission bits, content or link target."""
    found: dict[str, Any] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                found[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found


def populate(work: Path) -> None:
    (work / "dir").mkdir()
    (work / "empty").mkdir()
    (work / "keep.txt").write_bytes(b"untouched\n")
    (work / "edit.txt").write_bytes(b"before\n")
    (work / "gone.txt").write_bytes(b"delete me\n")
    (work / "old-name.txt").write_bytes(b"rename me\n")
    (work / "dir" / "nested.txt").write_bytes(b"nested\n")
    (work / "script.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    (work / "script.sh").chmod(0o755)
    os.symlink("keep.txt", work / "link")


def records(box: Sandbox, session: str) -> list[dict[str, Any]]:
    shown = box.nono("audit", "show", session, "--json")
    assert shown.returncode == 0, shown.stderr
    return list(json.loads(shown.stdout))


def last_session(box: Sandbox) -> str:
    listed = box.nono("audit", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    return str(json.loads(listed.stdout)[-1]["id"])


def test_rollback_undoes_a_run_byte_for_byte_and_the_audit_trail_verifies(
    own_sandbox: Sandbox,
) -> None:
    require_landlock()
    box = own_sandbox
    populate(box.work)
    before = state(box.work)
    run = box.run("--allow", ".", "--rollback", command=[PYTHON, "-I", "-S", "-c", AGENT])
    assert run.returncode == 0, run.stderr
    assert "agent done" in run.stdout
    undo = re.search(
        r"(\d+) added, (\d+) modified, (\d+) deleted; undo with `nono rollback restore (\S+)`",
        run.stderr,
    )
    assert undo is not None, run.stderr
    after = state(box.work)
    assert after != before and "gone.txt" not in after and "made/deeper/new.txt" in after

    restored = box.nono("rollback", "restore", undo.group(4), "--yes")
    assert restored.returncode == 0, restored.stderr + restored.stdout
    assert state(box.work) == before

    session = last_session(box)
    kinds = [r["kind"] for r in records(box, session)]
    assert kinds == ["session_start", "policy", "snapshot", "command", "snapshot", "session_end"]
    trail = records(box, session)
    start, end = trail[0], trail[-1]
    assert start["command"][0] == PYTHON and start["policy_digest"] and start["landlock_abi"] >= 1
    assert start["platform"]["system"] == "Linux" and start["target"] == "linux"
    assert end["exit_code"] == 0
    snapshots = [r for r in trail if r["kind"] == "snapshot"]
    assert [s["label"] for s in snapshots] == ["before", "after"]
    assert snapshots[0]["snapshot_id"] == undo.group(4)
    assert all(len(s["merkle_root"]) == 64 for s in snapshots)
    assert snapshots[0]["roots"] == [str(box.work)]
    policy = trail[1]
    assert policy["digest"] == start["policy_digest"] and policy["grants"] > 0

    verified = box.nono("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "OK (1 sessions, 6 records" in verified.stdout

    # Tampering with a record (the exit code) is detected and named.
    path = box.home / ".local" / "state" / "nono" / "audit" / "sessions" / f"{session}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[-1] = lines[-1].replace(b'"exit_code":0', b'"exit_code":1')
    path.write_bytes(b"".join(lines))
    tampered = box.nono("audit", "verify")
    assert tampered.returncode == 1
    assert "record seq 5 (line 6, session_end) was changed" in tampered.stderr


def test_the_profile_turns_rollback_on_and_no_rollback_off(sandbox: Sandbox) -> None:
    require_landlock()
    sandbox.profile = sandbox.write_profile("rollback on")
    write = [PYTHON, "-I", "-S", "-c", "open('f', 'w').write('x')"]
    on = sandbox.run("--allow", ".", command=write)
    assert on.returncode == 0, on.stderr
    assert "1 added, 0 modified, 0 deleted; undo with" in on.stderr
    off = sandbox.run("--allow", ".", "--no-rollback", command=write)
    assert off.returncode == 0 and "undo with" not in off.stderr


def test_no_audit_writes_no_session(own_sandbox: Sandbox) -> None:
    require_landlock()
    run = own_sandbox.run("--allow", ".", "--no-audit", command=["/bin/true"])
    assert run.returncode == 0, run.stderr
    assert not (own_sandbox.home / ".local" / "state" / "nono" / "audit" / "sessions").exists()
    assert own_sandbox.run("--allow", ".", command=["/bin/true"]).returncode == 0
    assert (
        len(list((own_sandbox.home / ".local" / "state" / "nono" / "audit" / "sessions").iterdir()))
        == 1
    )


def test_session_flags_are_refused_by_nono_wrap_and_contradictions_are_usage_errors(
    sandbox: Sandbox,
) -> None:
    wrapped = sandbox.nono("wrap", "--rollback", "--", "/bin/true")
    assert wrapped.returncode == 2 and "--rollback needs nono run" in wrapped.stderr
    both = sandbox.run("--rollback", "--no-rollback", command=["/bin/true"])
    assert both.returncode == 2 and "contradict" in both.stderr


def test_audit_sign_signs_the_session_with_the_bundle_key(own_sandbox: Sandbox) -> None:
    require_landlock()
    run = own_sandbox.run("--allow", ".", "--audit-sign", command=["/bin/true"])
    assert run.returncode == 0, run.stderr
    listed = json.loads(own_sandbox.nono("audit", "list", "--json").stdout)
    assert listed[-1]["signed"] is True
    public = own_sandbox.home / ".config" / "nono" / "keys" / "default.pub"
    verified = own_sandbox.nono("audit", "verify", "--key", str(public), "--require-signature")
    assert verified.returncode == 0, verified.stderr + verified.stdout


def test_an_unwritable_audit_trail_stops_the_run_with_one_line(own_sandbox: Sandbox) -> None:
    require_landlock()
    blocker = own_sandbox.root / "state-is-a-file"
    blocker.write_text("")
    run = own_sandbox.run(
        "--allow", ".", command=["/bin/sh", "-c", "touch ran"], env={"XDG_STATE_HOME": str(blocker)}
    )
    assert run.returncode == 1
    assert "nono: error: cannot write the audit trail" in run.stderr
    assert "--no-audit" in run.stderr and "Traceback" not in run.stderr
    assert not (own_sandbox.work / "ran").exists()
