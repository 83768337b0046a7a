"""Live: with ``protect metadata``, metadata changes outside the writable grants fail with EPERM."""

from __future__ import annotations

import os

import pytest
from supervisor_helpers import Tree, compile_payload, run_supervised

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("kernel")]

CHANGES = """
def changes(prefix, path):
    attempt(prefix + 'chmod', lambda: os.chmod(path, 0o600))
    attempt(prefix + 'chown', lambda: os.chown(path, os.getuid(), os.getgid()))
    attempt(prefix + 'utime', lambda: os.utime(path, (1, 2)))
    attempt(prefix + 'utime_now', lambda: os.utime(path))
    attempt(prefix + 'setxattr', lambda: os.setxattr(path, 'user.nono', b'1'))
    attempt(prefix + 'removexattr', lambda: os.removexattr(path, 'user.nono'))
    fd = os.open(path, os.O_RDONLY)
    attempt(prefix + 'fchmod', lambda: os.fchmod(fd, 0o640))
    attempt(prefix + 'fchown', lambda: os.fchown(fd, os.getuid(), os.getgid()))
    attempt(prefix + 'futimens', lambda: os.utime(fd, (3, 4)))
    attempt(prefix + 'fsetxattr', lambda: os.setxattr(fd, 'user.nono', b'2'))
    os.close(fd)
"""


def test_metadata_changes_follow_the_writable_grants(tree: Tree) -> None:
    readonly = tree.root / "readonly"
    readonly.mkdir()
    (readonly / "file").write_text("r")
    target = tree.work / "inside.txt"
    payload = compile_payload(
        f'allow "{tree.work}"\nread "{readonly}"\nprotect metadata', opens=False
    )
    body = (
        CHANGES
        + f"""
changes('w_', {str(target)!r})
changes('r_', {str(readonly / "file")!r})
attempt('pipe', lambda: os.fchmod(os.pipe()[0], 0o600))
os.symlink({str(readonly / "file")!r}, {str(tree.work / "link")!r})
attempt('through_link', lambda: os.chmod({str(tree.work / "link")!r}, 0o777))
"""
    )
    out = run_supervised(payload, body, tree.env)
    names = [
        "chmod",
        "chown",
        "utime",
        "utime_now",
        "setxattr",
        "removexattr",
        "fchmod",
        "fchown",
        "futimens",
        "fsetxattr",
    ]
    assert {f"w_{n}": "ok" for n in names}.items() <= out.results.items(), out.results
    assert {f"r_{n}": "EPERM" for n in names}.items() <= out.results.items(), out.results
    assert out.results["pipe"] == "ok" and out.results["through_link"] == "EPERM"
    info = os.stat(target)
    assert (info.st_mode & 0o777, info.st_atime, info.st_mtime) == (0o640, 3, 4)
    assert os.getxattr(target, "user.nono") == b"2"
    untouched = os.stat(readonly / "file")
    assert untouched.st_mode & 0o777 == 0o644 and untouched.st_mtime > 1000
    reasons = {e.reason for e in out.decisions()}
    assert reasons == {"writable", "not_writable", "not_a_path"}


def test_without_protect_metadata_nothing_is_mediated(tree: Tree) -> None:
    readonly = tree.root / "readonly"
    readonly.mkdir()
    (readonly / "file").write_text("r")
    payload = compile_payload(f'read "{readonly}"', opens=False, sockets=False)
    out = run_supervised(
        payload, f"attempt('chmod', lambda: os.chmod({str(readonly / 'file')!r}, 0o600))", tree.env
    )
    # Landlock does not mediate metadata: the change goes through. This is the hole.
    assert out.results == {"chmod": "ok"}
    assert os.stat(readonly / "file").st_mode & 0o777 == 0o600


def test_denied_paths_keep_their_metadata(tree: Tree) -> None:
    payload = compile_payload(f'allow "{tree.home}"\nprotect metadata', opens=False)
    out = run_supervised(
        payload, f"attempt('chmod', lambda: os.chmod({str(tree.secret)!r}, 0o644))", tree.env
    )
    assert out.results == {"chmod": "EPERM"}
    assert out.decisions("never_grantable")
