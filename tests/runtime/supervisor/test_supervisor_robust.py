"""Live robustness: racing links and paths, children killed at random points, stale ids."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from supervisor_helpers import PYTHON, Tree, compile_payload, run_supervised

from nonoc.runtime.supervisor.answers import Answer, CallbackAnswers
from nonoc.runtime.supervisor.grants import GrantTable
from nonoc.runtime.supervisor.memo import RateLimit
from nonoc.runtime.supervisor.notif import Listener
from nonoc.runtime.supervisor.spawn import SupervisedChild, spawn
from nonoc.runtime.supervisor.supervisor import Supervisor

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]

RACE_SECONDS = 1.5


def test_link_swap_race_never_yields_the_denied_file(tree: Tree) -> None:
    """One thread flips a link (and a path buffer) between an approved file and a denied one;
    another opens it as fast as it can. Every question is answered yes: the only thing between
    the agent and the key is the supervisor's own walk and its never-grantable check."""
    ok = tree.outside / "ok.txt"
    ok.write_text("fine")
    # The agent can only make links where it may write (work/); it reaches them through a
    # path that is outside the grants as written, so the supervisor resolves them itself.
    (tree.outside / "via").symlink_to(tree.work)
    body = f"""
    import threading, time
    flip = {str(tree.work / "flip")!r}
    reached = {str(tree.outside / "via" / "flip")!r}
    tmp = flip + '.tmp'
    good, bad = {str(ok)!r}, {str(tree.secret)!r}
    stop = time.monotonic() + {RACE_SECONDS}
    def flipper():
        which = 0
        while time.monotonic() < stop:
            try:
                os.symlink(good if which else bad, tmp)
                os.replace(tmp, flip)
            except OSError:
                pass
            which ^= 1
    # The path buffer itself is rewritten too, between the two spellings, in place.
    buffer = ctypes.create_string_buffer(max(len(good), len(bad)) + 1)
    def scribbler():
        while time.monotonic() < stop:
            buffer.value = bad.encode()
            buffer.value = good.encode()
    libc = ctypes.CDLL(None, use_errno=True)
    seen = {{}}
    def note(key):
        seen[key] = seen.get(key, 0) + 1
    threads = [threading.Thread(target=flipper), threading.Thread(target=scribbler)]
    for thread in threads:
        thread.start()
    rounds = 0
    while time.monotonic() < stop:
        rounds += 1
        openers = (lambda: os.open(reached, os.O_RDONLY), lambda: libc.open(buffer, os.O_RDONLY))
        for opener in openers:
            try:
                fd = opener()
                if fd < 0:
                    raise OSError(ctypes.get_errno(), 'open')
            except OSError as exc:
                note(errno.errorcode.get(exc.errno, str(exc.errno)))
                continue
            note(os.read(fd, 64).decode(errors='replace'))
            os.close(fd)
    for thread in threads:
        thread.join()
    results['seen'] = seen
    results['rounds'] = rounds
    """
    answers = CallbackAnswers(lambda q: Answer(True, remember=True))
    out = run_supervised(
        compile_payload(f'allow "{tree.work}"'),
        body,
        tree.env,
        answers=answers,
        timeout=60,
        supervisor_options={"rate": RateLimit(burst=10**6, per_second=10**6)},
    )
    seen = out.results["seen"]
    assert "PRIVATE KEY" not in seen, seen
    assert seen.get("fine", 0) > 20, seen  # the race really ran both ways
    assert seen.get("EPERM", 0) > 20, seen
    assert out.results["rounds"] > 50
    assert all("ssh" not in q.path for q in answers.asked)
    assert out.counts.get("internal_error", 0) == 0


WORKLOAD = """
import os, socket, sys
outside, inside = sys.argv[1], sys.argv[2]
while True:
    for path in (outside, inside, '/etc/hostname', outside + '/missing'):
        try:
            os.close(os.open(path + ('/notes.txt' if path == outside else ''), os.O_RDONLY))
        except OSError:
            pass
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(outside + '/nothing.sock')
    except OSError:
        pass
    s.close()
"""


def _listener(child: SupervisedChild) -> int:
    assert child.listener is not None
    return child.listener


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_children_killed_at_random_points_leave_the_supervisor_whole(tree: Tree) -> None:
    payload = compile_payload(f'allow "{tree.work}"', sockets=True)
    grants = GrantTable.from_payload(payload, environ=tree.env)
    randomness = random.Random(1234)
    before = _open_fds()

    def slow_yes(question: object) -> bool:
        time.sleep(randomness.random() * 0.02)
        return True

    slow = CallbackAnswers(slow_yes)
    for _ in range(25):
        child = spawn(
            payload,
            [PYTHON, "-I", "-S", "-c", WORKLOAD, str(tree.outside), str(tree.work)],
            environ=tree.env,
        )
        supervisor = Supervisor(
            _listener(child), grants, answers=slow, rate=RateLimit(burst=10**6, per_second=10**6)
        )
        supervisor.start()
        time.sleep(randomness.random() * 0.15)
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
        assert supervisor.wait(5), "the supervisor did not notice its sandbox was gone"
        supervisor.stop()
        assert supervisor.counts.get("internal_error", 0) == 0, supervisor.counts
    time.sleep(0.1)  # pool threads finish closing their descriptors
    assert _open_fds() <= before + 2


def test_stale_notification_ids_are_refused_by_the_kernel(tree: Tree) -> None:
    payload = compile_payload(f'allow "{tree.work}"')
    child = spawn(
        payload,
        [PYTHON, "-I", "-S", "-c", f"open({str(tree.outside / 'notes.txt')!r})"],
        environ=tree.env,
    )
    listener = Listener(_listener(child))
    try:
        first = None
        while first is None:
            assert listener.wait(5000) == "ready"
            first = listener.receive()
        assert listener.is_valid(first.id)
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
        # The thread is gone: every answer to its id is refused, none raises.
        assert not listener.is_valid(first.id)
        assert listener.allow_continue(first.id) is False
        assert listener.fail(first.id, 1) is False
        fd = os.open("/dev/null", os.O_RDONLY)
        try:
            assert listener.inject(first.id, fd, cloexec=True) is None
        finally:
            os.close(fd)
        assert not listener.is_valid(first.id + 1000)
        assert listener.wait(1000) == "gone"
    finally:
        listener.close()


def test_a_child_killed_while_its_question_waits(tree: Tree) -> None:
    payload = compile_payload(f'allow "{tree.work}"')
    child = spawn(
        payload,
        [PYTHON, "-I", "-S", "-c", f"open({str(tree.outside / 'notes.txt')!r})"],
        environ=tree.env,
    )
    asked = []

    def answer(question: object) -> bool:
        asked.append(question)
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.05)
        return True

    supervisor = Supervisor(
        _listener(child),
        GrantTable.from_payload(payload, environ=tree.env),
        answers=CallbackAnswers(answer),
    )
    supervisor.start()
    os.waitpid(child.pid, 0)
    assert supervisor.wait(5)
    supervisor.stop()
    assert len(asked) == 1
    assert supervisor.counts.get("dropped", 0) >= 1 and "approved" not in supervisor.counts


def test_injection_without_addfd_send_as_on_kernels_before_5_14(tree: Tree) -> None:
    payload = compile_payload(f'allow "{tree.work}"')
    path = str(tree.outside / "notes.txt")
    child = spawn(
        payload, [PYTHON, "-I", "-S", "-c", f"print(open({path!r}).read())"], environ=tree.env
    )
    listener = Listener(_listener(child))
    listener._addfd_send = False  # add the descriptor, then send its number: two steps
    grants = GrantTable.from_payload(payload, environ=tree.env)
    supervisor = Supervisor(listener, grants, answers=CallbackAnswers(lambda q: True))
    supervisor.start()
    assert os.waitstatus_to_exitcode(os.waitpid(child.pid, 0)[1]) == 0
    assert supervisor.wait(5)
    supervisor.stop()
    assert supervisor.counts.get("approved") == 1


def test_the_freezer_stops_and_resumes_the_whole_tree() -> None:
    from nonoc.runtime.supervisor.prompt import SandboxFreezer

    script = "import os, time\nif os.fork() == 0:\n    time.sleep(30)\ntime.sleep(30)\n"
    root = subprocess.Popen([sys.executable, "-c", script])
    try:
        freezer = SandboxFreezer(root.pid)
        assert _wait(lambda: len(freezer.members()) == 2)
        with freezer.frozen():
            assert {_state(pid) for pid in freezer.members()} == {"T"}
        assert "T" not in {_state(pid) for pid in freezer.members()}
    finally:
        for pid in SandboxFreezer(root.pid).members():
            os.kill(pid, signal.SIGKILL)
        root.wait()


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def _wait(predicate: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
