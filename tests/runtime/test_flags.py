"""Flags → policy statements: parsing, paths, errors, and the argparse parser agreeing."""

from __future__ import annotations

import argparse
import os

import pytest

from nonoc.cli import run_cmd
from nonoc.errors import UsageError
from nonoc.runtime import flags
from nonoc.runtime.flags import BLOCKED_COMMANDS, FLAGS, RunRequest, parse, statements


def policy_of(*argv: str, cwd: str = "/work/p") -> list[tuple[str, str]]:
    """The flag pairs (without the built-in block list) for a command line."""
    request = parse([*argv, "--", "true"])
    assert request is not None
    pairs = statements(request, cwd=cwd)
    assert pairs[0][0] == flags.BUILTIN_BLOCK_LABEL
    return pairs[1:]


def test_every_path_flag_becomes_its_statement() -> None:
    assert policy_of(
        "--allow",
        ".",
        "--read",
        "./src",
        "--write",
        "out",
        "--allow-file",
        "f.txt",
        "--read-file",
        "/etc/hosts",
        "--write-file",
        "~/log",
        "--allow-cwd",
    ) == [
        ("--allow .", 'allow "$CWD"'),
        ("--read ./src", 'read "$CWD/src"'),
        ("--write out", 'write "$CWD/out"'),
        ("--allow-file f.txt", 'allow file "$CWD/f.txt"'),
        ("--read-file /etc/hosts", 'read file "/etc/hosts"'),
        ("--write-file ~/log", 'write file "$HOME/log"'),
        ("--allow-cwd", 'allow "$CWD"'),
    ]


def test_network_port_command_and_env_flags() -> None:
    assert policy_of(
        "--net-block",
        "--allow-port",
        "8080",
        "--allow-command",
        "/usr/bin/rm",
        "--block-command",
        "curl",
        "--keep-env",
        "NODE_OPTIONS",
    ) == [
        ("--net-block", "network block"),
        ("--allow-port 8080", "port connect 8080"),
        ("--allow-command /usr/bin/rm", 'command allow "rm"'),
        ("--block-command curl", 'command block "curl"'),
        ("--keep-env NODE_OPTIONS", 'env keep "NODE_OPTIONS"'),
    ]
    assert policy_of("--net-allow") == [("--net-allow", "network open")]


def test_variables_and_tilde_stay_variables() -> None:
    assert policy_of("--read", "$HOME/.config/x", "--read", "${TMPDIR}/y", "--read", "~") == [
        ("--read $HOME/.config/x", 'read "$HOME/.config/x"'),
        ("--read ${TMPDIR}/y", 'read "$TMPDIR/y"'),
        ("--read ~", 'read "$HOME"'),
    ]


def test_dotdot_is_made_absolute_from_the_working_directory() -> None:
    assert policy_of("--read", "../lib", cwd="/work/p") == [("--read ../lib", 'read "/work/lib"')]
    assert policy_of("--read", "/a/b/../c") == [("--read /a/b/../c", 'read "/a/c"')]


def test_quotes_and_backslashes_are_escaped() -> None:
    assert policy_of("--read", 'we"ird\\dir') == [
        ('--read we"ird\\dir', 'read "$CWD/we\\"ird\\\\dir"')
    ]


def test_the_built_in_block_list_is_the_documented_one() -> None:
    expected = {
        "rm",
        "rmdir",
        "shred",
        "srm",
        "dd",
        "mkfs",
        "fdisk",
        "parted",
        "wipefs",
        "chmod",
        "chown",
        "chgrp",
        "chattr",
        "shutdown",
        "reboot",
        "halt",
        "systemctl",
        "apt",
        "brew",
        "pip",
        "yum",
        "pacman",
        "mv",
        "cp",
        "truncate",
        "sudo",
        "su",
        "doas",
        "pkexec",
        "scp",
        "rsync",
        "sftp",
        "ftp",
    }
    assert set(BLOCKED_COMMANDS) == expected
    request = parse(["--", "true"])
    assert request is not None
    _, body = statements(request)[0]
    assert body.startswith("command block ") and all(f'"{name}"' in body for name in expected)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--allow"], "--allow needs a value"),
        (["--bogus", "x"], "unknown option --bogus"),
        (["--net-block=yes"], "--net-block takes no value"),
        (["--allow-port", "http"], "not a port number"),
        (["--allow-port", "0"], "between 1 and 65535"),
        (["--allow-port", "70000"], "between 1 and 65535"),
        (["--read", "$NOPE/x"], "unknown variable $NOPE"),
        (["--read", "~bob/x"], "'~user' paths are not supported"),
        (["--read", "~/../x"], "'..' is only allowed"),
        (["--keep-env", "1BAD"], "not an environment variable name"),
        (["--net-block", "--net-allow"], "contradict"),
        (["--allow-command", "rm", "--block-command", "rm"], "both name rm"),
        (["--profile", "a", "--profile", "b"], "--profile given twice"),
    ],
)
def test_bad_flags_are_usage_errors_naming_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        request = parse([*argv, "--", "true"])
        assert request is not None
        statements(request)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_parse_stops_at_the_command() -> None:
    request = parse(["--allow", ".", "ls", "-la", "--allow", "x"])
    assert request is not None
    assert request.command == ["ls", "-la", "--allow", "x"]
    request = parse(["--allow=.", "-v", "--dry-run", "--json", "--", "--weird"])
    assert request is not None
    assert request.policy == [("--allow", ".")]
    assert (request.verbose, request.dry_run, request.json, request.command) == (
        True,
        True,
        True,
        ["--weird"],
    )
    assert parse(["-h"]) is None
    assert parse(["--allow", ".", "--help"]) is None


ARGVS = [
    ["--allow", ".", "--", "ls", "-la"],
    ["--profile", "claude-code", "--read", "./src", "--write", "./out", "--net-block", "--", "x"],
    ["--allow-cwd", "--allow-command", "rm", "-v", "--", "rm", "./f"],
    ["--allow=.", "--verbose", "--dry-run", "--json", "--keep-env", "A", "cmd", "--allow", "y"],
    [
        "--allow-port",
        "80",
        "--allow-file",
        "a",
        "--read-file",
        "b",
        "--write-file",
        "c",
        "--net-allow",
        "--",
        "z",
    ],
]


@pytest.mark.parametrize("argv", ARGVS)
def test_argparse_and_the_fast_parser_agree(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nono run")
    run_cmd.add_arguments(parser)
    from_argparse = run_cmd.request_from(parser.parse_args(argv))
    assert from_argparse == parse(argv)


def test_every_flag_has_help_and_a_known_destination() -> None:
    fields = set(RunRequest().__slots__)
    for flag in FLAGS:
        assert flag.help
        assert flag.dest in fields or flag.statement, flag.option
    # The fast path's constant is the bundle code's default key name.
    from nonoc.bundle.keys import DEFAULT_KEY
    from nonoc.runtime.run.prepare import DEFAULT_KEY as RUN_DEFAULT

    assert RUN_DEFAULT == DEFAULT_KEY


def test_grant_paths_lists_path_flags_with_their_templates() -> None:
    request = parse(["--read", "src", "--allow-cwd", "--net-block", "--", "x"])
    assert request is not None
    assert flags.grant_paths(request, cwd=os.getcwd()) == [
        ("--read", "src", "$CWD/src"),
        ("--allow-cwd", "", "$CWD"),
    ]
