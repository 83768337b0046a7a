"""The shape of the Seatbelt artifact and the diagnostics of `lower`."""

from __future__ import annotations

import json

import pytest
from seatbelt_policies import (
    AGENT,
    HAND_POLICIES,
    R,
    W,
    X,
    at,
    compile_policy,
    deny,
    grant,
    policy,
    sbpl,
)
from seatbelt_sbpl import parse

from nonoc.backends import seatbelt
from nonoc.backends.host import HostFacts
from nonoc.errors import NonoError
from nonoc.ir import (
    Network,
    NetworkMode,
    PathKind,
    Policy,
    SyscallAction,
    SyscallActionKind,
    SyscallRule,
)


def test_backend_shape() -> None:
    assert seatbelt.NAME == "seatbelt"
    assert frozenset({"macos"}) == seatbelt.TARGETS


def test_profile_starts_with_version_then_deny_default() -> None:
    forms = parse(sbpl(AGENT))
    assert [f.head for f in forms[:2]] == ["version", "deny"]
    assert forms[1].items[1].name == "default"  # type: ignore[union-attr]


@pytest.mark.parametrize("name", sorted(HAND_POLICIES))
def test_every_allow_comes_before_every_policy_deny(name: str) -> None:
    forms = parse(sbpl(HAND_POLICIES[name]))
    first_policy_deny = next(
        (
            i
            for i, f in enumerate(forms)
            if f.head == "deny" and "file*" in [getattr(x, "name", "") for x in f.items]
        ),
        None,
    )
    if first_policy_deny is None:
        return
    assert all(f.head != "allow" for f in forms[first_policy_deny:])


@pytest.mark.parametrize("name", sorted(HAND_POLICIES))
def test_artifact_is_canonical_json_data(name: str) -> None:
    artifact, _ = compile_policy(HAND_POLICIES[name])
    encoded = json.dumps(artifact, sort_keys=True, allow_nan=False)
    assert json.loads(encoded) == artifact
    assert artifact["format"] == "nono-seatbelt/1"
    names = [spec["name"] for spec in artifact["parameters"]]
    assert names == sorted(names) and len(set(names)) == len(names)


def test_same_policy_same_bytes() -> None:
    first = json.dumps(compile_policy(AGENT)[0], sort_keys=True)
    again = json.dumps(compile_policy(AGENT.model_copy())[0], sort_keys=True)
    assert first == again


def test_arch_does_not_change_the_profile() -> None:
    arm = seatbelt.lower(AGENT, HostFacts.for_target("macos", arch="aarch64"))[0]
    intel = seatbelt.lower(AGENT, HostFacts.for_target("macos", arch="x86_64"))[0]
    assert arm == intel


def test_written_and_resolved_paths_are_both_emitted() -> None:
    text = sbpl(
        policy(
            grants=(
                grant("/tmp", R, W),
                grant("/var/log", R),
                grant("/etc/hosts", R, kind=PathKind.FILE),
                grant("/usr", R),
            )
        )
    )
    assert '(subpath "/tmp")\n    (subpath "/private/tmp")' in text
    assert '(subpath "/var/log")\n    (subpath "/private/var/log")' in text
    assert '(literal "/etc/hosts")\n    (literal "/private/etc/hosts")' in text
    assert '(subpath "/private/usr")' not in text
    assert '(subpath (param "g3.real"))' in text, (
        "every path is also resolved on the host at launch"
    )


def test_variables_become_parameters() -> None:
    artifact, _ = compile_policy(AGENT)
    assert '(subpath (string-append (param "HOME") "/.ssh"))' in artifact["sbpl"]
    assert '(subpath (param "CWD"))' in artifact["sbpl"]
    assert artifact["variables"] == ["CWD", "HOME", "TMPDIR"]
    kinds = {spec["name"]: spec["kind"] for spec in artifact["parameters"]}
    assert kinds["HOME"] == "variable" and kinds["d0.real"] == "realpath"
    assert kinds["DENY_ANCESTORS"] == "ancestors_regex" and kinds["PROXY_PORT"] == "proxy_port"


def test_required_grants_are_marked() -> None:
    artifact, _ = compile_policy(policy(grants=(grant("$CWD", R, optional=False),)))
    spec = next(s for s in artifact["parameters"] if s["name"] == "g0.real")
    assert spec == {"name": "g0.real", "kind": "realpath", "path": "$CWD", "optional": False}


def test_access_maps_to_operations() -> None:
    text = sbpl(
        policy(grants=(grant("/a", R), grant("/b", W), grant("/c", X), grant("/d", R, W, X)))
    )
    assert '(allow file-read*\n    (subpath "/a")' in text
    assert '(allow file-write*\n    (subpath "/b")' in text
    assert '(allow process-exec* file-map-executable\n    (subpath "/c")' in text
    assert (
        '(allow file-read* file-write* process-exec* file-map-executable\n    (subpath "/d")'
        in text
    )


def test_each_rule_names_its_id_and_source_line() -> None:
    text = sbpl(AGENT)
    assert ";; g6 read file $HOME/.gitconfig  hand.nono:9 (hand)" in text
    assert ";; d0 deny tree $HOME/.ssh  hand.nono:12 (hand)" in text


@pytest.mark.parametrize(
    ("mode", "present", "absent"),
    [
        (NetworkMode.OPEN, "(allow network*)", "(deny network*)"),
        (NetworkMode.BLOCKED, "(deny network*)", "(allow network*)"),
        (
            NetworkMode.PROXY,
            '(remote tcp (string-append "localhost:" (param "PROXY_PORT")))',
            "(allow network*)",
        ),
    ],
)
def test_network_modes(mode: NetworkMode, present: str, absent: str) -> None:
    text = sbpl(policy(network=Network(mode=mode)))
    assert present in text and absent not in text


def test_proxy_port_is_a_parameter_only_in_proxy_mode() -> None:
    for mode in NetworkMode:
        artifact, _ = compile_policy(policy(network=Network(mode=mode)))
        has_port = any(spec["name"] == "PROXY_PORT" for spec in artifact["parameters"])
        assert has_port == (mode is NetworkMode.PROXY)
        assert artifact["network"] == mode.value


def test_no_denies_no_unlink_protection() -> None:
    artifact, _ = compile_policy(policy(grants=(grant("/usr", R),)))
    assert '(param "DENY_ANCESTORS")' not in artifact["sbpl"]
    assert all(spec["name"] != "DENY_ANCESTORS" for spec in artifact["parameters"])


def test_syscall_rules_are_warned_with_their_line() -> None:
    _, diagnostics = compile_policy(HAND_POLICIES["linux_only"])
    syscall = next(d for d in diagnostics if "system call" in d.message)
    assert syscall.severity == "warning"
    assert syscall.headline().startswith("hand.nono:60:3: warning: system call rule s0 (ptrace")
    assert "not enforce" in syscall.message


def test_abi_pin_is_warned_at_the_profile() -> None:
    _, diagnostics = compile_policy(HAND_POLICIES["linux_only"])
    abi = next(d for d in diagnostics if "Landlock ABI 4" in d.message)
    assert abi.severity == "warning"
    assert abi.span is not None and abi.span.file == "hand.nono"


def test_plain_policies_have_no_diagnostics() -> None:
    assert compile_policy(AGENT)[1] == []


def test_every_syscall_rule_is_reported() -> None:
    rules = tuple(
        SyscallRule(
            names=(n,),
            action=SyscallAction(kind=SyscallActionKind.ERRNO, errno=1),
            provenance=at(70 + i),
        )
        for i, n in enumerate(("bpf", "kexec_load", "ptrace"))
    )
    _, diagnostics = compile_policy(policy(syscalls=rules))
    assert [d.span.line for d in diagnostics] == [70, 71, 72]  # type: ignore[union-attr]


def test_a_linux_policy_is_refused() -> None:
    linux = Policy(name="x", target="linux")
    with pytest.raises(NonoError, match="resolved for linux"):
        seatbelt.lower(linux, HostFacts.for_target("macos"))


def test_private_alias() -> None:
    assert seatbelt.private_alias("/tmp") == "/private/tmp"
    assert seatbelt.private_alias("/etc/ssl/cert.pem") == "/private/etc/ssl/cert.pem"
    assert seatbelt.private_alias("/tmpfoo") is None
    assert seatbelt.private_alias("/private/tmp") is None


def test_unlink_protection_lists_every_denied_path() -> None:
    artifact, _ = compile_policy(AGENT)
    spec = next(s for s in artifact["parameters"] if s["name"] == "DENY_ANCESTORS")
    assert spec["paths"] == sorted(d.path for d in AGENT.denies)


def test_denies_cover_the_data_volume_spelling() -> None:
    assert '(subpath (string-append "/System/Volumes/Data" (param "d0.real")))' in sbpl(AGENT)


def test_deny_only_policy_renders(tmp_path: object) -> None:
    artifact, _ = compile_policy(policy(denies=(deny("/x"),)))
    assert ";; (none)" in artifact["sbpl"]


def test_ports_outside_proxy_mode_are_warned_with_their_line() -> None:
    artifact, diagnostics = compile_policy(HAND_POLICIES["open_with_ignored_port"])
    assert [d.headline() for d in diagnostics] == [
        "hand.nono:30:3: warning: port rules have no effect while the network is open "
        "(everything is allowed already)"
    ]
    assert "*:22" not in artifact["sbpl"]


@pytest.mark.parametrize(
    ("path", "column"),
    [("~/.config/*.json", 19), ("/opt/tool-?/bin", 19), ("$CWD/secrets.[ab]", 22)],
)
def test_wildcards_never_reach_the_backend(path: str, column: int) -> None:
    # Landlock would take '*' literally and Seatbelt as a pattern, so the front end refuses
    # wildcards: the backend has no pattern lowering at all.
    from nonoc.resolve import load_policy_text

    text = f'profile p {{\n  read "/usr"\n  deny "{path}"\n}}\n'
    with pytest.raises(NonoError) as caught:
        load_policy_text(text, "wild.nono", "macos")
    diagnostic = caught.value.diagnostic
    assert "wildcards are not part of the language" in diagnostic.message
    assert diagnostic.span is not None
    assert (diagnostic.span.line, diagnostic.span.column) == (3, column)
