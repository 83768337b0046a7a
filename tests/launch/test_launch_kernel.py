"""Real enforcement: a child process under the launcher's Landlock ruleset, the kernel's answers.

Each test builds a rule table by hand, runs the probe under it (``launch_helpers.probe``)
and asserts the errno the kernel returned for each operation.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from launch_helpers import (
    EXEC_TREE,
    PYTHON,
    READ_TREE,
    RW_TREE,
    WRITE_TREE,
    deny,
    launch,
    payload,
    probe,
    rule,
    table,
    where,
)

pytestmark = pytest.mark.kernel


def test_read_write_create_delete_truncate_where_granted_and_not(
    kernel_abi: int, tree: Path
) -> None:
    document = payload(
        table([rule("g0", tree / "ro", READ_TREE), rule("g1", tree / "rw", RW_TREE)])
    )
    ro, rw, none = tree / "ro", tree / "rw", tree / "none"
    answers = probe(
        document,
        [
            ["read", f"{ro}/file"],
            ["read", f"{rw}/file"],
            ["read", f"{none}/file"],
            ["list", str(ro)],
            ["list", str(none)],
            ["write", f"{rw}/file"],
            ["write", f"{ro}/file"],
            ["write", f"{none}/file"],
            ["create", f"{rw}/new"],
            ["create", f"{ro}/new"],
            ["create", f"{none}/new"],
            ["mkdir", f"{rw}/newdir"],
            ["mkdir", f"{ro}/newdir"],
            ["truncate", f"{rw}/file"],
            ["truncate", f"{ro}/file"],
            ["truncate", f"{none}/file"],
            ["delete", f"{rw}/new"],
            ["delete", f"{ro}/file"],
            ["delete", f"{none}/file"],
            ["rmdir", f"{rw}/sub"],
            ["symlink", "file", f"{rw}/link"],
            ["symlink", "file", f"{ro}/link"],
        ],
    )
    assert answers == [
        "OK",
        "OK",
        "EACCES",
        "OK",
        "EACCES",
        "OK",
        "EACCES",
        "EACCES",
        "OK",
        "EACCES",
        "EACCES",
        "OK",
        "EACCES",
        "OK",
        "EACCES",
        "EACCES",
        "OK",
        "EACCES",
        "EACCES",
        "OK",
        "OK",
        "EACCES",
    ]
    assert (tree / "ro" / "file").read_text() == "ro"
    assert (tree / "none" / "file").exists()


def test_rename_across_directories_needs_refer(kernel_abi: int, tree: Path) -> None:
    if kernel_abi < 2:
        pytest.skip("REFER needs Landlock ABI 2")
    without_refer = [r for r in RW_TREE if r != "REFER"]
    document = payload(
        table(
            [
                rule("g0", tree / "rw", RW_TREE),
                rule("g1", tree / "rw2", RW_TREE),
                rule("g2", tree / "ro", READ_TREE),
                rule("g3", tree / "none", without_refer),
            ]
        )
    )
    (tree / "rw" / "a").write_text("a")
    (tree / "rw" / "b").write_text("b")
    (tree / "none" / "c").write_text("c")
    answers = probe(
        document,
        [
            ["rename", f"{tree}/rw/a", f"{tree}/rw2/a"],  # both sides grant write with REFER
            ["rename", f"{tree}/rw/b", f"{tree}/rw/b2"],  # same directory: no REFER needed
            ["rename", f"{tree}/rw/b2", f"{tree}/ro/b"],  # no write on the destination
            ["rename", f"{tree}/rw/b2", f"{tree}/none/b"],  # destination lacks REFER
            ["rename", f"{tree}/none/c", f"{tree}/none/c2"],  # same dir without REFER is fine
        ],
    )
    assert answers == ["OK", "OK", "EACCES", "EXDEV", "OK"]
    assert (tree / "rw2" / "a").read_text() == "a"


def test_atomic_save_and_rename_works_in_a_written_tree(kernel_abi: int, tree: Path) -> None:
    document = payload(table([rule("g0", tree / "rw", RW_TREE)]))
    answers = probe(
        document,
        [["create", f"{tree}/rw/.file.tmp"], ["rename", f"{tree}/rw/.file.tmp", f"{tree}/rw/file"]],
    )
    assert answers == ["OK", "OK"]


def test_execute_needs_the_execute_right(kernel_abi: int, tree: Path) -> None:
    for name in ("ro", "rw"):
        shutil.copy2("/bin/true", tree / name / "true")
    document = payload(
        table([rule("g0", tree / "rw", EXEC_TREE), rule("g1", tree / "ro", READ_TREE)])
    )
    answers = probe(
        document,
        [["exec", f"{tree}/rw/true"], ["exec", f"{tree}/ro/true"], ["read", f"{tree}/ro/true"]],
    )
    assert answers == ["OK", "EACCES", "OK"]


def test_launcher_exits_126_when_the_sandbox_forbids_the_command(
    kernel_abi: int, tree: Path
) -> None:
    shutil.copy2("/bin/true", tree / "ro" / "true")
    done = launch(payload(table([rule("g0", tree / "ro", READ_TREE)])), [f"{tree}/ro/true"])
    assert done.returncode == 126
    assert "Permission denied" in done.stderr


def test_the_childs_exit_code_passes_through(kernel_abi: int) -> None:
    done = launch(payload(table([])), [PYTHON, "-I", "-S", "-c", "import sys; sys.exit(7)"])
    assert done.returncode == 7, done.stderr


def test_symlink_inside_an_allowed_dir_pointing_outside_is_denied(
    kernel_abi: int, tree: Path
) -> None:
    (tree / "ro" / "escape").symlink_to(tree / "none" / "file")
    (tree / "ro" / "escape_dir").symlink_to(tree / "none")
    document = payload(table([rule("g0", tree / "ro", READ_TREE)]))
    answers = probe(document, [["read", f"{tree}/ro/escape"], ["list", f"{tree}/ro/escape_dir"]])
    assert answers == ["EACCES", "EACCES"]


def test_proc_root_links_do_not_escape(kernel_abi: int, tree: Path) -> None:
    document = payload(table([rule("g0", "/proc", READ_TREE), rule("g1", tree / "ro", READ_TREE)]))
    outside = f"{tree}/none/file"
    answers = probe(
        document,
        [
            ["read", f"/proc/self/root{outside}"],
            ["read", f"/proc/1/root{outside}"],
            ["read", f"/proc/self/root{tree}/ro/file"],
            ["read", "/proc/self/cwd/../none/file"],
        ],
        cwd=tree / "ro",
    )
    assert answers[0] == "EACCES"
    assert answers[1] == "EACCES"
    assert answers[2] == "OK"
    assert answers[3] == "EACCES"


def test_deny_inside_allow_is_enforced_by_split(kernel_abi: int, tree: Path) -> None:
    work = tree / "rw"
    (work / ".secret").mkdir()
    (work / ".secret" / "key").write_text("k")
    (work / "sub" / "inner").write_text("i")
    document = payload(table([rule("g0", work, RW_TREE)], [deny("d0", work / ".secret")]))
    answers = probe(
        document,
        [
            ["read", f"{work}/.secret/key"],
            ["write", f"{work}/.secret/key"],
            ["create", f"{work}/.secret/new"],
            ["delete", f"{work}/.secret/key"],
            ["rename", f"{work}/.secret", f"{work}/sub/stolen"],
            ["read", f"{work}/file"],
            ["write", f"{work}/file"],
            ["read", f"{work}/sub/inner"],
            ["create", f"{work}/sub/new"],
            ["create", f"{work}/new"],  # the documented cost: the split root gets no right
            ["list", str(work)],
        ],
    )
    assert answers == [
        "EACCES",
        "EACCES",
        "EACCES",
        "EACCES",
        "EACCES",
        "OK",
        "OK",
        "OK",
        "OK",
        "EACCES",
        "EACCES",
    ]
    assert (work / ".secret" / "key").read_text() == "k"


def test_deep_and_missing_denies_are_split_around(kernel_abi: int, tree: Path) -> None:
    work = tree / "rw"
    (work / "a" / "b").mkdir(parents=True)
    (work / "a" / "b" / "secret").write_text("s")
    (work / "a" / "b" / "other").write_text("o")
    (work / "a" / "side").write_text("side")
    document = payload(
        table(
            [rule("g0", work, RW_TREE)],
            [deny("d0", work / "a" / "b" / "secret", "file"), deny("d1", work / ".ssh")],
        )
    )
    answers = probe(
        document,
        [
            ["read", f"{work}/a/b/secret"],
            ["read", f"{work}/a/b/other"],
            ["read", f"{work}/a/side"],
            ["mkdir", f"{work}/.ssh"],  # a denied path that does not exist cannot be created
            ["create", f"{work}/a/b/secret2"],
        ],
    )
    assert answers == ["EACCES", "OK", "OK", "EACCES", "EACCES"]


def test_symlinked_spellings_of_a_denied_path_stay_denied(kernel_abi: int, tree: Path) -> None:
    work = tree / "rw"
    (work / "data").mkdir()
    (work / "data" / "key").write_text("k")
    (work / "alias").symlink_to(work / "data")
    (tree / "ro" / "outside_alias").symlink_to(work / "data")
    document = payload(
        table(
            [rule("g0", work, RW_TREE), rule("g1", tree / "ro" / "outside_alias", READ_TREE)],
            [deny("d0", work / "alias")],
        )
    )
    answers = probe(
        document,
        [
            ["read", f"{work}/data/key"],  # the deny was written through the symlink
            ["read", f"{work}/alias/key"],
            [
                "read",
                f"{tree}/ro/outside_alias/key",
            ],  # a grant resolving inside the deny is dropped
            ["delete", f"{work}/alias"],  # the link itself cannot be replaced
            ["read", f"{work}/file"],
        ],
    )
    assert answers == ["EACCES", "EACCES", "EACCES", "EACCES", "OK"]


def test_grant_resolving_to_the_denied_path_is_dropped(kernel_abi: int, tree: Path) -> None:
    (tree / "ro" / "same").symlink_to(tree / "none")
    document = payload(
        table([rule("g0", tree / "ro" / "same", READ_TREE)], [deny("d0", tree / "none")]),
        {"g0": where("p.nono", 4), "d0": where("p.nono", 9)},
    )
    assert probe(document, [["read", f"{tree}/none/file"]]) == ["EACCES"]
    shown = launch(document, ["true"], dry_run=True)
    assert shown.returncode == 0
    assert "dropped (a deny covers the grant; the deny wins):" in shown.stdout
    assert (
        f"{tree}/none <- g0 (p.nono:4:3, via profile test) equals denied {tree}/none <- d0 (p.nono:9:3"
        in shown.stdout
    )


def test_deny_inside_allow_with_refuse_exits_126_naming_both_rules(
    kernel_abi: int, tree: Path
) -> None:
    (tree / "rw" / "secret").mkdir()
    document = payload(
        table(
            [rule("g0", tree / "rw", RW_TREE)],
            [deny("d0", tree / "rw" / "secret")],
            deny_strategy="refuse",
        ),
        {"g0": where("work.nono", 3), "d0": where("work.nono", 7)},
    )
    done = launch(document, [PYTHON, "-I", "-S", "-c", "print('ran')"])
    assert done.returncode == 126
    assert "ran" not in done.stdout
    assert "d0 (work.nono:7:3, via profile test)" in done.stderr
    assert "g0 (work.nono:3:3, via profile test)" in done.stderr
    assert "deny_inside_allow refuse" in done.stderr


def test_older_kernel_is_simulated_by_masking(kernel_abi: int, tree: Path) -> None:
    if kernel_abi < 3:
        pytest.skip("needs a kernel that knows TRUNCATE (ABI 3) to show it being masked")
    document = payload(table([rule("g0", tree / "ro", READ_TREE)]))
    # With TRUNCATE handled (ABI >= 3) a read-only grant cannot truncate...
    assert probe(document, [["truncate", f"{tree}/ro/file"]]) == ["EACCES"]
    # ...on a (simulated) ABI 2 kernel TRUNCATE is not handled, so truncation goes through.
    assert probe(document, [["truncate", f"{tree}/ro/file"]], kernel_abi=2) == ["OK"]
    done = launch(document, ["true"], kernel_abi=2, dry_run=True)
    assert "kernel ABI 2, bundle ABI 7 (min 1, best_effort): partially enforced" in done.stdout
    assert "TRUNCATE (ABI 3)" in done.stdout and "IOCTL_DEV (ABI 5)" in done.stdout


def test_best_effort_warns_and_hard_requirement_refuses(kernel_abi: int, tree: Path) -> None:
    argv = [PYTHON, "-I", "-S", "-c", "print('ran')"]
    best = launch(payload(table([])), argv, kernel_abi=3)
    assert best.returncode == 0 and best.stdout.strip() == "ran"
    assert "warning: Landlock is partially enforced" in best.stderr
    assert "IOCTL_DEV (ABI 5)" in best.stderr
    hard = launch(payload(table([], compat="hard_requirement")), argv, kernel_abi=3)
    assert hard.returncode == 126 and "ran" not in hard.stdout
    assert (
        "(Landlock ABI 3) cannot enforce BIND_TCP (ABI 4), CONNECT_TCP (ABI 4), IOCTL_DEV (ABI 5)"
        in hard.stderr
    )
    pinned = launch(payload(table([], min_abi=4)), argv, kernel_abi=3)
    assert pinned.returncode == 126
    assert "requires at least ABI 4" in pinned.stderr
    none = launch(payload(table([])), argv, kernel_abi=0)
    assert none.returncode == 126 and "no Landlock" in none.stderr


def test_table_for_an_older_abi_is_fully_enforced_on_a_newer_kernel(
    kernel_abi: int, tree: Path
) -> None:
    # Compiled for ABI 2: TRUNCATE is not handled, so a read-only grant does not stop truncation.
    document = payload(table([rule("g0", tree / "ro", READ_TREE)], abi=2))
    done = launch(document, ["true"], dry_run=True)
    assert (
        f"kernel ABI {kernel_abi}, bundle ABI 2 (min 1, best_effort): fully enforced" in done.stdout
    )
    assert probe(document, [["truncate", f"{tree}/ro/file"], ["write", f"{tree}/ro/file"]]) == [
        "OK",
        "EACCES",
    ]


def _listener() -> socket.socket:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    return server


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


def test_tcp_connect_and_bind_only_on_listed_ports(kernel_abi: int) -> None:
    if kernel_abi < 4:
        pytest.skip("TCP rules need Landlock ABI 4")
    allowed, other = _listener(), _listener()
    bind_ok, bind_denied = _free_port(), _free_port()
    try:
        port_a, port_b = allowed.getsockname()[1], other.getsockname()[1]
        net = [
            {"id": "p0", "port": port_a, "access": ["CONNECT_TCP"]},
            {"id": "p1", "port": bind_ok, "access": ["BIND_TCP"]},
        ]
        answers = probe(
            payload(table([], net=net)),
            [["connect", port_a], ["connect", port_b], ["bind", bind_ok], ["bind", bind_denied]],
        )
    finally:
        allowed.close()
        other.close()
    assert answers == ["OK", "EACCES", "OK", "EACCES"]


def test_open_network_leaves_tcp_alone(kernel_abi: int) -> None:
    server = _listener()
    try:
        answers = probe(payload(table([], handled_net=[])), [["connect", server.getsockname()[1]]])
    finally:
        server.close()
    assert answers == ["OK"]


def test_signal_scope_stops_signals_to_processes_outside(kernel_abi: int) -> None:
    if kernel_abi < 6:
        pytest.skip("scopes need Landlock ABI 6")
    outside = subprocess.Popen(["sleep", "30"])
    try:
        scoped = probe(payload(table([])), [["kill", outside.pid]])
        unscoped = probe(payload(table([], scopes=[])), [["kill", outside.pid]])
    finally:
        outside.kill()
        outside.wait()
    assert scoped == ["EPERM"]
    assert unscoped == ["OK"]


def test_command_gets_default_sigpipe(kernel_abi: int) -> None:
    # Python ignores SIGPIPE; an ignored signal survives execve, so the launcher restores it.
    grep = shutil.which("grep")
    assert grep is not None
    done = launch(
        payload(table([rule("g0", "/proc", READ_TREE)])), [grep, "SigIgn", "/proc/self/status"]
    )
    assert done.returncode == 0, done.stderr
    mask = int(done.stdout.split()[1], 16)
    assert mask & (1 << (13 - 1)) == 0  # SIGPIPE is signal 13


def test_missing_required_path_exits_126(kernel_abi: int, tree: Path) -> None:
    document = payload(
        table([rule("g9", tree / "absent", READ_TREE, optional=False)]), {"g9": where("p.nono", 5)}
    )
    done = launch(document, ["true"])
    assert done.returncode == 126
    assert "g9 (p.nono:5:3, via profile test): required path" in done.stderr


def test_unset_variable_is_named(kernel_abi: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    document = payload(table([rule("g0", "$XDG_RUNTIME_DIR/bus", READ_TREE, optional=False)]))
    done = launch(document, ["true"], env=env)
    assert done.returncode == 126
    assert "$XDG_RUNTIME_DIR is not set" in done.stderr
    optional = payload(table([rule("g0", "$XDG_RUNTIME_DIR/bus", READ_TREE, optional=True)]))
    assert launch(optional, ["true"], env=env, dry_run=True).returncode == 0


def test_command_not_found_exits_127(kernel_abi: int) -> None:
    done = launch(payload(table([])), ["no-such-command-anywhere"])
    assert done.returncode == 127
    assert "command not found" in done.stderr


def test_malformed_table_exits_1(kernel_abi: int) -> None:
    bad = table([rule("g0", "/usr", ["READ_EVERYTHING"])])
    done = launch(payload(bad), ["true"])
    assert done.returncode == 1
    assert "malformed Landlock table" in done.stderr


def test_write_only_grant_does_not_allow_reading(kernel_abi: int, tree: Path) -> None:
    document = payload(table([rule("g0", tree / "rw", WRITE_TREE)]))
    assert probe(document, [["read", f"{tree}/rw/file"], ["write", f"{tree}/rw/file"]]) == [
        "EACCES",
        "OK",
    ]


def _errno_filter(syscall_nr: int, errno_value: int) -> bytes:
    """A hand-written seccomp program (x86_64): ``syscall_nr`` fails with ``errno_value``."""
    import struct

    def insn(code: int, jt: int, jf: int, k: int) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    ld_abs, jeq, ret = 0x20, 0x15, 0x06
    return b"".join(
        [
            insn(ld_abs, 0, 0, 4),  # seccomp_data.arch
            insn(jeq, 1, 0, 0xC000003E),  # AUDIT_ARCH_X86_64
            insn(ret, 0, 0, 0x7FFF0000),  # another ABI: allow (this is a test filter)
            insn(ld_abs, 0, 0, 0),  # seccomp_data.nr
            insn(jeq, 0, 1, syscall_nr),
            insn(ret, 0, 0, 0x00050000 | errno_value),  # SECCOMP_RET_ERRNO
            insn(ret, 0, 0, 0x7FFF0000),  # SECCOMP_RET_ALLOW
        ]
    )


def test_seccomp_filter_from_the_bundle_is_installed_before_exec(kernel_abi: int) -> None:
    import base64
    import errno as errnos
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the hand-written test filter is for x86_64")
    program = _errno_filter(62, errnos.EHOSTDOWN)  # kill(2) on x86_64
    artifact = {
        "arch": "x86_64",
        "program": base64.b64encode(program).decode(),
        "count": len(program) // 8,
    }
    document = payload(table([], scopes=[]), seccomp=artifact)
    assert probe(document, [["kill", os.getpid()]]) == ["EHOSTDOWN"]
    assert probe(payload(table([], scopes=[])), [["kill", os.getpid()]]) == ["OK"]
    foreign = dict(artifact, arch="aarch64")
    done = launch(payload(table([]), seccomp=foreign), ["true"])
    assert done.returncode == 126 and "aarch64" in done.stderr
