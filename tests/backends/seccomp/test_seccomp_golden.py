"""Golden seccomp listings: every shipped profile and a few hand-built policies, both arches.

Each snapshot is one text file, ``tests/golden/test_seccomp_golden/<test>[<case>].txt``: the
rule index (id, calls, action, conditions, source line) followed by the disassembly the
kernel will run. A change to the code generator, the tables or the stdlib groups shows as a
diff of these files, which is what a reviewer reads. Update with ``pytest --snapshot-update``.
Every golden is also checked by the interpreter's static check.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from golden_files import GOLDEN_DIR, REPO, GoldenText, shipped_id, shipped_profiles
from seccomp_helpers import cond, policy, rule

from nonoc.backends.host import HostFacts
from nonoc.backends.seccomp import bpf, disasm, lower
from nonoc.backends.seccomp.interp import check
from nonoc.ir import Policy

ARCHES = ("x86_64", "aarch64")


@pytest.fixture
def golden(snapshot):  # type: ignore[no-untyped-def]
    return snapshot.use_extension(GoldenText)


def listing(pol: Policy, arch: str) -> str:
    """The reviewed text: rule index, then the program's disassembly."""
    artifact, _ = lower(pol, HostFacts(target="linux", arch=arch))
    program = bpf.decode(base64.b64decode(str(artifact["program"])))
    check(program)
    header = (
        f"; profile {pol.name}, {arch}, network {artifact['network']}, default "
        f"{artifact['default']}, {artifact['ranges']} ranges"
    )
    lines = [header, "; rules:"]
    rules: Any = artifact["rules"]
    for entry in rules:
        conditions = f" if {' and '.join(entry['conditions'])}" if entry["conditions"] else ""
        calls = ", ".join(entry["syscalls"]) or "(none on this arch)"
        source = f"  <- {entry['source']}" if "source" in entry else ""
        lines.append(f";   {entry['id']} {calls} {entry['action']}{conditions}{source}")
    return "\n".join(lines) + "\n" + disasm.disassemble(program, arch)


HAND_POLICIES: dict[str, Policy] = {
    "empty": policy(name="empty"),
    "network_block": policy(network="blocked", name="network_block"),
    "network_proxy": policy(network="proxy", name="network_proxy"),
    "every_action": policy(
        rule("bpf", line=1),
        rule("ptrace", "kill_process", line=2),
        rule("acct", "notify", line=3),
        rule("syslog", "log", line=4),
        rule("uname", "trap", line=5),
        rule("ioctl", conditions=[cond(1, "eq", 0x5412)], line=6),
        rule("mmap", "kill_process", conditions=[cond(0, "ge", 1 << 40)], line=7),
        rule("fchmod", "log", conditions=[cond(1, "masked_eq", 0o4000, 0o4000)], line=8),
        name="every_action",
    ),
}


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", sorted(HAND_POLICIES))
def test_hand_built(name: str, arch: str, golden) -> None:  # type: ignore[no-untyped-def]
    assert listing(HAND_POLICIES[name], arch) == golden


def _front_end() -> bool:
    try:
        import nonoc.resolve  # noqa: F401 - importing it is the test
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _front_end(), reason="the front end (nonoc.resolve) is not there")
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("network", ["open", "block", "proxy"])
def test_stdlib_hardening(network: str, arch: str, golden, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The mandatory ``syscall_hardening`` group alone, under each network mode."""
    from nonoc.resolve import load_policy_text

    monkeypatch.chdir(REPO)
    text = f'profile hardening "stdlib only" {{ network {network} }}'
    pol = load_policy_text(text, "hardening.nono", "linux", profile="hardening")
    assert listing(pol, arch) == golden


SHIPPED_PROFILES = shipped_profiles()


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize(
    ("source", "profile"),
    SHIPPED_PROFILES
    or [pytest.param("", "", marks=pytest.mark.skip(reason="no front end or no shipped profiles"))],
    ids=[shipped_id(source, profile) for source, profile in SHIPPED_PROFILES] or ["none"],
)
def test_shipped(  # type: ignore[no-untyped-def]
    source: str,
    profile: str,
    arch: str,
    golden,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    from nonoc.resolve import load_policy

    # Relative names keep the provenance (so the golden) free of this checkout's path.
    monkeypatch.chdir(REPO)
    pol = load_policy(source, "linux", profile=profile)
    expected = GOLDEN_DIR / "test_seccomp_golden" / f"{request.node.name}.txt"
    if not expected.exists() and not request.config.option.update_snapshots:
        pytest.fail(
            f"no golden listing for {source} ({arch}) yet: run `pytest "
            f"{Path(__file__).relative_to(REPO)} --snapshot-update`, read "
            f"{expected.relative_to(REPO)} and commit it"
        )
    assert listing(pol, arch) == golden
