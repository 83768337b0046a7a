"""Live: a unix socket the sandbox bound itself is reachable from inside; a foreign one is not.

The work tree is writable by the sandbox, and the test process (outside) also puts a
listening socket there, as ssh-agent or tmux put theirs in ``/tmp``. The sandboxed child
binds its own server, connects to it, and tries every way to reach the foreign one: its
path, a symbolic link, a hard link, and renaming it over its own socket's path.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from supervisor_helpers import Tree, compile_payload, run_supervised

from nonoc.runtime.supervisor import bound

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]

HELPERS = """
import time
def serve(path, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    if kind == socket.SOCK_STREAM:
        s.listen(8)
    return s

def connect(path):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(5)
    c.connect(path)
    c.close()
"""


@pytest.fixture
def foreign(tree: Tree) -> Iterator[Path]:
    """A listening socket made outside the sandbox, inside the sandbox's writable tree."""
    path = tree.work / "agent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    yield path
    server.close()


def test_own_sockets_are_reachable_and_foreign_ones_are_not(tree: Tree, foreign: Path) -> None:
    payload = compile_payload(f'allow "{tree.work}"', opens=False, sockets=True)
    body = (
        HELPERS
        + f"""
server = serve('own.sock')
attempt('own', lambda: connect('own.sock'))
attempt('own_absolute', lambda: connect({str(tree.work / "own.sock")!r}))
os.symlink('own.sock', 'own.link')
attempt('own_through_link', lambda: connect('own.link'))
dgram = serve('own.dgram', socket.SOCK_DGRAM)
sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
attempt('own_datagram', lambda: sender.sendto(b'x', 'own.dgram'))
attempt('foreign', lambda: connect({str(foreign)!r}))
os.symlink({str(foreign)!r}, 'foreign.link')
attempt('foreign_through_link', lambda: connect('foreign.link'))
os.link({str(foreign)!r}, 'foreign.hard')
attempt('foreign_hard_link', lambda: connect('foreign.hard'))
os.rename({str(foreign)!r}, 'own.sock')  # the foreign socket's file over our own's path
attempt('foreign_renamed_over_own', lambda: connect('own.sock'))
pid = os.fork()
if pid == 0:
    second = serve('child.sock')
    os._exit(0)
os.waitpid(pid, 0)
attempt('bound_by_a_child_process', lambda: connect('child.sock'))
"""
    )
    out = run_supervised(payload, body, tree.env, cwd=tree.work)
    assert out.results == {
        "own": "ok",
        "own_absolute": "ok",
        "own_through_link": "ok",
        "own_datagram": 1,
        "foreign": "EACCES",
        "foreign_through_link": "EACCES",
        "foreign_hard_link": "EACCES",
        "foreign_renamed_over_own": "EACCES",
        # The child bound it and exited: the file is left, nobody listens (as without a
        # sandbox, bar the errno: nothing is bound there to be found as the sandbox's).
        "bound_by_a_child_process": "EACCES",
    }, (out.code, out.stdout, out.stderr)
    reasons = [(e.syscall, e.reason) for e in out.decisions() if e.syscall in ("bind", "connect")]
    assert reasons.count(("bind", "sandbox_socket")) == 3  # the forked child's bind too
    assert ("connect", "sandbox_socket") in reasons
    assert ("connect", "socket_not_granted") in reasons


def test_a_server_in_a_child_process_is_reachable_while_it_lives(tree: Tree) -> None:
    payload = compile_payload(f'allow "{tree.work}"', opens=False, sockets=True)
    body = (
        HELPERS
        + """
ready_r, ready_w = os.pipe()
pid = os.fork()
if pid == 0:
    server = serve('child.sock')
    os.write(ready_w, b'1')
    conn, _ = server.accept()
    conn.sendall(b'from the child')
    conn.close()
    os._exit(0)
os.read(ready_r, 1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.settimeout(5)
attempt('connect', lambda: c.connect('child.sock'))
attempt('reply', lambda: c.recv(32).decode())
os.waitpid(pid, 0)
"""
    )
    out = run_supervised(payload, body, tree.env, cwd=tree.work)
    assert out.results == {"connect": "ok", "reply": "from the child"}, (out.stdout, out.stderr)


def test_binding_an_already_bound_socket_records_nothing(tree: Tree, foreign: Path) -> None:
    """Only a socket without an address is recorded: a bound one passed in stays foreign."""
    records = bound.BoundSockets()
    import os

    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    assert records.record(os.getpid(), holder.fileno())  # unbound: the bind will name it
    already = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    already.bind(str(tree.work / "mine.sock"))
    assert not records.record(os.getpid(), already.fileno())
    inet = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert not records.record(os.getpid(), inet.fileno())
    socket_file = os.open(foreign, os.O_PATH)
    try:
        assert not records.holds(socket_file)
    finally:
        os.close(socket_file)
        for sock in (holder, already, inet):
            sock.close()
