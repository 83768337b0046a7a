"""Live: connect/sendto/sendmsg to pathname unix sockets go through the supervisor's grants."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest
from supervisor_helpers import Tree, compile_payload, run_supervised

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]


class Server:
    """A unix stream server answering each connection with its tag."""

    def __init__(self, path: Path, tag: bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.sock.settimeout(10)
        self.tag = tag
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.sendall(self.tag)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def servers(tree: Tree) -> Iterator[tuple[Path, Path]]:
    granted, other = tree.outside / "granted.sock", tree.outside / "docker.sock"
    running = [Server(granted, b"GRANTED"), Server(other, b"ROOT")]
    yield granted, other
    for server in running:
        server.close()


CONNECT = """
def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    return s.recv(16).decode()
"""


def test_granted_socket_works_and_others_are_refused(
    tree: Tree, servers: tuple[Path, Path]
) -> None:
    granted, other = servers
    (tree.work / "link.sock").symlink_to(other)
    payload = compile_payload(
        f'allow "{tree.work}"\nunix_socket "{granted}"', opens=False, sockets=True
    )
    body = CONNECT + dedent(f"""
    attempt('granted', lambda: connect({str(granted)!r}))
    attempt('other', lambda: connect({str(other)!r}))
    attempt('through_link', lambda: connect('link.sock'))
    attempt('missing', lambda: connect({str(tree.outside / "none.sock")!r}))
    attempt('not_a_socket', lambda: connect({str(tree.outside / "notes.txt")!r}))
    """)
    out = run_supervised(payload, body, tree.env, cwd=tree.work)
    assert out.results == {
        "granted": "GRANTED",
        "other": "EACCES",
        "through_link": "EACCES",
        "missing": "ENOENT",
        "not_a_socket": "ECONNREFUSED",
    }, (out.code, out.stdout, out.stderr)
    assert [e.reason for e in out.decisions() if e.syscall == "connect"] == [
        "socket_granted",
        "socket_not_granted",
        "socket_not_granted",
        "walk_error",
        "walk_error",
    ]


def test_without_mediation_the_kernel_lets_it_through(
    tree: Tree, servers: tuple[Path, Path]
) -> None:
    """The control: the same connect succeeds when nothing mediates sockets (Landlock ABI < 9)."""
    _, other = servers
    payload = compile_payload(f'allow "{tree.work}"', opens=False, sockets=False, metadata=False)
    out = run_supervised(
        payload, CONNECT + f"attempt('other', lambda: connect({str(other)!r}))", tree.env
    )
    assert out.results == {"other": "ROOT"}


def test_datagrams_by_path_are_mediated(tree: Tree) -> None:
    granted, other = tree.outside / "granted.dgram", tree.outside / "log.dgram"
    receivers = []
    for path in (granted, other):
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        receiver.bind(str(path))
        receiver.settimeout(5)
        receivers.append(receiver)
    payload = compile_payload(f'unix_socket "{granted}"', opens=False, sockets=True)
    body = f"""
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    attempt('sendto_granted', lambda: d.sendto(b'one', {str(granted)!r}))
    attempt('sendto_other', lambda: d.sendto(b'two', {str(other)!r}))
    attempt('sendmsg_granted', lambda: d.sendmsg([b'thr', b'ee'], [], 0, {str(granted)!r}))
    attempt('sendmsg_other', lambda: d.sendmsg([b'four'], [], 0, {str(other)!r}))
    """
    try:
        out = run_supervised(payload, body, tree.env)
        assert out.results == {
            "sendto_granted": 3,
            "sendto_other": "EACCES",
            "sendmsg_granted": 5,
            "sendmsg_other": "EACCES",
        }
        assert receivers[0].recv(16) == b"one" and receivers[0].recv(16) == b"three"
        receivers[1].setblocking(False)
        with pytest.raises(BlockingIOError):
            receivers[1].recv(16)
    finally:
        for receiver in receivers:
            receiver.close()


def test_descriptor_passing_and_plain_traffic_still_work(tree: Tree) -> None:
    payload = compile_payload("", opens=False, sockets=True)
    body = """
    import array
    a, b = socket.socketpair()
    r, w = os.pipe()
    os.write(w, b'through')
    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [r]))]
    attempt('sendmsg', lambda: a.sendmsg([b'fd'], rights))
    msg, ancillary, _, _ = b.recvmsg(8, socket.CMSG_LEN(4))
    passed = array.array('i', ancillary[0][2])[0]
    results['received'] = os.read(passed, 16).decode()
    x, y = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    def mmsg():
        libc = ctypes.CDLL(None, use_errno=True)
        class IoVec(ctypes.Structure):
            _fields_ = [('base', ctypes.c_char_p), ('len', ctypes.c_size_t)]
        class MsgHdr(ctypes.Structure):
            _fields_ = [
                ('name', ctypes.c_void_p), ('namelen', ctypes.c_uint),
                ('iov', ctypes.POINTER(IoVec)), ('iovlen', ctypes.c_size_t),
                ('control', ctypes.c_void_p), ('controllen', ctypes.c_size_t),
                ('flags', ctypes.c_int),
            ]
        class MMsgHdr(ctypes.Structure):
            _fields_ = [('hdr', MsgHdr), ('len', ctypes.c_uint)]
        vectors = [IoVec(b'first', 5), IoVec(b'second!', 7)]
        messages = (MMsgHdr * 2)()
        for i in range(2):
            messages[i].hdr.iov = ctypes.pointer(vectors[i])
            messages[i].hdr.iovlen = 1
        sent = libc.sendmmsg(x.fileno(), messages, 2, 0)
        return [sent, messages[0].len, messages[1].len, y.recv(16).decode(), y.recv(16).decode()]
    attempt('sendmmsg', mmsg)
    """
    out = run_supervised(payload, body, tree.env)
    assert out.results == {
        "sendmsg": 2,
        "received": "through",
        "sendmmsg": [2, 5, 7, "first", "second!"],
    }, out.stderr


def test_tcp_connects_keep_the_sandbox_port_rules(tree: Tree) -> None:
    """The supervisor connects inet sockets from threads carrying the sandbox's TCP rules."""
    from nonoc.launch import landlock

    if landlock.abi_version() < 4:
        pytest.skip("Landlock TCP rules need ABI 4")
    allowed, refused = (
        socket.create_server(("127.0.0.1", 0)),
        socket.create_server(("127.0.0.1", 0)),
    )
    try:
        payload = compile_payload(
            f"network proxy\nport connect {allowed.getsockname()[1]}", opens=False, sockets=True
        )
        body = f"""
        def tcp(port):
            s = socket.create_connection(('127.0.0.1', port), timeout=5)
            s.close()
        attempt('allowed', lambda: tcp({allowed.getsockname()[1]}))
        attempt('refused', lambda: tcp({refused.getsockname()[1]}))
        """
        out = run_supervised(payload, body, tree.env)
        assert out.results == {"allowed": "ok", "refused": "EACCES"}, out.stderr
        assert {e.reason for e in out.decisions() if e.syscall == "connect"} == {"not_unix"}
    finally:
        allowed.close()
        refused.close()


def test_abstract_names_follow_the_scope(tree: Tree) -> None:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(b"\0nono-supervisor-test")
    server.listen(1)
    try:
        body = """
        def abstract():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(b'\\0nono-supervisor-test')
        attempt('abstract', abstract)
        """
        scoped = run_supervised(compile_payload("", opens=False, sockets=True), body, tree.env)
        assert scoped.results == {"abstract": "EACCES"}
        assert scoped.decisions("abstract_scoped")
        open_scope = run_supervised(
            compile_payload("scope abstract_unix off", opens=False, sockets=True), body, tree.env
        )
        assert open_scope.results == {"abstract": "ok"}
    finally:
        server.close()


def test_a_blocking_send_larger_than_the_buffer_is_sent_whole(tree: Tree) -> None:
    payload = compile_payload("", opens=False, sockets=True)
    body = """
    import threading
    a, b = socket.socketpair()
    data = bytes(range(256)) * (3 << 12)  # 3 MiB: far more than a socket buffer holds
    got = bytearray()
    def drain():
        while len(got) < len(data):
            got.extend(b.recv(1 << 16))
    reader = threading.Thread(target=drain)
    reader.start()
    attempt('sendmsg', lambda: a.sendmsg([data]))
    reader.join()
    results['intact'] = bytes(got) == data
    b.close()
    attempt('closed_peer', lambda: a.sendmsg([b'x']))
    """
    out = run_supervised(payload, body, tree.env)
    assert out.results == {"sendmsg": 3 << 20, "intact": True, "closed_peer": "EPIPE"}, out.stderr


def test_calls_from_a_thread_other_than_the_leader(tree: Tree, servers: tuple[Path, Path]) -> None:
    granted, other = servers
    payload = compile_payload(
        f'unix_socket "{granted}"\nprotect metadata\nallow "{tree.work}"', opens=False, sockets=True
    )
    body = CONNECT + dedent(f"""
    import threading
    def worker():
        attempt('granted', lambda: connect({str(granted)!r}))
        attempt('other', lambda: connect({str(other)!r}))
        attempt('fchmod', lambda: os.fchmod(os.open({str(tree.work / "inside.txt")!r}, 0), 0o600))
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    """)
    out = run_supervised(payload, body, tree.env)
    assert out.results == {"granted": "GRANTED", "other": "EACCES", "fchmod": "ok"}, out.stderr
