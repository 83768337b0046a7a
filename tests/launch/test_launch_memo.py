"""The verification memo's launcher view, deferred provenance, and what ``nono exec`` imports.

The memo (``nonoc.launch.memo``) lets a repeated ``nono exec`` skip the signature check and
the payload's decoding; these tests check that it changes nothing a full check decides:
same payload, same refusals, a tampered memo ignored.
"""

from __future__ import annotations

import binascii
import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from launch_helpers import (
    NONO,
    READ_TREE,
    linux_document,
    rule,
    run_nono,
    signed_bundle,
    table,
    where,
)

from nonoc.launch import memo, rights, verify


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts full signature checks (each call of ``verify_signatures``)."""
    calls: list[str] = []
    real = verify.verify_signatures

    def counting(*args: Any) -> str:
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(verify, "verify_signatures", counting)
    return calls


def document(tmp_path: Path) -> dict[str, Any]:
    return linux_document(table([rule("g0", tmp_path, READ_TREE)]), {"g0": where("demo.nono", 3)})


def memo_file(bundle: Path) -> Path:
    return Path(memo.memo_path(verify.digest(bundle.read_bytes())))


def test_memo_gives_the_payload_a_full_check_gives(
    tmp_path: Path, config: dict[str, str], checks: list[str]
) -> None:
    expected = document(tmp_path)
    bundle = signed_bundle(tmp_path / "app.bundle", expected)
    assert verify.load_verified(str(bundle)) == expected
    assert verify.load_verified(str(bundle)) == expected
    deferred = verify.load_verified(str(bundle), defer_provenance=True)
    assert len(checks) == 1
    assert isinstance(deferred["provenance"], verify.Deferred)
    assert deferred["provenance"].get("linux") == {"g0": where("demo.nono", 3)}
    assert deferred == expected


def test_memo_view_holds_no_provenance(tmp_path: Path, config: dict[str, str]) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", document(tmp_path))
    verify.load_verified(str(bundle))
    stored = memo_file(bundle).read_bytes()
    tag, view = stored.split(b"\n", 1)
    assert len(tag) == 64 and binascii.unhexlify(tag)
    remembered = marshal.loads(view)
    assert set(remembered) == {"payload", "rights"}
    assert set(remembered["payload"]) == {"format", "linux", "manifest"}
    assert remembered["rights"] == rights.facts()
    assert memo_file(bundle).stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # one bit of the view
        lambda b: bytes([b[0] ^ 1]) + b[1:],  # one bit of the tag
        lambda b: b[:64],  # the view cut off
        lambda b: b[:64] + b" " + b[65:],  # no newline after the tag
        lambda b: b"",
    ],
)
def test_damaged_memo_means_a_full_check(
    tmp_path: Path, config: dict[str, str], checks: list[str], damage: Any
) -> None:
    expected = document(tmp_path)
    bundle = signed_bundle(tmp_path / "app.bundle", expected)
    verify.load_verified(str(bundle))
    place = memo_file(bundle)
    place.write_bytes(damage(place.read_bytes()))
    assert verify.load_verified(str(bundle)) == expected
    assert len(checks) == 2
    assert verify.load_verified(str(bundle)) == expected  # the memo was written anew
    assert len(checks) == 2


def test_memo_of_another_interpreter_is_not_used(
    tmp_path: Path, config: dict[str, str], checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", document(tmp_path))
    verify.load_verified(str(bundle))
    monkeypatch.setattr(memo, "_cache_tag", lambda: b"another-311")
    verify.load_verified(str(bundle))
    assert len(checks) == 2


def test_memo_is_void_when_the_rights_table_changes(
    tmp_path: Path, config: dict[str, str], checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", document(tmp_path))
    verify.load_verified(str(bundle))
    monkeypatch.setattr(rights, "_SOURCE", rights.source() + b"\n")
    verify.load_verified(str(bundle))
    assert len(checks) == 2


def test_memo_hit_takes_the_rights_facts_from_the_memo(
    tmp_path: Path, config: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", document(tmp_path))
    verify.load_verified(str(bundle))
    code = (
        "import sys; from nonoc.launch import rights, verify; "
        f"verify.load_verified({str(bundle)!r}, defer_provenance=True); "
        "print(rights.mask('fs', ['READ_FILE', 'READ_DIR']), rights._TABLE is None, "
        "'_json' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=config, check=True
    )
    expected = rights.rights("fs")["READ_FILE"].mask | rights.rights("fs")["READ_DIR"].mask
    assert done.stdout.split() == [str(expected), "True", "False"]


def test_foreign_arch_is_refused_on_the_memo_path_too(
    tmp_path: Path, config: dict[str, str], checks: list[str]
) -> None:
    foreign = "aarch64" if verify.native_arch() != "aarch64" else "x86_64"
    payload = document(tmp_path)
    payload["manifest"]["arch"] = foreign
    bundle = signed_bundle(tmp_path / "app.bundle", payload)
    for _ in range(2):
        with pytest.raises(Exception, match=f"compiled for {foreign}"):
            verify.load_verified(str(bundle))
    assert len(checks) == 1  # the second refusal came from the memo's view


def test_refusal_on_the_memo_path_names_the_rule_and_its_source(
    tmp_path: Path, config: dict[str, str]
) -> None:
    payload = document(tmp_path)
    payload["linux"]["landlock"]["rules"].append(rule("g1", tmp_path / "absent", READ_TREE))
    payload["provenance"]["linux"]["g1"] = where("demo.nono", 7)
    bundle = signed_bundle(tmp_path / "app.bundle", payload)
    for _ in range(2):  # a full check, then the memo with its provenance deferred
        refused = run_nono(["exec", str(bundle), "--", "true"], config)
        assert refused.returncode == 126
        assert "g1 (demo.nono:7:3, via profile test): required path" in refused.stderr


#: Modules ``nono exec`` must not import on a memo hit: the compiler's libraries, and the
#: standard library modules whose import costs the launcher more than its own work.
NOT_IMPORTED = {
    "lark",
    "pydantic",
    "jinja2",
    "cryptography",
    "nonoc.ir",
    "nonoc.backends",
    "nonoc.bundle",
    "nonoc.syntax",
    "nonoc.resolve",
    "nonoc.errors",
    "argparse",
    "json",
    "re",
    "enum",
    "functools",
    "dataclasses",
    "typing",
    "collections.abc",
    "inspect",
    "hashlib",
    "base64",
    "platform",
    "pathlib",
    "signal",
    "nonoc.launch.report",
}


def exec_imports(bundle: Path, env: dict[str, str]) -> set[str]:
    """The modules a real ``nono exec BUNDLE -- /bin/true`` imported before its execve."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", NONO, "exec", str(bundle), "--", "/bin/true"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.mark.kernel
def test_exec_imports_only_what_it_needs(
    tmp_path: Path, config: dict[str, str], kernel_abi: int
) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", document(tmp_path))
    exec_imports(bundle, config)  # the first exec verifies in full and writes the memo
    imported = exec_imports(bundle, config)
    assert {"nonoc.launch.verify", "nonoc.launch.landlock"} <= imported  # it did parse them
    # Without a seccomp filter, neither ctypes (_ctypes does the system calls) nor base64 or
    # JSON decoding (the memo holds the payload and the rights facts) is needed.
    unwanted = NOT_IMPORTED | {"ctypes", "binascii", "_json", "nonoc.launch.jsondata"}
    assert not imported & unwanted, sorted(imported & unwanted)


@pytest.mark.kernel
def test_exec_with_a_seccomp_filter_imports_only_what_it_needs(
    tmp_path: Path, config: dict[str, str], kernel_abi: int
) -> None:
    # BPF_RET|BPF_K SECCOMP_RET_ALLOW: a one-instruction filter that allows everything.
    allow = (0x06).to_bytes(2, sys.byteorder) + b"\0\0" + (0x7FFF0000).to_bytes(4, sys.byteorder)
    payload = document(tmp_path)
    payload["linux"]["seccomp"] = {
        "arch": verify.native_arch(),
        "program": binascii.b2a_base64(allow, newline=False).decode(),
        "count": 1,
    }
    bundle = signed_bundle(tmp_path / "app.bundle", payload)
    exec_imports(bundle, config)
    imported = exec_imports(bundle, config)
    assert "nonoc.launch.seccomp" in imported
    assert not imported & NOT_IMPORTED, sorted(imported & NOT_IMPORTED)


def test_memo_directory_is_private(tmp_path: Path, config: dict[str, str]) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", document(tmp_path))
    verify.load_verified(str(bundle))
    assert os.stat(memo_file(bundle).parent).st_mode & 0o777 == 0o700
