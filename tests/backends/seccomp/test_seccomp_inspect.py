"""``nonoc inspect``: the summary, the seccomp listing, JSON, and errors without tracebacks."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from seccomp_helpers import compile_program, policy, rule

from nonoc.bundle.canonical import canonical_json
from nonoc.cli.nonoc import main

PAYLOAD_TYPE = "application/vnd.nono.bundle+json"


def _bundle(tmp_path: Path, *, signed: bool, targets: tuple[str, ...] = ("linux",)) -> Path:
    _, artifact = compile_program(policy(rule("bpf", line=4), network="blocked", name="demo"))
    payload: dict[str, object] = {
        "format": "nono-bundle/1",
        "manifest": {
            "compiler": "nonoc 0.1.0",
            "profile": "demo",
            "targets": list(targets),
            "arch": "x86_64",
            "sources": {"demo.nono": "ab" * 32},
            "variables": ["HOME"],
            "assumptions": {"landlock_abi": 7, "min_abi": 1, "compat": "best_effort"},
        },
        "provenance": {},
    }
    if "linux" in targets:
        payload["linux"] = {
            "seccomp": artifact,
            "launch": {"network": "blocked"},
            "landlock": {
                "abi": 7,
                "compat": "best_effort",
                "handled_fs": ["READ_FILE"],
                "handled_net": [],
                "scopes": ["SIGNAL"],
                "rules": [{"id": "g0", "path": "/usr", "kind": "tree", "access": ["READ_FILE"]}],
                "denies": [],
                "net": [],
            },
        }
    if "macos" in targets:
        payload["macos"] = {"seatbelt": {"sbpl": "(version 1)\n(deny default)\n"}}
    signatures = [{"keyid": "cd" * 32, "sig": "AAAA"}] if signed else []
    envelope = {
        "payload": base64.b64encode(canonical_json(payload)).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": signatures,
    }
    path = tmp_path / "demo.bundle"
    path.write_text(json.dumps(envelope))
    return path


@pytest.fixture(autouse=True)
def _no_trusted_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_summary_and_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, signed=True)
    assert main(["inspect", str(bundle), "--seccomp"]) == 0
    out = capsys.readouterr().out
    assert "profile:  demo" in out
    assert "signed:   key cdcdcdcdcdcdcdcd (not a trusted key here; not verified by inspect)" in out
    assert "seccomp:  x86_64," in out and "default allow, x32 errno:ENOSYS" in out
    assert "  s0    bpf errno:EPERM  <- test.nono:4:1" in out
    assert "AUDIT_ARCH_X86_64" in out and "ret  #0x00050001" in out


def test_unsigned_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(_bundle(tmp_path, signed=False))]) == 0
    assert "signed:   no" in capsys.readouterr().out


def test_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(_bundle(tmp_path, signed=True)), "--seccomp", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["signed"] is True
    assert report["manifest"]["profile"] == "demo"
    assert report["targets"]["linux"]["seccomp"]["arch"] == "x86_64"
    assert report["seccomp"]["listing"][1].strip().startswith("0: ld   [4]")
    assert "program" not in report["seccomp"]


def test_landlock_and_sbpl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, signed=False, targets=("linux", "macos"))
    assert main(["inspect", str(bundle), "--landlock", "--sbpl"]) == 0
    out = capsys.readouterr().out
    assert "allow g0 /usr [tree] READ_FILE" in out
    assert "(deny default)" in out


def test_missing_artifact_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, signed=False, targets=("macos",))
    assert main(["inspect", str(bundle), "--seccomp"]) == 1
    err = capsys.readouterr().err
    assert "error: --seccomp: the bundle has no seccomp artifact (targets: macos)" in err
    assert "Traceback" not in err


def test_not_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.bundle"
    junk.write_text("{not json")
    assert main(["inspect", str(junk)]) == 1
    assert "not a nono bundle" in capsys.readouterr().err
    assert main(["inspect", str(tmp_path / "absent.bundle")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_a_compiled_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: ``nonoc compile --unsigned`` then ``nonoc inspect --seccomp``."""
    repo = Path(__file__).resolve().parents[3]
    out = tmp_path / "quickstart.bundle"
    source = str(repo / "examples" / "quickstart.nono")
    assert (
        main(
            [
                "compile",
                source,
                "--target",
                "linux",
                "--arch",
                "x86_64",
                "--unsigned",
                "-o",
                str(out),
                "--no-cache",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["inspect", str(out), "--seccomp"]) == 0
    text = capsys.readouterr().out
    assert "signed:   no" in text
    assert "ioctl errno:EPERM if arg1 == 0x5412  <- stdlib/seccomp.nono" in text
    assert "network:  blocked" in text
    assert "AUDIT_ARCH_X86_64" in text
