"""The Landlock backend: IR policy -> rule table (no kernel, no front end)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nonoc.backends import landlock
from nonoc.backends.host import HostFacts
from nonoc.errors import NonoError
from nonoc.ir import (
    Access,
    ChainLink,
    Compat,
    DenyStrategy,
    Network,
    NetworkMode,
    PathDeny,
    PathGrant,
    PathKind,
    Policy,
    PortRule,
    Provenance,
    Scopes,
)
from nonoc.launch import rights

R, W, X = Access.READ, Access.WRITE, Access.EXECUTE


def at(line: int) -> Provenance:
    return Provenance(
        file="demo.nono",
        line=line,
        column=3,
        chain=(ChainLink(kind="profile", name="demo", file="demo.nono", line=1),),
    )


def grant(
    path: str, *access: Access, kind: PathKind = PathKind.TREE, line: int = 2, optional: bool = True
) -> PathGrant:
    return PathGrant(
        path=path, kind=kind, access=frozenset(access), optional=optional, provenance=at(line)
    )


def policy(**fields: Any) -> Policy:
    return Policy(name="demo", target="linux", **fields)


def lower(p: Policy, abi: int = 7) -> tuple[dict[str, Any], list[Any]]:
    return landlock.lower(p, HostFacts(target="linux", landlock_abi=abi))


def test_shape_and_handled_rights() -> None:
    table, diagnostics = lower(policy(grants=(grant("/usr", R, X),)))
    assert landlock.NAME == "landlock" and landlock.TARGETS == frozenset({"linux"})
    assert sorted(table) == sorted(
        [
            "abi",
            "min_abi",
            "compat",
            "deny_strategy",
            "handled_fs",
            "handled_net",
            "scopes",
            "rules",
            "denies",
            "net",
        ]
    )
    assert table["abi"] == 7 and table["min_abi"] == 1
    assert table["compat"] == "best_effort" and table["deny_strategy"] == "split"
    assert table["handled_fs"] == rights.names_at("fs", 7)
    assert table["handled_net"] == [] and table["net"] == []
    assert table["scopes"] == ["ABSTRACT_UNIX_SOCKET", "SIGNAL"]
    assert table["rules"] == [
        {
            "id": "g0",
            "path": "/usr",
            "kind": "tree",
            "access": ["EXECUTE", "READ_FILE", "READ_DIR"],
            "optional": True,
        }
    ]
    assert diagnostics == []
    json.dumps(table)  # plain JSON data


def test_write_carries_what_atomic_save_needs() -> None:
    table, _ = lower(policy(grants=(grant("$CWD", W),)))
    access = set(table["rules"][0]["access"])
    assert {
        "WRITE_FILE",
        "REFER",
        "REMOVE_FILE",
        "MAKE_REG",
        "MAKE_DIR",
        "REMOVE_DIR",
        "MAKE_SYM",
        "TRUNCATE",
    } <= access
    assert not access & {"READ_FILE", "READ_DIR", "EXECUTE", "MAKE_CHAR", "MAKE_BLOCK"}


@pytest.mark.parametrize("abi", range(1, 8))
def test_file_rules_carry_only_file_valid_rights(abi: int) -> None:
    table, _ = lower(policy(grants=(grant("$HOME/.gitconfig", R, W, X, kind=PathKind.FILE),)), abi)
    access = table["rules"][0]["access"]
    assert set(access) <= {"EXECUTE", "WRITE_FILE", "READ_FILE", "TRUNCATE", "IOCTL_DEV"}
    assert set(access) <= set(table["handled_fs"])
    assert "READ_FILE" in access and "WRITE_FILE" in access


@pytest.mark.parametrize("abi", range(1, 8))
def test_rights_never_exceed_the_target_abi(abi: int) -> None:
    table, _ = lower(policy(grants=(grant("/srv", R, W, X),)), abi)
    assert table["handled_fs"] == rights.names_at("fs", abi)
    assert set(table["rules"][0]["access"]) <= set(table["handled_fs"])
    assert ("REFER" in table["rules"][0]["access"]) == (abi >= 2)
    assert ("TRUNCATE" in table["rules"][0]["access"]) == (abi >= 3)


def test_network_blocked_handles_tcp_and_allows_listed_ports() -> None:
    network = Network(
        mode=NetworkMode.BLOCKED,
        ports=(
            PortRule(port=443, direction="connect", provenance=at(5)),
            PortRule(port=8080, direction="bind", provenance=at(6)),
        ),
        provenance=at(4),
    )
    table, diagnostics = lower(policy(network=network))
    assert table["handled_net"] == ["BIND_TCP", "CONNECT_TCP"]
    assert table["net"] == [
        {"id": "p0", "port": 443, "access": ["CONNECT_TCP"]},
        {"id": "p1", "port": 8080, "access": ["BIND_TCP"]},
    ]
    assert diagnostics == []
    proxied, _ = lower(policy(network=Network(mode=NetworkMode.PROXY)))
    assert proxied["handled_net"] == ["BIND_TCP", "CONNECT_TCP"] and proxied["net"] == []


def test_network_before_abi_4_warns() -> None:
    table, diagnostics = lower(
        policy(network=Network(mode=NetworkMode.BLOCKED, provenance=at(4))), 3
    )
    assert table["handled_net"] == []
    (warning,) = [d for d in diagnostics if d.severity == "warning"]
    assert "cannot restrict TCP" in warning.message
    assert warning.span is not None and warning.span.line == 4


def test_ports_with_open_network_warn() -> None:
    network = Network(
        mode=NetworkMode.OPEN, ports=(PortRule(port=443, direction="connect", provenance=at(5)),)
    )
    table, diagnostics = lower(policy(network=network))
    assert table["handled_net"] == [] and table["net"] == []
    assert diagnostics[0].severity == "warning" and "no effect" in diagnostics[0].message


def test_scopes_follow_the_policy_and_the_abi() -> None:
    table, _ = lower(policy(scopes=Scopes(signal=False)))
    assert table["scopes"] == ["ABSTRACT_UNIX_SOCKET"]
    old, diagnostics = lower(policy(), 5)
    assert old["scopes"] == []
    assert diagnostics[0].severity == "note" and "ABI 6" in diagnostics[0].message


def test_compat_settings_and_pins() -> None:
    table, _ = lower(
        policy(min_abi=4, compat=Compat.HARD_REQUIREMENT, deny_strategy=DenyStrategy.REFUSE), 5
    )
    assert (table["abi"], table["min_abi"], table["compat"], table["deny_strategy"]) == (
        5,
        4,
        "hard_requirement",
        "refuse",
    )
    with pytest.raises(NonoError, match="pinned to Landlock ABI 6"):
        lower(policy(min_abi=6), 5)
    with pytest.raises(NonoError, match="ABI 9"):
        lower(policy(), 9)


def test_ids_are_ir_positions() -> None:
    p = policy(
        grants=(grant("/b", R, line=3), grant("/a", R, line=2)),
        denies=(PathDeny(path="/z", provenance=at(7)), PathDeny(path="/y", provenance=at(8))),
    )
    table, _ = lower(p)
    assert [(r["id"], r["path"]) for r in table["rules"]] == [("g0", "/b"), ("g1", "/a")]
    assert table["denies"] == [
        {"id": "d0", "path": "/z", "kind": "tree"},
        {"id": "d1", "path": "/y", "kind": "tree"},
    ]


def test_deny_inside_allow_split_is_noted_refuse_is_an_error() -> None:
    grants = (grant("$HOME", R, W, line=3),)
    denies = (PathDeny(path="$HOME/.ssh", provenance=at(9)),)
    table, diagnostics = lower(policy(grants=grants, denies=denies))
    assert table["denies"] == [{"id": "d0", "path": "$HOME/.ssh", "kind": "tree"}]
    (note,) = diagnostics
    assert note.severity == "note" and note.code == "deny-inside-allow"
    assert note.span is not None and note.span.line == 9
    with pytest.raises(NonoError) as caught:
        lower(policy(grants=grants, denies=denies, deny_strategy=DenyStrategy.REFUSE))
    rendered = caught.value.render()
    assert rendered.startswith(
        "demo.nono:9:3: error: d0: deny of $HOME/.ssh lies inside granted tree $HOME (g0)"
    )
    assert "g0: granted at demo.nono:3:3" in rendered


def test_grant_inside_a_deny_warns() -> None:
    p = policy(
        grants=(grant("$HOME/.ssh/config", R, kind=PathKind.FILE, line=3),),
        denies=(PathDeny(path="$HOME/.ssh", provenance=at(9)),),
    )
    _, diagnostics = lower(p)
    (warning,) = diagnostics
    assert warning.severity == "warning" and "the deny wins" in warning.message
    assert "d0: denied at demo.nono:9:3" in warning.notes


def test_host_dependent_conflicts_are_left_to_the_launcher() -> None:
    p = policy(
        grants=(grant("/home", R),),
        denies=(PathDeny(path="$HOME/.ssh", provenance=at(9)),),
        deny_strategy=DenyStrategy.REFUSE,
    )
    _, diagnostics = lower(p)
    assert diagnostics == []


def test_lowering_is_deterministic() -> None:
    p = policy(
        grants=(grant("/usr", R, X), grant("$CWD", R, W)),
        denies=(PathDeny(path="$CWD/.env", kind=PathKind.FILE, provenance=at(4)),),
    )
    first = json.dumps(lower(p)[0], sort_keys=True)
    assert all(json.dumps(lower(p)[0], sort_keys=True) == first for _ in range(3))
