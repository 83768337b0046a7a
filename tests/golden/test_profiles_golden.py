"""Golden bundles: every built-in profile compiled for Linux and macOS, as a reviewer reads it.

Each profile is compiled with ``nonoc.compile`` (unsigned, x86_64, Landlock ABI 7, no
cache, no user profile in reach) and its payload rendered as text, one snapshot file per
profile in ``tests/golden/test_profiles_golden/``: the manifest, the Landlock rule table,
the seccomp rule list, the Seatbelt parameters, the launcher settings of both targets and
every rule's provenance. A change to the stdlib or a profile shows as a diff of those
files. Update with ``pytest tests/golden/test_profiles_golden.py --snapshot-update``.

Generated code is left to the backends' own goldens, which also cover every shipped
profile: the seccomp program (``tests/golden/test_seccomp_golden``) and the SBPL text
(``tests/golden/test_seatbelt_golden``). Here they appear as their size only, so that a
code generator change does not churn these files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from golden_files import REPO, GoldenText

PROFILES = sorted(p.stem for p in (REPO / "profiles").glob("*.nono"))


@pytest.fixture
def golden(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(GoldenText)


@pytest.fixture(autouse=True)
def no_user_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A private HOME: the real user's profiles cannot shadow the built-ins."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    monkeypatch.chdir(tmp_path)
    yield


def payload(profile: str) -> dict[str, Any]:
    """The decoded payload of the profile's bundle for both targets."""
    from nonoc.compile import compile_profile

    result = compile_profile(
        profile, "all", "x86_64", unsigned=True, use_cache=False, landlock_abi=7
    )
    envelope = json.loads(result.data)
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def render(data: dict[str, Any]) -> str:
    """The payload as reviewable text (see the module docstring for what is left out)."""
    lines: list[str] = []
    manifest = dict(data["manifest"])
    manifest["sources"] = sorted(manifest["sources"])  # digests change with every edit
    manifest.pop("compiler", None)
    section(lines, "manifest", manifest)
    linux, macos = data["linux"], data["macos"]
    landlock = dict(linux["landlock"])
    rules = landlock.pop("rules")
    denies = landlock.pop("denies")
    net = landlock.pop("net")
    section(lines, "linux.landlock", landlock)
    lines.append("linux.landlock.rules:")
    lines += [
        f"  {r['id']:<5} {r['path']}  {r['kind']}  {' '.join(r['access'])}"
        + ("" if r["optional"] else "  required")
        for r in rules
    ]
    lines.append("linux.landlock.denies:")
    lines += [f"  {d['id']:<5} {d['path']}  {d['kind']}" for d in denies]
    lines.append("linux.landlock.net:")
    lines += [f"  {json.dumps(n, sort_keys=True)}" for n in net]
    seccomp = dict(linux["seccomp"])
    program = base64.b64decode(seccomp.pop("program"))
    seccomp_rules = seccomp.pop("rules")
    for generated in ("sha256", "count", "ranges"):
        seccomp.pop(generated, None)
    seccomp["program_instructions"] = len(program) // 8
    section(lines, "linux.seccomp", seccomp)
    lines.append("linux.seccomp.rules:")
    lines += [f"  {json.dumps(r, sort_keys=True)}" for r in seccomp_rules]
    section(lines, "linux.launch", linux["launch"])
    seatbelt = dict(macos["seatbelt"])
    sbpl = seatbelt.pop("sbpl")
    parameters = seatbelt.pop("parameters")
    seatbelt["sbpl_lines"] = sbpl.count("\n")
    section(lines, "macos.seatbelt", seatbelt)
    lines.append("macos.seatbelt.parameters:")
    lines += [f"  {json.dumps(p, sort_keys=True)}" for p in parameters]
    section(lines, "macos.launch", macos["launch"])
    for target in ("linux", "macos"):
        lines.append(f"provenance.{target}:")
        table = data["provenance"][target]
        for rule_id in sorted(table, key=_id_order):
            entry = table[rule_id]
            chain = " > ".join(link["name"] for link in entry["chain"])
            lines.append(
                f"  {rule_id:<7} {entry['file']}:{entry['line']}:{entry['column']}  {chain}"
            )
    return "\n".join(lines) + "\n"


def section(lines: list[str], title: str, mapping: dict[str, Any]) -> None:
    lines.append(f"{title}:")
    lines += [f"  {key}: {json.dumps(mapping[key], sort_keys=True)}" for key in sorted(mapping)]


def _id_order(rule_id: str) -> tuple[str, int]:
    prefix = rule_id.rstrip("0123456789")
    digits = rule_id[len(prefix) :]
    return prefix, int(digits) if digits else -1


def test_every_profile_is_covered() -> None:
    assert len(PROFILES) >= 9


@pytest.mark.parametrize("profile", PROFILES)
def test_profile_bundle(profile: str, golden) -> None:  # type: ignore[no-untyped-def]
    data = payload(profile)
    assert data["manifest"]["targets"] == ["linux", "macos"]
    assert data["manifest"]["profile"] == profile
    assert render(data) == golden
