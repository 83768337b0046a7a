"""The parser: every form of the language becomes the right AST node, with its position."""

from __future__ import annotations

import time

from nonoc.syntax import ast
from nonoc.syntax.parser import grammar_parser, parse, parse_statements

SKETCH = """\
# comments run to the end of the line
import "other.nono"
import stdlib "credentials"
abi 4

group deny_credentials "Credentials an agent must never read" {
  deny "~/.ssh"
  deny file "~/.netrc"
}

mandatory group system_hardening "Applied to every profile" { syscall bpf deny }

profile claude-code extends default, node-dev "Claude Code" {
  use deny_credentials, node_runtime
  read "/usr", "/etc/ssl"
  read file "~/.gitconfig"
  write "$TMPDIR"
  allow "$CWD"
  readwrite "~/.claude"
  allow file "~/.claude.json"
  exec "/usr/bin", "/bin"
  require read "$CWD"
  deny "~/.ssh"
  network block
  network proxy { allow "api.anthropic.com", "*.githubusercontent.com" }
  port connect 443
  port bind 8080
  scope signal off
  compat hard_requirement
  deny_inside_allow refuse
  env keep "NODE_OPTIONS"
  env set "NO_COLOR" "1"
  command block "rm"
  command allow "rm"
  unix_socket "/run/user/$UID/bus"
  protect metadata
  rollback on
  assert never write "~/.ssh"
  syscall kexec_load, kexec_file_load, bpf deny
  syscall socket deny errno EAFNOSUPPORT if arg0 != AF_UNIX
  syscall ioctl deny if arg1 == TIOCSTI
  syscall clone deny if arg0 & CLONE_NEWUSER == CLONE_NEWUSER
  syscall ptrace kill
  on linux { read "/proc/self" }
  on macos { read "/System/Library" }
}
"""


def test_the_agreed_sketch_parses() -> None:
    source = parse(SKETCH, "sketch.nono")
    assert [i.target.value for i in source.imports] == ["other.nono", "credentials"]
    assert [i.stdlib for i in source.imports] == [False, True]
    assert source.abi is not None and source.abi.value.value == 4  # type: ignore[union-attr]
    assert [g.name.text for g in source.groups] == ["deny_credentials", "system_hardening"]
    assert [g.mandatory for g in source.groups] == [False, True]
    (profile,) = source.profiles
    assert profile.name.text == "claude-code"
    assert [w.text for w in profile.extends] == ["default", "node-dev"]
    assert profile.description == "Claude Code"
    kinds = [type(s).__name__ for s in profile.body]
    assert kinds.count("PathRule") == 8
    assert kinds.count("SyscallRule") == 5
    assert kinds[-2:] == ["PlatformBlock", "PlatformBlock"]


def test_every_node_has_a_position() -> None:
    source = parse(SKETCH, "sketch.nono")
    profile = source.profiles[0]
    assert (profile.span.file, profile.span.line, profile.span.column) == ("sketch.nono", 13, 1)
    read = profile.body[1]
    assert isinstance(read, ast.PathRule)
    assert (read.span.line, read.span.column) == (15, 3)
    assert read.span.source_line == '  read "/usr", "/etc/ssl"'
    assert [(p.value, p.span.column) for p in read.paths] == [("/usr", 8), ("/etc/ssl", 16)]
    assert profile.extends[1].span.column == 38


def test_path_rules_keep_verb_kind_and_require() -> None:
    (profile,) = parse(
        'profile p {\n  require readwrite file "a", "b"\n  exec "/bin"\n}', "f"
    ).profiles
    first, second = profile.body
    assert isinstance(first, ast.PathRule) and isinstance(second, ast.PathRule)
    assert (first.verb, first.file, first.required) == ("readwrite", True, True)
    assert [p.value for p in first.paths] == ["a", "b"]
    assert (second.verb, second.file, second.required) == ("exec", False, False)


def test_syscall_rules_with_conditions() -> None:
    text = "profile p { syscall socket, socketpair deny errno EAFNOSUPPORT if arg0 != AF_UNIX and arg1 & 0xF == 3 }"
    (stmt,) = parse(text, "f").profiles[0].body
    assert isinstance(stmt, ast.SyscallRule)
    assert [n.text for n in stmt.names] == ["socket", "socketpair"]
    assert (
        stmt.action.text == "deny" and stmt.errno is not None and stmt.errno.text == "EAFNOSUPPORT"
    )
    first, second = stmt.conditions
    assert (first.arg.text, first.op, first.mask) == ("arg0", "!=", None)
    assert isinstance(first.value, ast.Word) and first.value.text == "AF_UNIX"
    assert isinstance(second.mask, ast.Number) and second.mask.value == 15
    assert isinstance(second.value, ast.Number) and second.value.value == 3


def test_keywords_can_name_syscalls_and_actions() -> None:
    # `kill` is a syscall and an action; `deny` is a statement keyword and an action.
    text = 'profile p { syscall kill, bpf kill syscall kill deny deny "/x" }'
    body = parse(text, "f").profiles[0].body
    assert isinstance(body[0], ast.SyscallRule) and [n.text for n in body[0].names] == [
        "kill",
        "bpf",
    ]
    assert body[0].action.text == "kill"
    assert isinstance(body[1], ast.SyscallRule) and body[1].action.text == "deny"
    assert isinstance(body[2], ast.DenyRule)


def test_newlines_and_comments_carry_no_meaning() -> None:
    one_line = parse('profile p { read "/a" deny "/b" }', "f").profiles[0].body
    spread = parse('profile p {  # c\n read\n "/a"   # c\n\n deny "/b"\n}\n', "f").profiles[0].body
    assert [type(s) for s in one_line] == [type(s) for s in spread]


def test_string_escapes() -> None:
    (stmt,) = parse(r'profile p { read "/a \"b\" \\ c" }', "f").profiles[0].body
    assert isinstance(stmt, ast.PathRule)
    assert stmt.paths[0].value == '/a "b" \\ c'


def test_settings_and_blocks() -> None:
    text = """profile p {
      network proxy { allow "a.example" allow "*.b.example" }
      scope abstract_unix off
      compat best_effort
      rollback off
      env set "A" "1"
      command block "rm", "dd"
      on macos { use x }
    }"""
    body = parse(text, "f").profiles[0].body
    network, scope, compat, rollback, env, command, block = body
    assert isinstance(network, ast.NetworkSetting) and network.mode.text == "proxy"
    assert [h.value for h in network.hosts] == ["a.example", "*.b.example"]
    assert isinstance(scope, ast.ScopeSetting) and (scope.scope.text, scope.value.text) == (
        "abstract_unix",
        "off",
    )
    assert isinstance(compat, ast.Setting) and compat.key == "compat"
    assert isinstance(rollback, ast.Setting) and rollback.key == "rollback"
    assert isinstance(env, ast.EnvSet) and (env.name.value, env.value.value) == ("A", "1")
    assert isinstance(command, ast.CommandRule) and command.mode == "block"
    assert isinstance(block, ast.PlatformBlock) and isinstance(block.body[0], ast.Use)


def test_bare_statements_for_command_line_flags() -> None:
    body = parse_statements('allow "." network block', "<command line>")
    assert [type(s).__name__ for s in body] == ["PathRule", "NetworkSetting"]


def test_parser_is_built_once() -> None:
    assert grammar_parser() is grammar_parser()


def test_a_200_line_profile_parses_quickly() -> None:
    lines = ["profile big {"]
    for i in range(198):
        lines.append(
            [
                f'  read "/usr/share/d{i}", "/opt/x{i}"   # c',
                f'  write file "$HOME/.cache/f{i}"',
                f"  syscall s{i} deny errno EPERM if arg0 & 0x{i:x} == 1 and arg1 != AF_UNIX",
                f'  on linux {{ exec "/usr/lib/x{i}" }}',
            ][i % 4]
        )
    lines.append("}")
    text = "\n".join(lines)
    grammar_parser()
    start = time.perf_counter()
    source = parse(text, "big.nono")
    elapsed = time.perf_counter() - start
    assert len(source.profiles[0].body) == 198
    assert elapsed < 0.5, f"parsing 200 lines took {elapsed * 1000:.0f} ms"


def test_statement_keywords_are_plain_names_where_a_name_belongs() -> None:
    source = parse(
        'profile p { syscall write, read, allow, file, on deny read "/x" }\ngroup network { }', "f"
    )
    stmt = source.profiles[0].body[0]
    assert isinstance(stmt, ast.SyscallRule)
    assert [n.text for n in stmt.names] == ["write", "read", "allow", "file", "on"]
    assert isinstance(source.profiles[0].body[1], ast.PathRule)
    assert source.groups[0].name.text == "network"
