"""The probe: a small Python program run inside a sandbox that reports the kernel's answers.

It takes a JSON list of operations (``["read", PATH]``, ``["connect", PORT]``…) as its
argument, performs each, and prints one JSON list: ``OK`` or the errno name the kernel
answered (``env`` answers the variable's value). It exits with ``$PROBE_EXIT`` (default 0).
Run it on ``PYTHON`` with ``-I -S`` so that it reads nothing outside the interpreter's prefix.
"""

from __future__ import annotations

import os
import sys

#: The interpreter the probe runs on: the real binary (not the venv's symlink), started
#: with -I -S so that it reads nothing outside its own prefix.
PYTHON = os.path.realpath(sys.executable)
PYTHON_PREFIX = os.path.realpath(sys.base_prefix)

PROBE = r"""
import errno, json, os, socket, sys

def attempt(op, *args):
    try:
        if op == "read":
            with open(args[0], "rb") as handle:
                handle.read(1)
        elif op == "list":
            os.listdir(args[0])
        elif op == "write":
            fd = os.open(args[0], os.O_WRONLY)
            os.write(fd, b"x")
            os.close(fd)
        elif op == "create":
            os.close(os.open(args[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        elif op == "mkdir":
            os.mkdir(args[0])
        elif op == "delete":
            os.unlink(args[0])
        elif op == "rmdir":
            os.rmdir(args[0])
        elif op == "rename":
            os.rename(args[0], args[1])
        elif op == "truncate":
            os.truncate(args[0], 0)
        elif op == "symlink":
            os.symlink(args[0], args[1])
        elif op == "exec":
            pid = os.posix_spawn(args[0], [args[0]], {})
            os.waitpid(pid, 0)
        elif op == "connect":
            with socket.create_connection(("127.0.0.1", int(args[0])), timeout=2):
                pass
        elif op == "bind":
            with socket.socket() as s:
                s.bind(("127.0.0.1", int(args[0])))
        elif op == "kill":
            os.kill(int(args[0]), 0)
        elif op == "udp":
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()
        elif op == "env":
            return os.environ.get(args[0], "<unset>")
        else:
            return "unknown op " + op
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "OK"

ops = json.loads(sys.argv[1])
print(json.dumps([attempt(*op) for op in ops]))
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
"""
