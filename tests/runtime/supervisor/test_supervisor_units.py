"""The supervisor's pieces without a sandbox: answers, limits, lowering, walk, grants, memory."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
from pathlib import Path
from typing import Any

import pytest

from nonoc.backends.seccomp import bpf, interp, tables
from nonoc.errors import NonoError
from nonoc.ir import SyscallActionKind
from nonoc.launch.seccomp import native_arch
from nonoc.resolve import load_policy_text
from nonoc.runtime.supervisor import memory, notif, walk
from nonoc.runtime.supervisor.answers import Answer, FileAnswers, Question, glob_pattern
from nonoc.runtime.supervisor.grants import GrantTable
from nonoc.runtime.supervisor.lowering import (
    ALL_MEDIATIONS,
    Mediation,
    compile_notify_filter,
    generated_table,
    mediation_for,
    notify_filter,
    notify_rules,
    notify_statements,
    socket_mediation_needed,
    with_notify_rules,
)
from nonoc.runtime.supervisor.memo import DecisionMemory, RateLimit
from nonoc.runtime.supervisor.opens import OpenCall
from nonoc.runtime.supervisor.prompt import parse_reply, question_text
from nonoc.runtime.supervisor.record import AuditRecorder
from nonoc.runtime.supervisor.syscalls import FS_IOC_FSSETXATTR, FS_IOC_SETFLAGS
from nonoc.runtime.supervisor.verdict import Event


def _nr(table: tables.SyscallTable, name: str) -> int:
    call = table.lookup(name)
    assert call is not None, name
    return call.nr


def question(path: str, *access: str) -> Question:
    return Question(1, "agent", "openat", path, path, frozenset(access))


# ---------------------------------------------------------------- answers


def test_answers_file_first_match_wins_and_no_match_is_no() -> None:
    answers = FileAnswers.parse(
        "# comment\n\nallow read /data/**\ndeny any /data/secret/*\n"
        "allow write /tmp/out/*.txt  # trailing\n"
    )
    assert answers.ask(question("/data/a/b.csv", "read")).allow
    assert answers.ask(question("/data/secret/x", "read")).allow  # the earlier allow read matched
    assert not answers.ask(question("/data/secret/x", "write")).allow
    assert answers.ask(question("/tmp/out/r.txt", "write")).allow
    assert not answers.ask(
        question("/tmp/out/sub/r.txt", "write")
    ).allow  # * stays in one directory
    assert not answers.ask(
        question("/tmp/out/r.txt", "read", "write")
    ).allow  # read is not allowed there
    assert not answers.ask(question("/etc/passwd", "read")).allow


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("allow read\n", "a.txt:1:1", "expected 'allow|deny"),
        ("\n  permit read /x\n", "a.txt:2:3", "expected allow or deny"),
        ("allow exec /x\n", "a.txt:1:7", "expected read, write or any"),
        ("deny any relative/x\n", "a.txt:1:10", "the path glob must be absolute"),
    ],
)
def test_answers_file_errors_name_the_place(text: str, where: str, message: str) -> None:
    with pytest.raises(NonoError) as caught:
        FileAnswers.parse(text, "a.txt")
    rendered = caught.value.render()
    assert rendered.startswith(f"{where}: error: {message}"), rendered
    assert "^" in rendered


def test_answers_file_load_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NonoError, match="cannot read answers file"):
        FileAnswers.load(tmp_path / "none")
    (tmp_path / "a").write_text("allow any /**\n")
    assert FileAnswers.load(tmp_path / "a").ask(question("/x", "write")).allow


def test_glob_pattern() -> None:
    assert glob_pattern("/a/**").match("/a/b/c")
    assert glob_pattern("/a/?.txt").match("/a/b.txt") and not glob_pattern("/a/?.txt").match(
        "/a/bc.txt"
    )
    assert not glob_pattern("/a/*").match("/a/b/c")
    assert glob_pattern("/a+b/(c)").match("/a+b/(c)")


def test_typed_replies() -> None:
    assert parse_reply("y\n") == Answer(True) and parse_reply(" YES ") == Answer(True)
    assert parse_reply("a") == Answer(True, remember=True)
    assert parse_reply("d") == Answer(False, remember=True)
    for reply in ("", "n", "yy", "sure", "\x1b[A"):
        assert parse_reply(reply) == Answer(False)


def test_question_text_cannot_be_redrawn_by_the_agent() -> None:
    evil = "/tmp/a\x1b[2K\rnono: wants to read /tmp/harmless\u009b\udcff\\x"
    asked = Question(1, "x\x1b]0;t\x07", "openat", evil, evil, frozenset({"read"}))
    text = question_text(asked, 5)
    assert "\x1b" not in text and "\x07" not in text and "\u009b" not in text
    assert "\\x1b[2K\\x0dnono" in text and "\\x9b\\xff\\x5cx" in text
    assert text.count("\r\n") == 2  # only the prompt's own line ends


def test_question_text_names_path_access_and_requested_spelling() -> None:
    asked = Question(
        42, "node", "openat", "/srv/real.txt", "link.txt", frozenset({"read", "write"})
    )
    text = question_text(asked, 30)
    assert "node (pid 42) wants to read and write /srv/real.txt" in text
    assert "(it asked for link.txt)" in text and "[y/N]" in text and "30s" in text


# ---------------------------------------------------------------- memory of answers, limits


def test_rate_limit_refills() -> None:
    rate = RateLimit(burst=2, per_second=1.0)
    assert [rate.take(now=0.0) for _ in range(3)] == [True, True, False]
    assert rate.take(now=0.5) is False
    assert rate.take(now=1.01) is True


def test_decision_memory_keeps_and_forgets() -> None:
    memo = DecisionMemory(repeat_window=10)
    key = ("/x", frozenset({"read"}))
    assert memo.recall(key, now=0) is None
    memo.note(key, False, remember=False, now=0)
    assert memo.recall(key, now=5) is False and memo.recall(key, now=11) is None
    memo.note(key, True, remember=True, now=20)
    assert memo.recall(key, now=1000) is True
    assert memo.recall(("/x", frozenset({"write"})), now=1000) is None


# ---------------------------------------------------------------- opens: access and rights


@pytest.mark.parametrize(
    ("flags", "access", "rights"),
    [
        (os.O_RDONLY, {"read"}, {"READ_FILE"}),
        (os.O_WRONLY, {"write"}, {"WRITE_FILE"}),
        (os.O_RDWR | os.O_APPEND, {"read", "write"}, {"READ_FILE", "WRITE_FILE"}),
        (os.O_RDONLY | os.O_TRUNC, {"read", "write"}, {"READ_FILE", "WRITE_FILE", "TRUNCATE"}),
        (os.O_WRONLY | os.O_CREAT, {"write"}, {"WRITE_FILE", "MAKE_REG"}),
    ],
)
def test_open_access_and_rights(flags: int, access: set[str], rights: set[str]) -> None:
    call = OpenCall("openat", -100, "/x", flags, 0o644)
    assert call.access == access
    assert call.rights(directory=False, creating=bool(flags & os.O_CREAT)) == rights


def test_directory_reads_need_read_dir() -> None:
    call = OpenCall("openat", -100, "/x", os.O_RDONLY | os.O_DIRECTORY, 0)
    assert call.rights(directory=True, creating=False) == {"READ_DIR"}


# ---------------------------------------------------------------- lowering


def test_notify_rules_per_family() -> None:
    arch = native_arch()
    opens = notify_rules(Mediation(opens=True), arch)
    assert {r.names[0] for r in opens} <= {"open", "openat", "openat2", "creat"}
    assert all(r.action.kind is SyscallActionKind.NOTIFY for r in opens)
    openat = next(r for r in opens if r.names == ("openat",))
    assert openat.conditions[0].mask == os.O_PATH and openat.conditions[0].value == 0
    sockets = notify_rules(Mediation(sockets=True), arch)
    sendto = next(r for r in sockets if r.names == ("sendto",))
    assert (sendto.conditions[0].index, sendto.conditions[0].op.value) == (4, "ne")
    metadata = notify_rules(Mediation(metadata=True), arch)
    assert {c.value for r in metadata if r.names == ("ioctl",) for c in r.conditions} >= {
        FS_IOC_SETFLAGS,
        FS_IOC_FSSETXATTR,
    }
    assert notify_rules(Mediation(), arch) == ()
    # aarch64 has no open(2), chmod(2)…: the rules name only calls that exist there.
    names = {r.names[0] for r in notify_rules(Mediation(True, True, True), "aarch64")}
    assert "open" not in names and "chmod" not in names and "openat" in names


def test_socket_mediation_stops_at_the_landlock_unix_right() -> None:
    assert socket_mediation_needed(7) and socket_mediation_needed(8)
    assert not socket_mediation_needed(9)
    assert socket_mediation_needed(9, ["READ_FILE"])  # a table without the unix-socket right
    assert not socket_mediation_needed(9, ["READ_FILE", "RESOLVE_UNIX"])


def test_mediation_for_a_policy() -> None:
    policy = load_policy_text('profile p "p" { protect metadata }', "p.nono", "linux", profile="p")
    assert mediation_for(policy, supervised=True, landlock_abi=7) == Mediation(True, True, True)
    assert mediation_for(policy, supervised=False, landlock_abi=9) == Mediation(False, False, True)


def test_statements_compile_to_the_same_filter_decisions() -> None:
    """The policy-text form (for ``flags``) and the IR form give the kernel the same answers."""
    from nonoc.backends import seccomp
    from nonoc.backends.host import HostFacts

    arch = native_arch()
    mediation = Mediation(True, True, True)
    base = load_policy_text('profile p "p" { }', "p.nono", "linux", profile="p")
    from nonoc.resolve import resolve

    by_text = resolve(
        "p.nono",
        "linux",
        profile="p",
        text='profile p "p" { }',
        flags=[("--supervised", notify_statements(mediation, arch))],
    ).policy
    by_ir = with_notify_rules(base, mediation, arch)
    host = HostFacts(target="linux", arch=arch)
    programs = [
        bpf.decode(__import__("base64").b64decode(seccomp.lower(p, host)[0]["program"]))
        for p in (by_text, by_ir)
    ]
    table = tables.load(arch)
    audit = notif.AUDIT_ARCH[arch]
    probes = [
        ("openat", (0, 0, os.O_RDONLY, 0, 0, 0)),
        ("openat", (0, 0, os.O_PATH, 0, 0, 0)),
        ("sendto", (0, 0, 0, 0, 0, 0)),
        ("sendto", (0, 0, 0, 0, 0x1000, 16)),
        ("connect", (0,) * 6),
        ("ioctl", (0, FS_IOC_SETFLAGS, 0, 0, 0, 0)),
        ("ioctl", (0, 0x5401, 0, 0, 0, 0)),
        ("fchmodat", (0,) * 6),
        ("getpid", (0,) * 6),
    ]
    for name, args in probes:
        data = interp.SeccompData(_nr(table, name), audit, args)
        answers = {interp.run(program, data).ret for program in programs}
        assert len(answers) == 1, (name, args, answers)

    def notify(name: str, args: tuple[int, ...]) -> int:
        return interp.run(programs[1], interp.SeccompData(_nr(table, name), audit, args)).ret

    assert notify("openat", (0, 0, 0, 0, 0, 0)) == bpf.RET_USER_NOTIF
    assert notify("openat", (0, 0, os.O_PATH, 0, 0, 0)) != bpf.RET_USER_NOTIF
    assert notify("sendto", (0,) * 6) != bpf.RET_USER_NOTIF


def test_a_policy_deny_beats_notify() -> None:
    policy = load_policy_text(
        'profile p "p" { syscall openat deny }', "p.nono", "linux", profile="p"
    )
    from nonoc.backends import seccomp
    from nonoc.backends.host import HostFacts

    arch = native_arch()
    supervised = with_notify_rules(policy, Mediation(opens=True), arch)
    program = bpf.decode(
        __import__("base64").b64decode(
            seccomp.lower(supervised, HostFacts("linux", arch))[0]["program"]
        )
    )
    data = interp.SeccompData(_nr(tables.load(arch), "openat"), notif.AUDIT_ARCH[arch], (0,) * 6)
    assert interp.run(program, data).ret & bpf.RET_ACTION_FULL == bpf.RET_ERRNO


def test_the_precompiled_filters_are_up_to_date() -> None:
    from nonoc.runtime.supervisor import notify_filters

    shipped = Path(notify_filters.__file__).read_text()
    assert shipped == generated_table(), (
        "nonoc/runtime/supervisor/notify_filters.py is stale: regenerate it with "
        "python -c 'from nonoc.runtime.supervisor.lowering import generated_table as g; "
        'open("nonoc/runtime/supervisor/notify_filters.py", "w").write(g())\''
    )


@pytest.mark.parametrize("arch", tables.ARCHES)
def test_the_own_filter_is_what_the_backend_makes_of_the_same_rules(arch: str) -> None:
    import base64

    from nonoc.backends import seccomp
    from nonoc.backends.host import HostFacts
    from nonoc.ir import Policy

    for mediation in ALL_MEDIATIONS:
        policy = Policy(name="n", target="linux", syscalls=notify_rules(mediation, arch))
        artifact, _ = seccomp.lower(policy, HostFacts(target="linux", arch=arch))
        assert compile_notify_filter(mediation, arch) == base64.b64decode(str(artifact["program"]))
        assert notify_filter(mediation, arch) == compile_notify_filter(mediation, arch)


def test_notify_filter_is_a_valid_program_of_its_own() -> None:
    program = notify_filter(Mediation(opens=True, sockets=True), native_arch())
    decoded = bpf.decode(program)
    interp.check(decoded)
    assert notify_filter(Mediation(), native_arch()) == b""


# ---------------------------------------------------------------- protocol constants


def test_ioctl_numbers_match_the_kernel_headers() -> None:
    # From linux/seccomp.h as compiled on x86_64 and aarch64.
    assert notif.IOCTL_RECV == 0xC0502100
    assert notif.IOCTL_SEND == 0xC0182101
    assert notif.IOCTL_ID_VALID == 0x40082102
    assert notif.IOCTL_ADDFD == 0x40182103
    assert notif.IOCTL_SET_FLAGS == 0x40082104


def test_structure_sizes_are_checked_against_the_kernel() -> None:
    try:
        notif.check_sizes()
    except notif.ProtocolError as exc:
        pytest.skip(f"no seccomp user notification here: {exc}")


# ---------------------------------------------------------------- walk


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    root = tmp_path.resolve()
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("f")
    (root / "abs").symlink_to(root / "a" / "b" / "f")
    (root / "rel").symlink_to("a/b")
    (root / "loop").symlink_to("loop")
    (root / "dangling").symlink_to("nowhere")
    return root


def resolve(root: Path, path: str, **options: object) -> walk.Resolved:
    start = os.open(root, os.O_PATH)
    top = os.open("/", os.O_PATH)
    try:
        return walk.resolve(path, start, top, **options)  # type: ignore[arg-type]
    finally:
        os.close(start)
        os.close(top)


def test_walk_follows_links_itself(layout: Path) -> None:
    for path, expected in [
        ("abs", "a/b/f"),
        ("rel/f", "a/b/f"),
        ("a/./b/../b/f", "a/b/f"),
        (f"{layout}/rel", "a/b"),
    ]:
        found = resolve(layout, path)
        try:
            assert found.path == str(layout / expected), path
        finally:
            found.close()


@pytest.mark.parametrize(
    ("path", "options", "code"),
    [
        ("loop", {}, errno.ELOOP),
        ("dangling", {}, errno.ENOENT),
        ("abs", {"no_symlinks": True}, errno.ELOOP),
        ("a/b/f/x", {}, errno.ENOTDIR),
        ("a/b/f/", {}, errno.ENOTDIR),
        ("../x", {"beneath": True}, errno.EXDEV),
        ("/etc", {"beneath": True}, errno.EXDEV),
        ("a/missing/x", {"allow_missing": True}, errno.ENOENT),
        ("", {}, errno.ENOENT),
    ],
)
def test_walk_errors_are_the_kernels(
    layout: Path, path: str, options: dict[str, Any], code: int
) -> None:
    with pytest.raises(OSError) as caught:
        resolve(layout, path, **options).close()
    assert caught.value.errno == code


def test_walk_keeps_the_final_link_when_asked_and_reports_missing(layout: Path) -> None:
    link = resolve(layout, "abs", follow_final=False)
    assert link.is_symlink and link.path == str(layout / "abs")
    link.close()
    missing = resolve(layout, "a/b/new", allow_missing=True)
    assert missing.missing == "new" and missing.path == str(layout / "a" / "b" / "new")
    fd = walk.create(missing, os.O_WRONLY, 0o600)
    os.close(fd)
    missing.close()
    assert (layout / "a" / "b" / "new").exists()


def test_walk_refuses_procfs_links() -> None:
    with pytest.raises(OSError) as caught:
        resolve(Path("/"), "/proc/self/root/etc")
    assert caught.value.errno == errno.EPERM


def test_procfs_objects_are_never_opened_by_the_supervisor() -> None:
    """procfs answers by the opener: outside the grants, the supervisor refuses, asks nobody."""
    from nonoc.runtime.supervisor.opens import OpenCall, OpenMediator

    found = resolve(Path("/"), "/proc/1/stat")
    try:
        assert found.on_procfs
        mediator = OpenMediator(GrantTable())
        assert mediator.judge(OpenCall("openat", -100, "/proc/1/stat", 0, 0), found) == (
            "unsupported",
            errno.EPERM,
        )
        granted = GrantTable()
        granted.add_tree("/proc", ["READ_FILE"])
        assert OpenMediator(granted).judge(
            OpenCall("openat", -100, "/proc/1/stat", 0, 0), found
        ) == (
            "granted",
            0,
        )
    finally:
        found.close()


def test_reopen_gets_the_inode_not_the_path(layout: Path) -> None:
    found = resolve(layout, "a/b/f")
    os.rename(layout / "a" / "b" / "f", layout / "moved")
    (layout / "a" / "b" / "f").write_text("impostor")
    fd = walk.reopen(found, os.O_RDONLY)
    try:
        assert os.read(fd, 10) == b"f"
    finally:
        os.close(fd)
        found.close()


# ---------------------------------------------------------------- grants


def test_grant_table_unions_rights_on_the_way_up() -> None:
    table = GrantTable(
        denies=frozenset({"/home/u/.ssh"}), sockets=frozenset({"/run/x.sock", "/run/dir"})
    )
    table.add_tree("/home/u", ["READ_FILE", "READ_DIR"])
    table.add_tree("/home/u/work", ["WRITE_FILE"])
    table.add_file("/etc/hosts", ["READ_FILE"])
    assert table.rights_at("/home/u/work/x") == {"READ_FILE", "READ_DIR", "WRITE_FILE"}
    assert table.allows("/home/u/a", ["READ_FILE"]) and not table.allows(
        "/home/u/a", ["WRITE_FILE"]
    )
    assert table.allows("/etc/hosts", ["READ_FILE"]) and not table.allows(
        "/etc/passwd", ["READ_FILE"]
    )
    assert table.allows(
        "/anything", ["EXECUTE"]
    )  # a right the ruleset does not handle is not restricted
    assert table.never_grantable("/home/u/.ssh/id") == "/home/u/.ssh"
    assert table.never_grantable("/home/u/.sshx") is None
    assert table.writable("/home/u/work/y") and not table.writable("/home/u/y")
    assert table.socket_granted("/run/x.sock") and table.socket_granted("/run/dir/y.sock")
    assert not table.socket_granted("/run/docker.sock")


def test_grant_table_from_a_payload(tmp_path: Path) -> None:
    from supervisor_helpers import compile_payload, environment

    root = tmp_path.resolve()
    (root / "home").mkdir()
    (root / "work").mkdir()
    payload = compile_payload(
        f'allow "{root / "work"}"\nunix_socket "$HOME/agent.sock"', opens=False
    )
    env = environment(root / "home")
    table = GrantTable.from_payload(payload, environ=env)
    assert table.writable(str(root / "work" / "f"))
    assert table.never_grantable(str(root / "home" / ".ssh" / "k")) == str(root / "home" / ".ssh")
    for place in (".config/nono", ".local/state/nono", ".cache/nono"):
        assert table.never_grantable(str(root / "home" / place / "x"))
    assert table.socket_granted(str(root / "home" / "agent.sock"))
    assert table.allows("/usr/bin/env", ["READ_FILE"])


def test_the_childs_ruleset_record_makes_the_same_table(tmp_path: Path) -> None:
    """``hook.plan_record`` (sent by the sandboxed child) read by ``GrantTable.from_record``
    gives the table a second plan of the same payload would give, splits and ports included."""
    from supervisor_helpers import compile_payload, environment

    from nonoc.launch import plan as planning
    from nonoc.runtime.supervisor.hook import plan_record

    root = tmp_path.resolve()
    for name in ("home", "work/a", "work/b", "work/keys", "odd dir"):
        (root / name).mkdir(parents=True)
    payload = compile_payload(
        f'allow "{root / "work"}"\ndeny "{root / "work" / "keys"}"\n'
        f'read file "{root / "odd dir"}"\nnetwork proxy\nport connect 8443\nunix_socket "$HOME/a.sock"',
        opens=False,
    )
    env = environment(root / "home")
    plan = planning.build(payload["linux"]["landlock"], payload["provenance"]["linux"], environ=env)
    plan.close()
    record = plan_record(plan)
    from_record = GrantTable.from_record(record, payload, environ=env)
    from_payload = GrantTable.from_payload(payload, environ=env)
    for name in GrantTable.__slots__:
        assert getattr(from_record, name) == getattr(from_payload, name), name
    assert from_record.never_grantable(str(root / "work" / "keys" / "k"))
    assert from_record.writable(str(root / "work" / "a" / "f"))
    assert (8443, ("CONNECT_TCP",)) in from_record.net.ports
    with pytest.raises(ValueError):
        GrantTable.from_record(record + b"\0? what", payload, environ=env)


# ---------------------------------------------------------------- memory


def test_read_path_stops_at_unmapped_memory_and_path_max() -> None:
    page = mmap.PAGESIZE
    area = mmap.mmap(-1, 2 * page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(area))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    assert libc.mprotect(base + page, page, 0) == 0  # the second page is unreadable
    tail = b"/just/fits"
    area[page - len(tail) - 1 : page] = tail + b"\0"
    assert memory.read_path(os.getpid(), base + page - len(tail) - 1) == "/just/fits"
    area[page - 4 : page] = b"/abc"  # no NUL before the unmapped page
    with pytest.raises(OSError) as caught:
        memory.read_path(os.getpid(), base + page - 4)
    assert caught.value.errno == errno.EFAULT
    long = ctypes.create_string_buffer(b"/" + b"x" * 5000)
    with pytest.raises(OSError) as caught:
        memory.read_path(os.getpid(), ctypes.addressof(long))
    assert caught.value.errno == errno.ENAMETOOLONG
    with pytest.raises(OSError) as caught:
        memory.read_path(os.getpid(), 0)
    assert caught.value.errno == errno.EFAULT
    empty = ctypes.create_string_buffer(b"")
    with pytest.raises(OSError) as caught:
        memory.read_path(os.getpid(), ctypes.addressof(empty))
    assert caught.value.errno == errno.ENOENT
    assert struct.unpack(
        "=I", memory.read_exact(os.getpid(), ctypes.addressof(ctypes.c_uint32(7)), 4)
    ) == (7,)


# ---------------------------------------------------------------- audit


def test_audit_recorder_counts_continues_and_records_the_rest(tmp_path: Path) -> None:
    from nonoc.runtime.audit import AuditSession, AuditTrail

    session = AuditSession.open(command=["agent"], root=tmp_path)
    recorder = AuditRecorder(session)
    recorder(Event("openat", 5, "continue", "granted", "/usr/lib/x", "read"))
    recorder(Event("openat", 5, "continue", "granted", "/usr/lib/y", "read"))
    recorder(Event("openat", 5, "deny", "never_grantable", "/home/u/.ssh/id", "read", errno.EPERM))
    recorder(Event("connect", 5, "allow", "socket_granted", "/run/x.sock"))
    recorder.close()
    session.close(0)
    records = AuditTrail(tmp_path).read_session(session.id)
    decisions = [r for _, r in records if r and r["kind"] == "supervisor_decision"]
    assert [(r["decision"], r["reason"]) for r in decisions] == [
        ("deny", "never_grantable"),
        ("allow", "socket_granted"),
        ("continue", "granted"),
    ]
    assert decisions[0]["errno"] == "EPERM" and decisions[0]["path"] == "/home/u/.ssh/id"
    assert decisions[2]["count"] == 2 and decisions[2]["by_syscall"] == {"openat": 2}
