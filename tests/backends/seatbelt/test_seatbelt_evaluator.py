"""What the generated rule set decides, by a last-match-wins evaluator of the SBPL text.

These tests read the profile the way Seatbelt does (among matching rules, the last one
written wins) and assert the decisions the policy promises: a deny inside an allowed tree
holds whatever order the source wrote them in, its sibling stays allowed, the network
mode holds. They do not prove Seatbelt agrees on a Mac: docs/macos.md says what does.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from seatbelt_evaluate import Evaluator, Request
from seatbelt_policies import (
    AGENT,
    HAND_POLICIES,
    R,
    W,
    X,
    at,
    compile_policy,
    deny,
    fake_parameters,
    grant,
    policy,
)

from nonoc.ir import Network, NetworkMode, PathKind, PortRule, UnixSocketGrant
from nonoc.launch import macos


def evaluator(p, realpath=None) -> Evaluator:  # type: ignore[no-untyped-def]
    artifact, _ = compile_policy(p)
    params = fake_parameters(artifact) if realpath is None else fake_parameters(artifact, realpath)
    return Evaluator(artifact["sbpl"], params)


def read(path: str) -> Request:
    return Request("file-read-data", path=path)


def write(path: str) -> Request:
    return Request("file-write-data", path=path)


# ---------------------------------------------------------------------------- deny inside allow


def test_deny_inside_an_allowed_tree_wins_and_its_sibling_stays_allowed() -> None:
    ev = evaluator(AGENT)
    assert ev.decide(read("/Users/alice/.ssh/id_ed25519")) == "deny"
    assert ev.decide(read("/Users/alice/.ssh")) == "deny"
    assert ev.decide(Request("file-read-metadata", path="/Users/alice/.ssh/id_ed25519")) == "deny"
    assert ev.decide(read("/Users/alice/.sshfoo/x")) == "allow", "comparison is by component"
    assert ev.decide(read("/Users/alice/notes.txt")) == "allow"
    assert ev.decide(write("/Users/alice/project/.env")) == "deny"
    assert ev.decide(read("/Users/alice/project/.env")) == "deny"
    assert ev.decide(write("/Users/alice/project/.envrc")) == "allow"
    assert ev.decide(read("/Users/alice/.netrc")) == "deny"


@pytest.mark.parametrize("deny_first", [True, False])
def test_deny_wins_whatever_order_the_source_wrote(deny_first: bool) -> None:
    rules = {
        "grants": (grant("$HOME", R, W, line=1 if not deny_first else 2),),
        "denies": (deny("$HOME/.aws", line=2 if not deny_first else 1),),
    }
    ev = evaluator(policy(**rules))
    assert ev.decide(read("/Users/alice/.aws/credentials")) == "deny"
    assert ev.decide(write("/Users/alice/.aws/new")) == "deny"
    assert ev.decide(read("/Users/alice/.awsome")) == "allow"


def test_the_deny_is_the_last_rule_to_match() -> None:
    ev = evaluator(AGENT)
    decision, line = ev.deciding_rule(read("/Users/alice/.ssh/id_ed25519"))
    text = compile_policy(AGENT)[0]["sbpl"].splitlines()
    assert decision == "deny" and text[line - 1].startswith(
        "(deny file* process-exec* network-outbound"
    )
    assert all(not t.startswith("(allow") for t in text[line:]), "no allow after the first deny"


def test_exec_is_denied_inside_a_denied_tree_even_where_exec_is_granted() -> None:
    ev = evaluator(
        policy(grants=(grant("/opt/tools", R, X),), denies=(deny("/opt/tools/private"),))
    )
    assert ev.decide(Request("process-exec", path="/opt/tools/bin/x")) == "allow"
    assert ev.decide(Request("process-exec", path="/opt/tools/private/x")) == "deny"


def test_file_deny_covers_only_that_file() -> None:
    ev = evaluator(
        policy(grants=(grant("$CWD", R, W),), denies=(deny("$CWD/.env", kind=PathKind.FILE),))
    )
    assert ev.decide(read("/Users/alice/project/.env")) == "deny"
    assert ev.decide(read("/Users/alice/project/.env/x")) == "allow"


def test_nothing_is_allowed_outside_the_grants() -> None:
    ev = evaluator(AGENT)
    assert ev.decide(read("/Library/Keychains/System.keychain")) == "deny"
    assert ev.decide(write("/usr/local/bin/x")) == "deny"
    assert ev.decide(write("/Users/alice/notes.txt")) == "deny", "$HOME is read-only in this policy"


def test_metadata_is_readable_everywhere_but_in_denied_paths() -> None:
    ev = evaluator(AGENT)
    assert ev.decide(Request("file-read-metadata", path="/Library/Keychains")) == "allow"
    assert ev.decide(Request("file-read-metadata", path="/Users/alice/.aws/config")) == "deny"


# ---------------------------------------------------------------------------- symlinks and /private


def test_static_paths_are_matched_through_private() -> None:
    ev = evaluator(
        policy(grants=(grant("/tmp", R, W), grant("/etc/ssl", R)), denies=(deny("/tmp/secret"),))
    )
    assert ev.decide(write("/private/tmp/x")) == "allow"
    assert ev.decide(read("/private/etc/ssl/cert.pem")) == "allow"
    assert ev.decide(read("/private/tmp/secret/x")) == "deny"


def test_tmpdir_is_matched_at_its_resolved_path() -> None:
    ev = evaluator(AGENT)
    assert ev.decide(write("/private/var/folders/zz/abc123/T/build/x.o")) == "allow"


def test_a_deny_follows_a_symlink_resolved_at_launch(tmp_path: Path) -> None:
    # A real tree: ~/.ssh is a link to a directory elsewhere; the deny must hold at the target.
    home = tmp_path / "home"
    keys = tmp_path / "vault" / "ssh"
    keys.mkdir(parents=True)
    home.mkdir()
    (home / ".ssh").symlink_to(keys)
    p = policy(
        grants=(grant("$HOME", R, W), grant(str(tmp_path / "vault"), R)),
        denies=(deny("$HOME/.ssh"),),
    )
    artifact, _ = compile_policy(p)
    params = macos.parameters(artifact, {"HOME": str(home)}, cwd=str(tmp_path))
    ev = Evaluator(artifact["sbpl"], params)
    assert ev.decide(read(str(keys / "id_rsa"))) == "deny"
    assert ev.decide(read(str(home / ".ssh" / "id_rsa"))) == "deny"
    assert ev.decide(read(str(tmp_path / "vault" / "other"))) == "allow"
    assert ev.decide(read("/System/Volumes/Data" + str(keys / "id_rsa"))) == "deny"


def test_renaming_a_directory_above_a_denied_path_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "gh").mkdir(parents=True)
    p = policy(grants=(grant("$HOME", R, W),), denies=(deny("$HOME/.config/gh"),))
    artifact, _ = compile_policy(p)
    ev = Evaluator(artifact["sbpl"], macos.parameters(artifact, {"HOME": str(home)}))
    unlink = "file-write-unlink"
    assert ev.decide(Request(unlink, path=str(home / ".config"))) == "deny"
    assert ev.decide(Request(unlink, path=str(home))) == "deny"
    assert ev.decide(Request(unlink, path=str(home / ".config" / "other"))) == "allow"
    assert ev.decide(Request(unlink, path=str(home / "notes.txt"))) == "allow"


# ---------------------------------------------------------------------------- network


def tcp(host: str, port: int) -> Request:
    return Request("network-outbound", remote=("tcp", host, port))


def test_proxy_mode_reaches_only_the_local_proxy() -> None:
    ev = evaluator(AGENT)
    assert ev.decide(tcp("localhost", 3128)) == "allow"
    assert ev.decide(tcp("localhost", 3129)) == "deny"
    assert ev.decide(tcp("example.com", 443)) == "deny"
    assert ev.decide(Request("network-outbound", remote=("udp", "*", 53))) == "deny"


def test_proxy_mode_also_reaches_listed_ports_and_sockets() -> None:
    ev = evaluator(HAND_POLICIES["proxy_with_ports"])
    assert ev.decide(tcp("localhost", 3128)) == "allow"
    assert ev.decide(tcp("example.com", 443)) == "allow"
    assert ev.decide(tcp("example.com", 80)) == "deny"
    assert ev.decide(Request("network-bind", local=("tcp", "*", 8080))) == "allow"
    assert ev.decide(Request("network-bind", local=("tcp", "*", 8081))) == "deny"
    assert ev.decide(Request("network-outbound", path="/private/var/run/docker.sock")) == "allow"
    assert ev.decide(Request("network-outbound", path="/private/var/run/other.sock")) == "deny"


@pytest.mark.parametrize("mode", [NetworkMode.OPEN, NetworkMode.BLOCKED])
def test_ports_change_nothing_outside_proxy_mode(mode: NetworkMode) -> None:
    ports = (PortRule(port=22, direction="connect", provenance=at(30)),)
    ev = evaluator(policy(network=Network(mode=mode, ports=ports)))
    expected = "allow" if mode is NetworkMode.OPEN else "deny"
    assert ev.decide(tcp("example.com", 22)) == expected
    assert ev.decide(tcp("example.com", 443)) == expected


def test_blocked_mode_still_reaches_granted_unix_sockets() -> None:
    socket = UnixSocketGrant(path="/var/run/docker.sock", provenance=at(3))
    ev = evaluator(policy(network=Network(mode=NetworkMode.BLOCKED), unix_sockets=(socket,)))
    assert ev.decide(Request("network-outbound", path="/private/var/run/docker.sock")) == "allow"
    assert ev.decide(tcp("localhost", 3128)) == "deny"


def test_open_mode_allows_everything() -> None:
    ev = evaluator(policy(network=Network(mode=NetworkMode.OPEN)))
    assert ev.decide(tcp("example.com", 443)) == "allow"


def test_a_unix_socket_inside_a_denied_tree_stays_denied() -> None:
    socket = UnixSocketGrant(path="$HOME/.gnupg/S.gpg-agent", provenance=at(3))
    ev = evaluator(
        policy(
            network=Network(mode=NetworkMode.BLOCKED),
            unix_sockets=(socket,),
            denies=(deny("$HOME/.gnupg"),),
        )
    )
    assert ev.decide(Request("network-outbound", path="/Users/alice/.gnupg/S.gpg-agent")) == "deny"


# ---------------------------------------------------------------------------- signals, metadata


def test_signal_scope() -> None:
    scoped = evaluator(AGENT)
    assert scoped.decide(Request("signal", target="same-sandbox")) == "allow"
    assert scoped.decide(Request("signal", target="others")) == "deny"
    free = evaluator(HAND_POLICIES["open_hardened"])
    assert free.decide(Request("signal", target="others")) == "allow"


def test_protect_metadata_keeps_contents_writable() -> None:
    ev = evaluator(HAND_POLICIES["open_hardened"])
    assert ev.decide(write("/Users/alice/project/a.txt")) == "allow"
    assert ev.decide(Request("file-write-mode", path="/Users/alice/project/a.txt")) == "deny"
    assert ev.decide(Request("file-write-times", path="/Users/alice/project/a.txt")) == "deny"


def test_write_grant_implies_no_read() -> None:
    ev = evaluator(HAND_POLICIES["open_hardened"])
    assert ev.decide(write("/private/tmp/out")) == "allow"
    assert ev.decide(read("/private/tmp/out")) == "deny"


def test_system_startup_reads_are_allowed() -> None:
    ev = evaluator(HAND_POLICIES["minimal"])
    for path in (
        "/usr/lib/libSystem.B.dylib",
        "/System/Library/Frameworks/Foundation.framework/Foundation",
        "/System/Volumes/Preboot/Cryptexes/OS/System/Library/dyld/dyld_shared_cache_arm64e",
        "/private/var/db/timezone/zoneinfo/UTC",
        "/dev/urandom",
    ):
        assert ev.decide(read(path)) == "allow", path
    assert ev.decide(Request("file-map-executable", path="/usr/lib/libc++.1.dylib")) == "allow"
    assert ev.decide(write("/dev/null")) == "allow"
    assert ev.decide(write("/usr/lib/libSystem.B.dylib")) == "deny"
    assert ev.decide(Request("sysctl-read", name="hw.ncpu")) == "allow"
    assert ev.decide(Request("sysctl-read", name="kern.procargs2")) == "deny"


def test_evaluator_runs_on_this_host_paths(tmp_path: Path) -> None:
    # The launcher's own parameters for a real directory of this machine feed the evaluator.
    (tmp_path / "keep").mkdir()
    p = policy(grants=(grant("$CWD", R),), denies=(deny("$CWD/keep"),))
    artifact, _ = compile_policy(p)
    ev = Evaluator(
        artifact["sbpl"], macos.parameters(artifact, {"HOME": "/root"}, cwd=str(tmp_path))
    )
    assert ev.decide(read(os.path.join(tmp_path, "keep", "x"))) == "deny"
    assert ev.decide(read(os.path.join(tmp_path, "other"))) == "allow"
