"""``--net-private``'s two halves (``nonoc.runtime.run.netns``) without privilege.

``nono run``'s own live test (``tests/cli/test_run_proxy.py``) runs as this machine's root,
which takes the network-namespace-only branch. Here a child drops to uid 65534 first and
then calls ``netns.enter`` exactly as ``ProxyHook.in_child`` does, so the branch every
ordinary user takes — a user namespace mapping the user's own ids, then the network
namespace — is exercised too; the parent takes the listener with ``netns.receive`` and
gives it to a proxy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from nonoc.runtime.run import netns

CHILD = textwrap.dedent(r"""
    import base64, ctypes, errno, json, os, socket, sys
    from nonoc.runtime.run import netns
    "x".encode("idna")  # the codec create_connection needs, loaded while still readable
    fd, port, echo_port, token = map(str, sys.argv[1:5])
    channel = netns.Channel.__new__(netns.Channel)
    channel.child = socket.socket(fileno=int(fd))
    channel.parent = socket.socket()  # enter() closes the parent's end first: a stand-in
    if os.getuid() == 0:  # prove it needs no privilege
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE, cleared by setuid: /proc/self
    try:
        netns.enter(int(port), channel)
    except OSError as exc:
        print(json.dumps({"enter": str(exc)})); sys.exit(0)
    def attempt(address):
        s = socket.socket(); s.settimeout(3)
        try:
            s.connect(address); return "connected"
        except OSError as exc:
            return errno.errorcode.get(exc.errno, str(exc))
        finally:
            s.close()
    result = {"uid": os.getuid(), "uid_map": open("/proc/self/uid_map").read().split()}
    result["direct"] = attempt(("127.0.0.1", int(echo_port)))
    result["outside"] = attempt(("192.0.2.1", int(port)))
    auth = base64.b64encode(f"nono:{token}".encode()).decode()
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    s.sendall(f"CONNECT echo.test:{echo_port} HTTP/1.1\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += s.recv(1)
    s.sendall(b"inside")
    result["status"] = head.split()[1].decode()
    result["echo"] = s.recv(6).decode()
    print(json.dumps(result))
""")


@pytest.mark.kernel
def test_an_unprivileged_child_hands_its_namespace_listener_to_the_proxy(
    make_proxy, echo_tcp
) -> None:
    proxy = make_proxy()
    channel = netns.Channel()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(channel.child.fileno()), str(proxy.port),
         str(echo_tcp.port), proxy.token],
        pass_fds=[channel.child.fileno()], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        listener = netns.receive(channel, lambda: process.poll() is None, timeout=10)
        if listener is None:
            out, err = process.communicate(timeout=10)
            reason = json.loads(out).get("enter") if out.strip() else err.strip()[-300:]
            pytest.skip(f"cannot create an unprivileged user+network namespace here: {reason}")
        proxy.server.adopt_listener(listener)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    result = json.loads(out)
    if os.getuid() == 0:
        assert result["uid"] == 65534
        assert result["uid_map"] == ["65534", "65534", "1"]  # its own id, no fake root
    assert result["direct"] == "ECONNREFUSED"  # the host's loopback services are not there
    assert result["outside"] == "ENETUNREACH"  # nor is any other address
    assert (result["status"], result["echo"]) == ("200", "inside")
    assert proxy.last().host == "echo.test" and proxy.last().allowed


def test_receive_gives_up_when_the_child_dies_without_a_listener() -> None:
    channel = netns.Channel()
    channel.child.close()  # as a child that failed and exited would
    assert netns.receive(channel, lambda: False, timeout=2) is None
