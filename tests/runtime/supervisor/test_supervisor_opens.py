"""Live: opens outside the grants go to the answer source; the kernel's answers are asserted."""

from __future__ import annotations

import os
from typing import Any

import pytest
from supervisor_helpers import Tree, always, compile_payload, run_supervised

from nonoc.runtime.supervisor.answers import Answer, CallbackAnswers

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]


def profile(tree: Tree) -> dict[str, Any]:
    return compile_payload(f'allow "{tree.work}"')


def test_approve_reads_the_file(tree: Tree) -> None:
    answers = always(True)
    out = run_supervised(
        profile(tree),
        f"attempt('read', lambda: read({str(tree.outside / 'notes.txt')!r}))",
        tree.env,
        answers=answers,
    )
    assert out.results == {"read": "outside notes"}, out.stderr
    assert [q.path for q in answers.asked] == [str(tree.outside / "notes.txt")]
    assert [q.access for q in answers.asked] == [frozenset({"read"})]
    approved = out.decisions("approved")
    assert len(approved) == 1 and approved[0].decision == "allow"


def test_refusal_is_eperm(tree: Tree) -> None:
    out = run_supervised(
        profile(tree),
        f"attempt('read', lambda: read({str(tree.outside / 'notes.txt')!r}))",
        tree.env,
        answers=always(False),
    )
    assert out.results == {"read": "EPERM"}
    assert [e.decision for e in out.decisions("refused")] == ["deny"]


def test_inside_the_grants_nobody_is_asked(tree: Tree) -> None:
    answers = always(True)
    out = run_supervised(
        profile(tree),
        f"attempt('read', lambda: read({str(tree.work / 'inside.txt')!r}))",
        tree.env,
        answers=answers,
    )
    assert out.results == {"read": "inside"}
    assert answers.asked == []
    assert out.counts.get("granted", 0) > 0


def test_never_grantable_is_eperm_without_a_question(tree: Tree) -> None:
    answers = always(True)
    body = f"""
    attempt('direct', lambda: read({str(tree.secret)!r}))
    os.symlink({str(tree.secret)!r}, {str(tree.work / "key")!r})
    attempt('through_link', lambda: read({str(tree.work / "key")!r}))
    attempt('dotdot', lambda: read({str(tree.work)!r} + '/../home/.ssh/id_ed25519'))
    attempt('nono_state', lambda: read({str(tree.home / ".local/state/nono/x")!r}))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    # The link sits inside the grants: Landlock follows it and refuses (EACCES) by itself.
    assert out.results == {
        "direct": "EPERM",
        "through_link": "EACCES",
        "dotdot": "EPERM",
        "nono_state": "EPERM",
    }
    assert answers.asked == []
    assert {e.path for e in out.decisions("never_grantable")} >= {str(tree.secret)}


def test_link_outside_the_grants_to_a_denied_file_is_never_asked(tree: Tree) -> None:
    link = tree.outside / "innocent.txt"
    link.symlink_to(tree.secret)
    answers = always(True)
    out = run_supervised(
        profile(tree), f"attempt('read', lambda: read({str(link)!r}))", tree.env, answers=answers
    )
    assert out.results == {"read": "EPERM"}
    assert answers.asked == []
    [event] = out.decisions("never_grantable")
    assert event.path == str(tree.secret) and event.detail["requested"] == str(link)


def test_write_approval_creates_and_read_approval_never_does(tree: Tree) -> None:
    target = tree.outside / "new.txt"
    answers = CallbackAnswers(lambda q: "write" in q.access)
    body = f"""
    attempt('read_missing', lambda: read({str(target)!r}))
    def write():
        with open({str(target)!r}, 'w') as handle:
            handle.write('made')
    attempt('write', write)
    attempt('read_back', lambda: read({str(target)!r}))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    # A read of a missing file is ENOENT without a question; the write creates it; the
    # read-back is refused (the callback only says yes to writes).
    assert out.results == {"read_missing": "ENOENT", "write": "ok", "read_back": "EPERM"}
    assert target.read_text() == "made"
    assert [sorted(q.access) for q in answers.asked] == [["write"], ["read"]]


def test_read_only_approval_never_truncates(tree: Tree) -> None:
    target = tree.outside / "notes.txt"
    answers = CallbackAnswers(lambda q: q.access == frozenset({"read"}))
    body = f"""
    attempt('trunc', lambda: os.close(os.open({str(target)!r}, os.O_WRONLY | os.O_TRUNC)))
    attempt('read', lambda: read({str(target)!r}))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    assert out.results == {"trunc": "EPERM", "read": "outside notes"}
    assert target.read_text() == "outside notes"


def test_injected_descriptor_keeps_close_on_exec_as_asked(tree: Tree) -> None:
    path = str(tree.outside / "notes.txt")
    body = f"""
    import fcntl
    libc = ctypes.CDLL(None, use_errno=True)
    # os.open always adds O_CLOEXEC (PEP 446); the C library's open does what it is told.
    a = libc.open({path!r}.encode(), os.O_RDONLY | os.O_CLOEXEC)
    b = libc.open({path!r}.encode(), os.O_RDONLY)
    results['a'] = bool(fcntl.fcntl(a, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    results['b'] = bool(fcntl.fcntl(b, fcntl.F_GETFD) & fcntl.FD_CLOEXEC)
    results['same'] = os.path.samestat(os.fstat(a), os.stat({path!r}))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=always(True))
    assert out.results == {"a": True, "b": False, "same": True}, out.stderr


def test_remembered_answers_and_repeated_refusals_ask_once(tree: Tree) -> None:
    path = str(tree.outside / "notes.txt")
    other = tree.outside / "other.txt"
    other.write_text("o")
    answers = CallbackAnswers(lambda q: Answer(True, remember=True) if q.path == path else False)
    body = f"""
    for i in range(3):
        attempt(f'yes{{i}}', lambda: len(read({path!r})))
        attempt(f'no{{i}}', lambda: read({str(other)!r}))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    assert out.results == {
        **{f"yes{i}": 13 for i in range(3)},
        **{f"no{i}": "EPERM" for i in range(3)},
    }
    assert [q.path for q in answers.asked] == [path, str(other)]
    assert len(out.decisions("remembered")) == 4


def test_questions_are_rate_limited(tree: Tree) -> None:
    for index in range(20):
        (tree.outside / f"f{index}").write_text("x")
    answers = always(False)
    body = f"""
    for i in range(20):
        attempt(f'f{{i}}', lambda: read({str(tree.outside)!r} + f'/f{{i}}'))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    assert set(out.results.values()) == {"EPERM"}
    assert len(answers.asked) == 5  # the default burst
    assert len(out.decisions("rate_limited")) == 15


def test_without_an_answer_source_outside_is_eperm(tree: Tree) -> None:
    out = run_supervised(
        profile(tree),
        f"attempt('read', lambda: read({str(tree.outside / 'notes.txt')!r}))",
        tree.env,
    )
    assert out.results == {"read": "EPERM"}
    assert out.decisions("no_answers")


def test_relative_paths_and_directory_descriptors(tree: Tree) -> None:
    (tree.outside / "sub").mkdir()
    (tree.outside / "sub" / "deep.txt").write_text("deep")
    answers = always(True)
    body = """
    attempt('relative', lambda: read('notes.txt'))
    d = os.open('sub', os.O_RDONLY | os.O_DIRECTORY)
    attempt('dirfd', lambda: os.read(os.open('deep.txt', os.O_RDONLY, dir_fd=d), 10).decode())
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers, cwd=tree.outside)
    assert out.results == {"relative": "outside notes", "dirfd": "deep"}, out.stderr
    asked = [q.path for q in answers.asked]
    assert asked == [
        str(tree.outside / "notes.txt"),
        str(tree.outside / "sub"),
        str(tree.outside / "sub" / "deep.txt"),
    ]
    assert answers.asked[0].requested == "notes.txt"


def test_a_path_longer_than_path_max_is_enametoolong(tree: Tree) -> None:
    answers = always(True)
    body = """
    attempt('long', lambda: read('/' + 'a' * 5000))
    attempt('just_under', lambda: read('/' + 'b/' * 2000 + 'c'))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    assert out.results == {"long": "ENAMETOOLONG", "just_under": "ENOENT"}
    assert answers.asked == []


def test_devices_and_fifos_are_never_opened_for_the_agent(tree: Tree) -> None:
    fifo = tree.outside / "fifo"
    os.mkfifo(fifo)
    answers = always(True)
    body = f"""
    attempt('fifo', lambda: os.open({str(fifo)!r}, os.O_RDONLY))
    attempt('device', lambda: os.open('/dev/kmsg', os.O_RDONLY))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    assert out.results == {"fifo": "EPERM", "device": "EPERM"}
    assert answers.asked == []
    assert [e.reason for e in out.decisions()] == ["unsupported", "unsupported"]


def test_openat2_and_o_path(tree: Tree) -> None:
    path = str(tree.outside / "notes.txt")
    answers = always(True)
    body = f"""
    class How(ctypes.Structure):
        _fields_ = [(name, ctypes.c_uint64) for name in ('flags', 'mode', 'resolve')]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    def openat2(path, flags, resolve=0):
        how = How(flags, 0, resolve)
        fd = libc.syscall(437, -100, path.encode(), ctypes.byref(how), ctypes.sizeof(how))
        if fd < 0:
            raise OSError(ctypes.get_errno(), 'openat2')
        return os.read(fd, 7).decode()
    attempt('openat2', lambda: openat2({path!r}, os.O_RDONLY))
    attempt('no_symlinks', lambda: openat2({path!r}, os.O_RDONLY, 0x04))
    attempt('beneath', lambda: openat2({path!r}, os.O_RDONLY, 0x08))
    attempt('o_path', lambda: os.close(os.open({str(tree.secret)!r}, os.O_PATH)))
    """
    out = run_supervised(profile(tree), body, tree.env, answers=answers)
    assert out.results == {
        "openat2": "outside",
        "no_symlinks": "outside",
        "beneath": "EXDEV",
        "o_path": "ok",
    }, out.stderr
    # Each yes was for one open; O_PATH (which reads nothing) is never notified.
    assert [q.syscall for q in answers.asked] == ["openat2", "openat2"]


def test_opens_from_a_thread_other_than_the_leader(tree: Tree) -> None:
    (tree.outside / "sub").mkdir()
    (tree.outside / "sub" / "deep.txt").write_text("deep")
    body = """
    import threading
    def worker():
        os.chdir('sub')  # the process's directory: the supervisor reads it from the thread
        attempt('relative', lambda: read('deep.txt'))
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    """
    out = run_supervised(profile(tree), body, tree.env, answers=always(True), cwd=tree.outside)
    assert out.results == {"relative": "deep"}, out.stderr
