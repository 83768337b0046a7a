"""Each statement becomes the right IR entries."""

from __future__ import annotations

import errno

from nonoc import ir
from tests.resolve.conftest import own_grants, policy


def test_verbs_map_to_access() -> None:
    p = policy(
        """profile p {
          read "/r"
          write "/w"
          readwrite "/rw"
          allow "/a"
          exec file "/x/tool"
        }"""
    )
    assert own_grants(p) == {
        ("/r", "tree", "read"),
        ("/w", "tree", "write"),
        ("/rw", "tree", "read"),
        ("/rw", "tree", "write"),
        ("/a", "tree", "read"),
        ("/a", "tree", "write"),
        ("/x/tool", "file", "execute"),
    }
    # One access per grant: each keeps the provenance of the statement that granted it.
    assert all(len(g.access) == 1 for g in p.grants)


def test_paths_are_normalised() -> None:
    p = policy('profile p { read "~/a/", "${HOME}//b/./c", "rel/dir", "$XDG_CONFIG_HOME/x" }')
    assert {g[0] for g in own_grants(p)} == {
        "$HOME/a",
        "$HOME/b/c",
        "$CWD/rel/dir",
        "$XDG_CONFIG_HOME/x",
    }


def test_require_makes_a_grant_mandatory() -> None:
    p = policy('profile p { require read "/must" read "/may" read "/must" }')
    optional = {g.path: g.optional for g in p.grants if g.path in ("/must", "/may")}
    assert optional == {"/must": False, "/may": True}


def test_platform_blocks_follow_the_target() -> None:
    text = 'profile p { on linux { read "/proc/self" } on macos { read "/System/Library" } read "/both" }'
    assert {g[0] for g in own_grants(policy(text, "linux"))} == {"/proc/self", "/both"}
    assert {g[0] for g in own_grants(policy(text, "macos"))} == {"/System/Library", "/both"}


def test_scalar_settings() -> None:
    p = policy(
        """profile p {
          abi 3
          compat hard_requirement
          deny_inside_allow refuse
          rollback on
          scope signal off
          network proxy { allow "API.example.com", "*.cdn.example" }
          port connect 443, 80
          port bind 8080
          protect metadata
        }"""
    )
    assert p.min_abi == 3
    assert p.compat is ir.Compat.HARD_REQUIREMENT
    assert p.deny_strategy is ir.DenyStrategy.REFUSE
    assert p.rollback is True
    assert p.scopes == ir.Scopes(abstract_unix_socket=True, signal=False)
    assert p.network.mode is ir.NetworkMode.PROXY
    assert [h.pattern for h in p.network.proxy_hosts] == ["*.cdn.example", "api.example.com"]
    assert [(r.port, r.direction) for r in p.network.ports] == [
        (80, "connect"),
        (443, "connect"),
        (8080, "bind"),
    ]
    assert p.protect_metadata is True


def test_defaults() -> None:
    p = policy("profile p { }")
    assert p.min_abi is None and p.rollback is None
    assert p.compat is ir.Compat.BEST_EFFORT and p.deny_strategy is ir.DenyStrategy.SPLIT
    assert p.network.mode is ir.NetworkMode.OPEN
    assert p.scopes == ir.Scopes()


def test_file_level_abi_pin_applies_to_its_profiles() -> None:
    assert policy("abi 2\nprofile p { }").min_abi == 2
    assert policy("abi 2\nprofile p { abi 5 }").min_abi == 5


def test_network_words() -> None:
    assert policy("profile p { network off }").network.mode is ir.NetworkMode.BLOCKED
    assert policy("profile p { network blocked }").network.mode is ir.NetworkMode.BLOCKED
    assert policy("profile p { network on }").network.mode is ir.NetworkMode.OPEN


def test_env_and_commands() -> None:
    p = policy(
        """profile p {
          env keep "B", "A"
          env set "NO_COLOR" "1"
          command block "rm", "dd"
          command allow "rm"
        }"""
    )
    assert p.env == ir.EnvPolicy(keep=("A", "B"), set=(("NO_COLOR", "1"),))
    assert p.blocked_commands == ("dd",)
    assert p.allowed_commands == ("rm",)


def test_syscall_rules() -> None:
    p = policy(
        """profile p {
          syscall socket deny errno EAFNOSUPPORT if arg0 != AF_UNIX
          syscall ioctl deny if arg1 == TIOCSTI
          syscall clone deny if arg0 & CLONE_NEWUSER == CLONE_NEWUSER
          syscall ptrace, bpf kill
          syscall getpid allow
          syscall mount log
          syscall open notify if arg1 >= 0x40
        }"""
    )
    rules = {r.names[0]: r for r in p.syscalls if r.provenance.file == "p.nono"}
    assert rules["socket"].action == ir.SyscallAction(
        kind=ir.SyscallActionKind.ERRNO, errno=errno.EAFNOSUPPORT
    )
    assert rules["socket"].conditions == (ir.ArgCondition(index=0, op=ir.ArgOp.NE, value=1),)
    assert rules["ioctl"].action.errno == errno.EPERM
    assert rules["ioctl"].conditions == (ir.ArgCondition(index=1, op=ir.ArgOp.EQ, value=0x5412),)
    assert rules["clone"].conditions == (
        ir.ArgCondition(index=0, op=ir.ArgOp.MASKED_EQ, value=0x10000000, mask=0x10000000),
    )
    assert rules["ptrace"].action.kind is ir.SyscallActionKind.KILL_PROCESS
    assert rules["bpf"].provenance == rules["ptrace"].provenance
    assert rules["getpid"].action.kind is ir.SyscallActionKind.ALLOW
    assert rules["mount"].action.kind is ir.SyscallActionKind.LOG
    assert rules["open"].conditions[0] == ir.ArgCondition(index=1, op=ir.ArgOp.GE, value=64)


def test_unix_sockets_and_assertions() -> None:
    p = policy('profile p { unix_socket "$XDG_RUNTIME_DIR/bus" assert never write "~/.ssh" }')
    assert [u.path for u in p.unix_sockets] == ["$XDG_RUNTIME_DIR/bus"]
    assert [(a.access, a.path) for a in p.assertions] == [(ir.Access.WRITE, "$HOME/.ssh")]


def test_mandatory_groups_apply_to_every_profile() -> None:
    p = policy("profile p { }")
    assert p.mandatory_groups == ("hardening",)
    assert [(d.path, d.kind) for d in p.denies] == [("/etc/shadow", ir.PathKind.FILE)]
    assert [r.names for r in p.syscalls] == [("kexec_load",)]


def test_a_mandatory_group_in_the_users_file_applies_too() -> None:
    p = policy('mandatory group mine { deny "/srv/secret" }\nprofile p { read "/srv/pub" }')
    assert p.mandatory_groups == ("hardening", "mine")
    assert "/srv/secret" in {d.path for d in p.denies}


def test_groups_and_nesting() -> None:
    p = policy("profile p { use nested }")
    assert {g.path for g in p.grants} == {"/opt/nested", "/usr", "/usr/bin"}


def test_names_resolved_from_platform_blocks_of_other_targets_are_still_checked() -> None:
    from tests.resolve.conftest import error

    e = error("profile p { on macos { use nosuch } }", "linux")
    assert "unknown group 'nosuch'" in e.diagnostic.message


def test_command_line_flags_layer_over_the_profile() -> None:
    from nonoc.resolve import resolve
    from tests.resolve.conftest import write

    write("p.nono", 'profile p { network block read "/a" }')
    p = resolve(
        "p.nono", "linux", flags=[("--allow .", 'allow "."'), ("--net-allow", "network open")]
    ).policy
    assert p.network.mode is ir.NetworkMode.OPEN
    cwd = [g for g in p.grants if g.path == "$CWD"]
    assert {a for g in cwd for a in g.access} == {ir.Access.READ, ir.Access.WRITE}
    assert cwd[0].provenance.file == "<command line>"
    assert cwd[0].provenance.chain[-1] == ir.ChainLink(
        kind="flag", name="--allow .", file="<command line>"
    )
