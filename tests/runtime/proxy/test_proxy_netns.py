"""The stricter mode: a child in a private network namespace reaches only the proxy.

The child (unprivileged: it drops to nobody first when the tests run as root) creates a user
and network namespace, brings its loopback up, listens on 127.0.0.1 at the proxy's port
number *inside* the namespace and passes that listening socket to the parent over a unix
socket; the parent's proxy serves on it with ``adopt_listener``. The child then has no
route anywhere but its own loopback, where only the proxy answers.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(r"""
    import base64, ctypes, errno, fcntl, json, os, socket, struct, sys  # all before setuid
    "x".encode("idna")  # loads the codec create_connection needs, while still readable
    channel = socket.socket(fileno=int(sys.argv[1]))
    proxy_port, echo_port, token = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    libc = ctypes.CDLL(None, use_errno=True)
    if os.getuid() == 0:  # prove it needs no privilege: become nobody first
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: a uid change cleared it (/proc/self)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
        print(json.dumps({"unshare": errno.errorcode[ctypes.get_errno()]})); sys.exit(0)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(text)
    with socket.socket() as s:  # ifconfig lo up (SIOCSIFFLAGS; IFF_UP | IFF_RUNNING)
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", 0x1 | 0x40))
    listener = socket.socket()
    listener.bind(("127.0.0.1", proxy_port))
    listener.listen(16)
    socket.send_fds(channel, [b"L"], [listener.fileno()])
    listener.close()
    assert channel.recv(1) == b"R"
    result = {"uid": uid}
    def attempt(address):
        s = socket.socket(); s.settimeout(3)
        try:
            s.connect(address); return "connected"
        except OSError as exc:
            return errno.errorcode.get(exc.errno, str(exc))
        finally:
            s.close()
    result["direct_echo"] = attempt(("127.0.0.1", echo_port))
    result["outside"] = attempt(("192.0.2.1", 443))
    try:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x", ("192.0.2.1", 53))
        result["udp"] = "sent"
    except OSError as exc:
        result["udp"] = errno.errorcode.get(exc.errno, str(exc))
    auth = base64.b64encode(f"nono:{token}".encode()).decode()
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    s.sendall(f"CONNECT echo.test:{echo_port} HTTP/1.1\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += s.recv(1)
    s.sendall(b"through the namespace")
    result["proxy_status"] = head.split()[1].decode()
    result["echo"] = s.recv(100).decode()
    print(json.dumps(result))
""")


@pytest.mark.kernel
def test_private_network_namespace_reaches_only_the_proxy(make_proxy, echo_tcp) -> None:
    proxy = make_proxy()
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    parent.settimeout(10)
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(child.fileno()),
            str(proxy.port),
            str(echo_tcp.port),
            proxy.token,
        ],
        pass_fds=[child.fileno()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.close()
    try:
        try:
            _msg, fds, _flags, _addr = socket.recv_fds(parent, 1, 1)
        except (OSError, TimeoutError):
            fds = []
        if not fds:
            out, err = process.communicate(timeout=10)
            reason = json.loads(out).get("unshare") if out.strip() else err.strip()[-300:]
            pytest.skip(f"cannot create an unprivileged user+network namespace here: {reason}")
        listener = socket.socket(fileno=fds[0])
        proxy.server.adopt_listener(listener)
        parent.sendall(b"R")
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        parent.close()
    assert process.returncode == 0, err
    result = json.loads(out)
    if os.getuid() == 0:
        assert result["uid"] == 65534  # the namespace was made without privilege
    assert result["direct_echo"] == "ECONNREFUSED"  # host's loopback services are not there
    assert result["outside"] == "ENETUNREACH"
    assert result["udp"] == "ENETUNREACH"
    assert result["proxy_status"] == "200"
    assert result["echo"] == "through the namespace"
    event = proxy.last()
    assert event.kind == "connect" and event.allowed and event.host == "echo.test"
