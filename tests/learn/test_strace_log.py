"""Reading canned strace output: paths, modes, working directories, failures, endpoints."""

from __future__ import annotations

from nonoc.learn.events import Endpoint, FileAccess, Trace
from nonoc.learn.strace_log import read_log
from nonoc.learn.strace_syntax import decode_c_string, split_call


def parse(text: str, cwd: str = "/work/p", dirs: frozenset[str] = frozenset()) -> Trace:
    """Parse canned lines; paths are taken as given (no symlinks on this host consulted)."""
    return read_log(
        text.strip("\n").splitlines(), cwd, realpath=lambda p: p, is_dir=lambda p: p in dirs
    )


def accesses(trace: Trace) -> set[tuple[str, str, bool, str | None]]:
    return {("+".join(sorted(a.modes)), a.path, a.directory, a.error) for a in trace.accesses}


def test_opens_take_the_path_the_kernel_resolved_and_their_access_from_the_flags() -> None:
    trace = parse(
        """
100 openat(AT_FDCWD</work/p>, "in.txt", O_RDONLY|O_CLOEXEC) = 3</work/p/in.txt>
100 openat(AT_FDCWD</work/p>, "out.txt", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 3</work/p/out.txt>
100 openat(AT_FDCWD</work/p>, "db", O_RDWR) = 4</work/p/db>
100 openat(AT_FDCWD</work/p>, "/lib/x86_64-linux-gnu/libc.so.6", O_RDONLY|O_CLOEXEC) = 3</usr/lib/x86_64-linux-gnu/libc.so.6>
100 open("/etc/hosts", O_RDONLY) = 3</etc/hosts>
100 openat(AT_FDCWD</work/p>, "src", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3</work/p/src>
100 openat(AT_FDCWD</work/p>, "anchor", O_RDONLY|O_PATH) = 5</work/p/anchor>
100 creat("/work/p/new", 0644) = 3</work/p/new>
"""
    )
    assert accesses(trace) == {
        ("read", "/work/p/in.txt", False, None),
        ("write", "/work/p/out.txt", False, None),
        ("read+write", "/work/p/db", False, None),
        ("read", "/usr/lib/x86_64-linux-gnu/libc.so.6", False, None),  # the link's target
        ("read", "/etc/hosts", False, None),
        ("read", "/work/p/src", True, None),
        ("write", "/work/p/new", False, None),
    }  # O_PATH grants nothing and is not recorded
    assert trace.pids == {100}


def test_failed_attempts_keep_the_requested_path_and_their_errno() -> None:
    trace = parse(
        """
7 openat(AT_FDCWD</work/p>, "missing.py", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)
7 openat(AT_FDCWD</work/p>, "/etc/shadow", O_RDONLY) = -1 EACCES (Permission denied)
"""
    )
    assert accesses(trace) == {
        ("read", "/work/p/missing.py", False, "ENOENT"),
        ("read", "/etc/shadow", False, "EACCES"),
    }
    assert not any(a.ok for a in trace.accesses)


def test_entry_changes_need_write_on_the_parent_directory_resolved_against_the_cwd() -> None:
    trace = parse(
        """
9 mkdir("build", 0777) = 0
9 rename("build/a.tmp", "out/a") = 0
9 unlinkat(AT_FDCWD</work/p>, "old/x", 0) = 0
9 symlink("/target", "links/l") = 0
9 rmdir("/work/p/gone") = 0
"""
    )
    assert accesses(trace) == {
        ("write", "/work/p", True, None),  # mkdir build; rmdir /work/p/gone
        ("write", "/work/p/build", True, None),
        ("write", "/work/p/out", True, None),
        ("write", "/work/p/old", True, None),
        ("write", "/work/p/links", True, None),
    }


def test_working_directories_follow_chdir_fchdir_and_children() -> None:
    trace = parse(
        """
1 chdir("/srv") = 0
1 mkdir("a", 0777) = 0
1 openat(AT_FDCWD</srv>, "/etc", O_RDONLY|O_CLOEXEC) = 4</etc>
1 fchdir(4</etc>) = 0
1 mkdir("b", 0777) = 0
1 vfork( <unfinished ...>
2 mkdir("c", 0777) = 0
1 <... vfork resumed>) = 2
1 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|SIGCHLD, child_tidptr=0x7f) = 3
1 chdir("/var") = 0
3 mkdir("d", 0777) = 0
""",
        dirs=frozenset({"/etc"}),
    )
    parents = {a.path for a in trace.accesses if a.syscall == "mkdir"}
    # c: the child spoke before vfork returned; d: the clone child keeps the cwd at clone time.
    assert parents == {"/srv", "/etc"}
    assert trace.pids == {1, 2, 3}


def test_resumed_calls_are_joined_with_their_start() -> None:
    trace = parse(
        """
5 execve("/usr/bin/sh", ["sh", "-c", "true"], 0x7ffd /* 35 vars */ <unfinished ...>
5 <... execve resumed>) = 0
"""
    )
    assert trace.accesses == [FileAccess("/usr/bin/sh", frozenset({"exec"}), "execve", 5)]


def test_execve_failures_on_the_path_search_are_failed_execs() -> None:
    trace = parse(
        """
5 execve("/usr/local/bin/tool", ["tool"], 0x7ffd /* 3 vars */) = -1 ENOENT (No such file or directory)
5 execve("/usr/bin/tool", ["tool"], 0x7ffd /* 3 vars */) = 0
"""
    )
    assert [(a.path, a.error) for a in trace.accesses] == [
        ("/usr/local/bin/tool", "ENOENT"),
        ("/usr/bin/tool", None),
    ]


def test_escaped_names_are_decoded() -> None:
    trace = parse(
        r"""
4 openat(AT_FDCWD</work/p>, "a>b,\"c d\303\251", O_RDONLY|O_CLOEXEC) = 3</work/p/a\76b,\"c d\303\251>
"""
    )
    assert [a.path for a in trace.accesses] == ['/work/p/a>b,"c dé']
    assert decode_c_string(r"x\x41\n\\") == "xA\n\\"


def test_deleted_and_pseudo_files_fall_back_to_the_requested_path() -> None:
    trace = parse(
        """
4 openat(AT_FDCWD</work/p>, "tmpfile", O_RDWR|O_CREAT, 0600) = 3</work/p/tmpfile (deleted)>
4 openat(AT_FDCWD</work/p>, "/dev/ptmx", O_RDWR) = 3</dev/pts/ptmx>
"""
    )
    assert {a.path for a in trace.accesses} == {"/work/p/tmpfile", "/dev/pts/ptmx"}


def test_repeated_accesses_are_recorded_once() -> None:
    line = '4 openat(AT_FDCWD</w>, "/etc/hosts", O_RDONLY) = 3</etc/hosts>\n'
    assert len(parse(line * 50).accesses) == 1


def test_network_endpoints_with_their_transport() -> None:
    trace = parse(
        """
8 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<socket:[11]>
8 connect(3<socket:[11]>, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("93.184.216.34")}, 16) = 0
8 socket(AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP) = 4<socket:[12]>
8 sendto(4<socket:[12]>, "\\1\\2", 2, MSG_NOSIGNAL, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 2
8 connect(5<socket:[13]>, {sa_family=AF_INET6, sin6_port=htons(9), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ECONNREFUSED (Connection refused)
8 connect(6<socket:[14]>, {sa_family=AF_UNIX, sun_path="/run/dbus/system_bus_socket"}, 110) = 0
8 connect(7<socket:[15]>, {sa_family=AF_UNIX, sun_path=@"/tmp/.X11-unix/X0"}, 20) = 0
8 bind(8<socket:[16]>, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
8 sendto(9<socket:[17]>, "x", 1, 0, NULL, 0) = 1
"""
    )
    assert trace.endpoints == [
        Endpoint("inet", "connect", "93.184.216.34", 443, "tcp"),
        Endpoint("inet", "send", "127.0.0.53", 53, "udp"),
        Endpoint("inet6", "connect", "::1", 9, "unknown", "ECONNREFUSED"),
        Endpoint("unix", "connect", "/run/dbus/system_bus_socket", None, "unknown"),
        Endpoint("unix", "connect", "@/tmp/.X11-unix/X0", None, "unknown"),
        Endpoint("inet", "bind", "127.0.0.1", 8080, "unknown"),
    ]
    assert trace.endpoints[2].describe() == "connect unknown [::1]:9 (ECONNREFUSED)"


def test_noise_is_skipped_and_garbage_counted() -> None:
    trace = parse(
        """
3 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=4} ---
3 +++ exited with 0 +++
3 newfstatat(AT_FDCWD</x>, "/etc", {st_mode=S_IFDIR|0755, ...}, 0) = 0
3 exit_group(0) = ?
this is not strace
3 openat(AT_FDCWD</x>, "/etc/hosts", O_RDONLY
"""
    )
    assert trace.accesses == []
    assert trace.unparsed == 2


def test_split_call_keeps_strings_structures_and_annotations_whole() -> None:
    args, rest = split_call('3</a,b>, "x,)y", {a=1, b=[2, 3]}, 16) = 0')  # type: ignore[misc]
    assert args == ["3</a,b>", '"x,)y"', "{a=1, b=[2, 3]}", "16"]
    assert rest == " = 0"
    assert split_call('"never closed') is None
