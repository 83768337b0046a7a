"""``apply()`` in a real child process, and the kernel's answers afterwards.

Each test starts a fresh Python (``python -c``) that builds a ``CapabilitySet`` (or loads a
bundle), calls ``apply``, then tries file and socket operations and prints, for each, ``OK``
or the errno name the kernel answered. Nothing about the kernel is mocked.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from nonoc import AccessMode, CapabilitySet
from nonoc.launch import landlock

pytestmark = pytest.mark.kernel

PRELUDE = """\
import errno, json, os, socket, subprocess, sys, threading
from nonoc import AccessMode, CapabilitySet, apply, load_bundle
from nonoc.errors import SandboxError

results = {}

def attempt(name, action):
    try:
        action()
        results[name] = "OK"
    except OSError as exc:
        results[name] = errno.errorcode.get(exc.errno, str(exc.errno))

def read(path):
    with open(path) as handle:
        handle.read()

def write(path):
    with open(path, "w") as handle:
        handle.write("x")

def connect(port, family=socket.AF_INET, kind=socket.SOCK_STREAM):
    with socket.socket(family, kind) as sock:
        sock.settimeout(5)
        sock.connect(("127.0.0.1", port))
"""


@pytest.fixture(autouse=True)
def needs_landlock() -> None:
    if landlock.abi_version() < 1:
        pytest.skip("this kernel has no Landlock")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """ro/ (a file), rw/ (a file), none/ (a file): the same layout for every test."""
    for name in ("ro", "rw", "none"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text(name)
    return tmp_path


def run_child(body: str, cwd: Path) -> dict[str, str]:
    """Run PRELUDE + ``body`` in a fresh interpreter; return the results it printed."""
    code = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(results))\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def listeners() -> Iterator[tuple[int, int]]:
    """Two TCP listeners on 127.0.0.1 (ports chosen by the kernel)."""
    sockets = []
    for _ in range(2):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        sockets.append(server)
    try:
        yield sockets[0].getsockname()[1], sockets[1].getsockname()[1]
    finally:
        for server in sockets:
            server.close()


def test_granted_paths_work_and_the_rest_is_refused(tree: Path) -> None:
    results = run_child(
        f"""
        caps = CapabilitySet().allow_path({str(tree / "ro")!r}, AccessMode.READ)
        caps.allow_path({str(tree / "rw")!r}, AccessMode.READ_WRITE)
        applied = apply(caps)
        results["state"] = applied.state
        attempt("read ro", lambda: read({str(tree / "ro" / "file")!r}))
        attempt("write ro", lambda: write({str(tree / "ro" / "file")!r}))
        attempt("read rw", lambda: read({str(tree / "rw" / "file")!r}))
        attempt("create rw", lambda: write({str(tree / "rw" / "new")!r}))
        attempt("read none", lambda: read({str(tree / "none" / "file")!r}))
        attempt("list none", lambda: os.listdir({str(tree / "none")!r}))
        attempt("read passwd", lambda: read("/etc/passwd"))
        """,
        tree,
    )
    assert results == {
        "state": "fully enforced",
        "read ro": "OK",
        "write ro": "EACCES",
        "read rw": "OK",
        "create rw": "OK",
        "read none": "EACCES",
        "list none": "EACCES",
        "read passwd": "EACCES",
    }


def test_children_inherit_the_sandbox(tree: Path) -> None:
    results = run_child(
        f"""
        caps = CapabilitySet().use_group("system").allow_path({str(tree / "ro")!r}, AccessMode.READ)
        apply(caps)
        for name in ("ro", "none"):
            code = subprocess.run(["cat", {str(tree)!r} + "/" + name + "/file"],
                                  capture_output=True).returncode
            results["cat " + name] = "OK" if code == 0 else "exit %d" % code
        """,
        tree,
    )
    assert results == {"cat ro": "OK", "cat none": "exit 1"}


def test_blocked_network_refuses_tcp_and_udp_keeps_unix(
    tree: Path, listeners: tuple[int, int]
) -> None:
    port, _ = listeners
    results = run_child(
        f"""
        apply(CapabilitySet().block_network())
        attempt("tcp", lambda: connect({port}))
        attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close())
        attempt("unix", lambda: socket.socketpair(socket.AF_UNIX).__getitem__(0).close())
        """,
        tree,
    )
    assert results["tcp"] in ("EPERM", "EACCES")
    assert results["udp"] == "EPERM"
    assert results["unix"] == "OK"


def test_allowed_port_only(tree: Path, listeners: tuple[int, int]) -> None:
    allowed, other = listeners
    results = run_child(
        f"""
        apply(CapabilitySet().allow_port({allowed}))
        attempt("allowed", lambda: connect({allowed}))
        attempt("other", lambda: connect({other}))
        attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close())
        """,
        tree,
    )
    assert results == {"allowed": "OK", "other": "EACCES", "udp": "EPERM"}


def test_a_loaded_bundle_applies_and_sandboxes_stack(tree: Path) -> None:
    narrow = tree / "narrow.bundle"
    wide = tree / "wide.bundle"
    narrow.write_bytes(CapabilitySet().allow_path(tree / "ro", AccessMode.READ).compile().data)
    both = (
        CapabilitySet()
        .allow_path(tree / "ro", AccessMode.READ)
        .allow_path(tree / "none", AccessMode.READ)
    )
    wide.write_bytes(both.compile().data)
    results = run_child(
        f"""
        narrow = load_bundle({str(narrow)!r})
        wide = load_bundle({str(wide)!r})
        results["grants"] = str(len(narrow.grants))
        narrow.apply()
        heavy = [m for m in ("lark", "pydantic", "jinja2") if m in sys.modules]
        results["heavy"] = ",".join(heavy) or "none"
        attempt("none after narrow", lambda: read({str(tree / "none" / "file")!r}))
        wide.apply()  # a second sandbox narrows further, never widens
        attempt("none after wide", lambda: read({str(tree / "none" / "file")!r}))
        attempt("ro", lambda: read({str(tree / "ro" / "file")!r}))
        """,
        tree,
    )
    assert results == {
        "grants": "1",
        "heavy": "none",  # loading and applying a bundle never imports the compiler
        "none after narrow": "EACCES",
        "none after wide": "EACCES",
        "ro": "OK",
    }


def test_a_threaded_process_is_refused_before_anything_is_applied(tree: Path) -> None:
    results = run_child(
        f"""
        stop = threading.Event()
        worker = threading.Thread(target=stop.wait)
        worker.start()
        try:
            apply(CapabilitySet().allow_path({str(tree / "ro")!r}, AccessMode.READ))
            results["apply"] = "applied"
        except SandboxError as exc:
            results["apply"] = exc.diagnostic.message
        stop.set()
        worker.join()
        attempt("read none", lambda: read({str(tree / "none" / "file")!r}))
        """,
        tree,
    )
    assert results["apply"].startswith("cannot sandbox a process with 2 threads")
    assert results["read none"] == "OK"


def test_an_older_kernel_abi_is_reported(tree: Path) -> None:
    results = run_child(
        f"""
        applied = apply(CapabilitySet().allow_path({str(tree / "ro")!r}, AccessMode.READ), kernel_abi=1)
        results["state"] = applied.state
        results["abi"] = str(applied.kernel_abi)
        results["warned"] = str(bool(applied.warnings))
        attempt("read none", lambda: read({str(tree / "none" / "file")!r}))
        """,
        tree,
    )
    assert results["abi"] == "1" and results["read none"] == "EACCES"
    assert results["state"] in ("partially enforced", "fully enforced")


def test_capability_set_objects_are_plain_values() -> None:
    caps = CapabilitySet().allow_path("/srv", AccessMode.READ)
    assert "read" in repr(caps) and "/srv" in repr(caps)
