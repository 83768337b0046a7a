"""From a shipped example to a bundle's macOS section, and back out as launch parameters.

The whole path a Mac would take, short of calling Seatbelt: ``nonoc``'s compile pipeline
puts the artifact in the payload; the launcher's parameter code resolves it on a real
directory tree of this host; the evaluator reads the profile with those values.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from seatbelt_evaluate import Evaluator, Request
from seatbelt_sbpl import Vocabulary
from seatbelt_validate import validate

from nonoc.launch import macos

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = "examples/agent.nono"


@pytest.fixture
def payload(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    compile_module = pytest.importorskip(
        "nonoc.compile", reason="the compile pipeline is not in this tree"
    )
    if not (REPO / EXAMPLE).is_file():
        pytest.skip(f"{EXAMPLE} is not in this tree")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(REPO)
    bundle = compile_module.compile_bundle(
        EXAMPLE, "all", "aarch64", unsigned=True, use_cache=False
    )
    return json.loads(base64.b64decode(json.loads(bundle)["payload"]))  # type: ignore[no-any-return]


def test_bundle_carries_the_seatbelt_artifact(payload: dict, vocabulary: Vocabulary) -> None:  # type: ignore[type-arg]
    section = payload["macos"]["seatbelt"]
    assert section["format"] == macos.FORMAT
    assert payload["manifest"]["targets"] == ["linux", "macos"]
    names = [spec["name"] for spec in section["parameters"]]
    params = macos.parameters(
        section,
        {"HOME": "/Users/alice"},
        cwd="/Users/alice/work",
        proxy_port=3128,
        exists=lambda _p: True,
    )
    assert validate(section["sbpl"], vocabulary, params, names).errors == []


def test_rule_ids_in_the_profile_have_provenance(payload: dict) -> None:  # type: ignore[type-arg]
    import re

    ids = set(
        re.findall(r"^;; ([gdpu][0-9]+) ", payload["macos"]["seatbelt"]["sbpl"], re.MULTILINE)
    )
    assert ids and ids <= set(payload["provenance"]["macos"])


def test_launch_parameters_from_the_bundle_enforce_its_denies(
    payload: dict, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    home, work = tmp_path / "home", tmp_path / "work"
    (work / ".git" / "hooks").mkdir(parents=True)
    (home / ".ssh").mkdir(parents=True)
    section = payload["macos"]["seatbelt"]
    params = macos.parameters(
        section, {"HOME": str(home), "TMPDIR": str(tmp_path / "t")}, cwd=str(work), proxy_port=3128
    )
    ev = Evaluator(section["sbpl"], params)
    assert ev.decide(Request("file-write-data", path=str(work / "main.py"))) == "allow"
    assert ev.decide(Request("file-read-data", path=str(work / ".env"))) == "deny"
    assert (
        ev.decide(Request("file-write-create", path=str(work / ".git" / "hooks" / "pre-commit")))
        == "deny"
    )
    assert ev.decide(Request("file-read-data", path=str(home / ".ssh" / "id_ed25519"))) == "deny"
    assert ev.decide(Request("network-outbound", remote=("tcp", "localhost", 3128))) == "allow"
    assert ev.decide(Request("network-outbound", remote=("tcp", "example.com", 80))) == "deny"
