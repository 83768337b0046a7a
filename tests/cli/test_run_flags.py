"""Every ``nono run`` flag, live: a real child under the sandbox, the kernel's errno asserted."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_run_support import Sandbox, require_landlock

pytestmark = pytest.mark.kernel
pytest_plugins = ["test_run_support"]  # the sandbox fixtures


@pytest.fixture(autouse=True)
def _landlock() -> None:
    require_landlock()


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two TCP listeners on 127.0.0.1; connects to them succeed without an accept."""
    sockets = []
    for _ in range(2):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        sockets.append(server)
    yield sockets[0].getsockname()[1], sockets[1].getsockname()[1]
    for server in sockets:
        server.close()


def tree(sandbox: Sandbox) -> Path:
    """work/{f, src/a, out/b} and home/{secret, data/d}."""
    (sandbox.work / "f").write_text("f")
    for folder, name in (("src", "a"), ("out", "b")):
        (sandbox.work / folder).mkdir()
        (sandbox.work / folder / name).write_text(name)
    (sandbox.home / "secret").write_text("s")
    (sandbox.home / "data").mkdir(exist_ok=True)
    (sandbox.home / "data" / "d").write_text("d")
    return sandbox.work


def test_without_flags_nothing_of_the_user_is_reachable(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    assert sandbox.probe(
        ops=[["read", str(work / "f")], ["list", str(work)], ["read", str(sandbox.home / "secret")]]
    ) == [
        "EACCES",
        "EACCES",
        "EACCES",
    ]


def test_allow_grants_read_and_write_of_a_tree(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    got = sandbox.probe(
        "--allow",
        "src",
        ops=[
            ["read", "src/a"],
            ["write", "src/a"],
            ["create", "src/new"],
            ["delete", "src/new"],
            ["read", "f"],
            ["create", "out/x"],
        ],
    )
    assert got == ["OK", "OK", "OK", "OK", "EACCES", "EACCES"]
    assert not (work / "out" / "x").exists()


def test_read_grants_reading_only(sandbox: Sandbox) -> None:
    tree(sandbox)
    got = sandbox.probe(
        "--read",
        "./src",
        ops=[["read", "src/a"], ["list", "src"], ["write", "src/a"], ["create", "src/n"]],
    )
    assert got == ["OK", "OK", "EACCES", "EACCES"]


def test_write_grants_writing_only(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    got = sandbox.probe(
        "--write",
        "./out",
        ops=[["write", "out/b"], ["create", "out/n"], ["read", "out/b"], ["list", "out"]],
    )
    assert got == ["OK", "OK", "EACCES", "EACCES"]
    assert (work / "out" / "n").exists()


def test_file_flags_grant_exactly_one_file(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    (work / "g").write_text("g")
    (work / "h").write_text("h")
    got = sandbox.probe(
        "--allow-file",
        "f",
        "--read-file",
        "g",
        "--write-file",
        "h",
        ops=[
            ["read", "f"],
            ["write", "f"],
            ["read", "g"],
            ["write", "g"],
            ["write", "h"],
            ["read", "h"],
            ["read", "src/a"],
            ["create", "new"],
        ],
    )
    assert got == ["OK", "OK", "OK", "EACCES", "OK", "EACCES", "EACCES", "EACCES"]


def test_allow_cwd_grants_the_working_directory(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    got = sandbox.probe(
        "--allow-cwd", ops=[["read", "f"], ["create", "c"], ["read", str(sandbox.home / "secret")]]
    )
    assert got == ["OK", "OK", "EACCES"]
    assert (work / "c").exists()


def test_tilde_variables_and_dotdot(sandbox: Sandbox) -> None:
    tree(sandbox)
    sibling = sandbox.root / "sibling"
    sibling.mkdir()
    (sibling / "s").write_text("s")
    got = sandbox.probe(
        "--read",
        "~/data",
        "--read-file",
        "$HOME/secret",
        "--read",
        "../sibling",
        ops=[
            ["read", str(sandbox.home / "data" / "d")],
            ["read", str(sandbox.home / "secret")],
            ["read", "../sibling/s"],
            ["list", str(sandbox.home)],
        ],
    )
    assert got == ["OK", "OK", "OK", "EACCES"]


def test_nono_own_directories_stay_denied_even_under_a_granted_home(own_sandbox: Sandbox) -> None:
    tree(own_sandbox)
    config = own_sandbox.home / ".config" / "nono"
    state = own_sandbox.home / ".local" / "state" / "nono"
    config.mkdir(parents=True)
    state.mkdir(parents=True)
    (config / "config.yaml").write_text("default_profile: x\n")
    got = own_sandbox.probe(
        "--allow",
        "~",
        ops=[
            ["read", str(own_sandbox.home / "secret")],
            ["read", str(config / "config.yaml")],
            ["create", str(config / "planted")],
            ["create", str(state / "planted")],
            ["list", str(own_sandbox.home / ".config" / "nono" / "trusted_keys")],
        ],
    )
    assert got == ["OK", "EACCES", "EACCES", "EACCES", "EACCES"]


def test_net_block_refuses_tcp_and_udp(sandbox: Sandbox, listeners: tuple[int, int]) -> None:
    port = listeners[0]
    assert sandbox.probe(ops=[["connect", str(port)], ["udp"]]) == ["OK", "OK"]
    assert sandbox.probe("--net-block", ops=[["connect", str(port)], ["udp"]]) == ["EPERM", "EPERM"]


def test_net_allow_lifts_the_profiles_block(sandbox: Sandbox, listeners: tuple[int, int]) -> None:
    sandbox.profile = sandbox.write_profile("network block")
    port = listeners[0]
    assert sandbox.probe(ops=[["connect", str(port)]]) == ["EPERM"]
    assert sandbox.probe("--net-allow", ops=[["connect", str(port)], ["udp"]]) == ["OK", "OK"]


def test_allow_port_opens_one_port_of_a_restricted_network(
    sandbox: Sandbox, listeners: tuple[int, int]
) -> None:
    sandbox.profile = sandbox.write_profile("network proxy")
    allowed, other = listeners
    assert sandbox.probe(ops=[["connect", str(allowed)]]) == ["EACCES"]
    got = sandbox.probe(
        "--allow-port",
        str(allowed),
        ops=[["connect", str(allowed)], ["connect", str(other)], ["udp"]],
    )
    assert got == ["OK", "EACCES", "EPERM"]


def test_allow_port_warns_when_it_cannot_matter(
    sandbox: Sandbox, listeners: tuple[int, int]
) -> None:
    result = sandbox.run("--net-block", "--allow-port", str(listeners[0]), command=["true"])
    assert result.returncode == 0, result.stderr
    assert "--allow-port" in result.stderr and "no effect" in result.stderr


def test_blocked_command_is_refused_at_startup(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    result = sandbox.run("--allow-cwd", command=["rm", "./f"])
    assert result.returncode == 126
    assert (
        "rm is a blocked command (nono's built-in list of blocked commands); allow it with --allow-command rm"
        in result.stderr
    )
    assert "defense in depth" in result.stderr
    assert (work / "f").exists()
    result = sandbox.run("--allow-cwd", command=["/usr/bin/rm", "./f"])
    assert result.returncode == 126 and (work / "f").exists()


def test_allow_command_lets_it_start_but_the_kernel_still_decides(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    result = sandbox.run("--allow-cwd", "--allow-command", "rm", command=["rm", "./f"])
    assert result.returncode == 0, result.stderr
    assert not (work / "f").exists()
    # A file outside the grants: rm starts, and the kernel refuses the unlink (EACCES).
    secret = sandbox.home / "secret"
    result = sandbox.run("--allow-cwd", "--allow-command", "rm", command=["rm", "-f", str(secret)])
    assert result.returncode == 1
    assert "Permission denied" in result.stderr  # strerror(EACCES)
    assert secret.exists()


def test_block_command_adds_to_the_list(sandbox: Sandbox) -> None:
    tree(sandbox)
    result = sandbox.run("--allow-cwd", "--block-command", "cat", command=["cat", "f"])
    assert result.returncode == 126
    assert "cat is a blocked command (--block-command)" in result.stderr
    assert sandbox.run("--allow-cwd", command=["cat", "f"]).stdout == "f"


def test_command_blocking_is_only_a_name_check(sandbox: Sandbox) -> None:
    """Documented limitation: a shell runs rm without nono seeing its name."""
    work = tree(sandbox)
    result = sandbox.run("--allow-cwd", command=["sh", "-c", "rm ./f"])
    assert result.returncode == 0, result.stderr
    assert not (work / "f").exists()


def test_a_symlink_to_a_blocked_command_is_caught(sandbox: Sandbox) -> None:
    work = tree(sandbox)
    (work / "del").symlink_to("/usr/bin/rm")
    result = sandbox.run("--allow-cwd", command=["./del", "f"])
    assert result.returncode == 126
    assert "./del (rm) is a blocked command" in result.stderr


def test_keep_env_keeps_a_stripped_variable(sandbox: Sandbox) -> None:
    env = {"NODE_OPTIONS": "--require ./evil.js", "PLAIN": "kept"}
    ops = [["env", "NODE_OPTIONS"], ["env", "PLAIN"]]
    assert sandbox.probe(ops=ops, env=env) == ["<unset>", "kept"]
    assert sandbox.probe("--keep-env", "NODE_OPTIONS", ops=ops, env=env) == [
        "--require ./evil.js",
        "kept",
    ]


def test_profile_by_user_name_and_by_path(own_sandbox: Sandbox) -> None:
    work = tree(own_sandbox)
    user_profiles = own_sandbox.home / ".config" / "nono" / "profiles"
    user_profiles.mkdir(parents=True)
    text = (
        own_sandbox.profile.read_text()
        .replace("profile test ", "profile mine ")
        .replace("use system", 'use system\n  read "$CWD"')
    )
    (user_profiles / "mine.nono").write_text(text)
    result = own_sandbox.nono("run", "--profile", "mine", "--", "cat", "f")
    assert (result.returncode, result.stdout) == (0, "f"), result.stderr
    result = own_sandbox.nono("run", "--profile", str(own_sandbox.profile), "--", "cat", "f")
    assert result.returncode == 1 and "Permission denied" in result.stderr
    result = own_sandbox.nono("run", "--profile", "no-such-profile", "--", "true")
    assert result.returncode == 1 and "unknown profile 'no-such-profile'" in result.stderr
    assert work.exists()


def test_default_profile_setting(own_sandbox: Sandbox) -> None:
    tree(own_sandbox)
    config = own_sandbox.home / ".config" / "nono"
    config.mkdir(parents=True)
    (config / "config.yaml").write_text(f"default_profile: {own_sandbox.profile}   # mine\n")
    result = own_sandbox.nono("run", "--allow", ".", "--dry-run", "--", "cat", "f")
    assert result.returncode == 0, result.stderr
    assert (
        f"profile: test, from {own_sandbox.profile} (the default_profile setting)" in result.stdout
    )
    result = own_sandbox.nono("run", "--allow", ".", "--", "cat", "f")
    assert (result.returncode, result.stdout) == (0, "f")


def test_missing_flag_path_warns_and_runs(sandbox: Sandbox) -> None:
    tree(sandbox)
    result = sandbox.run("--read", "./src", "--write", "./nothing-here", command=["cat", "src/a"])
    assert (result.returncode, result.stdout) == (0, "a"), result.stderr
    assert (
        f"nono: warning: --write ./nothing-here: {sandbox.work}/nothing-here does not exist; the grant is skipped"
        in result.stderr
    )


def test_file_flag_on_a_directory_is_a_usage_error(sandbox: Sandbox) -> None:
    tree(sandbox)
    result = sandbox.run("--read-file", "src", command=["true"])
    assert result.returncode == 2
    assert (
        "--read-file src:" in result.stderr
        and "is a directory; --read grants a directory tree" in result.stderr
    )


def test_required_path_missing_cannot_apply(sandbox: Sandbox) -> None:
    sandbox.profile = sandbox.write_profile('require read "/nonexistent/nono-test"')
    result = sandbox.run(command=["true"])
    assert result.returncode == 126
    assert "/nonexistent/nono-test" in result.stderr


def test_wrap_applies_the_same_flags(sandbox: Sandbox) -> None:
    tree(sandbox)
    got = sandbox.probe(
        "--read", "src", verb="wrap", ops=[["read", "src/a"], ["write", "src/a"], ["read", "f"]]
    )
    assert got == ["OK", "EACCES", "EACCES"]
    result = sandbox.nono("wrap", "--profile", str(sandbox.profile), "--allow-cwd", "--", "rm", "f")
    assert result.returncode == 126 and "blocked command" in result.stderr
