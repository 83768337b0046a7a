"""rights.json facts and the compat state machine (no kernel needed)."""

from __future__ import annotations

import pytest
from launch_helpers import table

from nonoc.launch import compat, rights

# The kernel's values (include/uapi/linux/landlock.h), written out independently of rights.json.
KERNEL_FS_BITS = {
    "EXECUTE": 0,
    "WRITE_FILE": 1,
    "READ_FILE": 2,
    "READ_DIR": 3,
    "REMOVE_DIR": 4,
    "REMOVE_FILE": 5,
    "MAKE_CHAR": 6,
    "MAKE_DIR": 7,
    "MAKE_REG": 8,
    "MAKE_SOCK": 9,
    "MAKE_FIFO": 10,
    "MAKE_BLOCK": 11,
    "MAKE_SYM": 12,
    "REFER": 13,
    "TRUNCATE": 14,
    "IOCTL_DEV": 15,
}


def test_fs_bits_match_the_kernel_header() -> None:
    assert {name: r.bit for name, r in rights.rights("fs").items()} == KERNEL_FS_BITS
    assert {name: r.bit for name, r in rights.rights("net").items()} == {
        "BIND_TCP": 0,
        "CONNECT_TCP": 1,
    }
    assert {name: r.bit for name, r in rights.rights("scope").items()} == {
        "ABSTRACT_UNIX_SOCKET": 0,
        "SIGNAL": 1,
    }


def test_abi_history() -> None:
    assert len(rights.names_at("fs", 1)) == 13
    assert rights.names_at("fs", 2)[-1] == "REFER"
    assert rights.names_at("fs", 3)[-1] == "TRUNCATE"
    assert rights.names_at("fs", 5)[-1] == "IOCTL_DEV"
    assert rights.names_at("net", 3) == [] and rights.names_at("net", 4) == [
        "BIND_TCP",
        "CONNECT_TCP",
    ]
    assert rights.names_at("scope", 5) == [] and rights.names_at("scope", 6) == [
        "ABSTRACT_UNIX_SOCKET",
        "SIGNAL",
    ]


def test_file_valid_rights() -> None:
    assert rights.file_valid(KERNEL_FS_BITS) == [
        "EXECUTE",
        "WRITE_FILE",
        "READ_FILE",
        "TRUNCATE",
        "IOCTL_DEV",
    ]


def test_lowering_of_policy_access() -> None:
    write = set(rights.lowering("write", "tree"))
    assert {
        "REFER",
        "REMOVE_FILE",
        "MAKE_REG",
        "MAKE_DIR",
        "REMOVE_DIR",
        "MAKE_SYM",
        "TRUNCATE",
        "WRITE_FILE",
    } <= write
    assert not write & {"READ_FILE", "READ_DIR", "EXECUTE", "MAKE_CHAR", "MAKE_BLOCK"}
    assert set(rights.lowering("execute", "file")) == {"EXECUTE", "READ_FILE"}
    for access in ("read", "write", "execute"):
        file_rights = rights.lowering(access, "file")
        assert rights.file_valid(file_rights) == rights.ordered("fs", file_rights)


def test_mask_and_unknown_names() -> None:
    assert rights.mask("fs", ["EXECUTE", "READ_FILE"]) == 0b101
    with pytest.raises(KeyError):
        rights.mask("fs", ["READ_EVERYTHING"])


def test_fully_enforced_when_the_kernel_knows_everything() -> None:
    report = compat.negotiate(table([]), 7)
    assert report.state == compat.FULLY and report.refusal is None and not report.lost
    assert report.handled_fs == tuple(rights.names_at("fs", 7))


def test_best_effort_masks_to_the_running_abi() -> None:
    report = compat.negotiate(table([]), 1)
    assert report.state == compat.PARTIALLY and report.refusal is None
    assert report.handled_fs == tuple(rights.names_at("fs", 1))
    assert report.handled_net == () and report.scopes == ()
    assert [str(r) for r in report.lost] == [
        "REFER (ABI 2)",
        "TRUNCATE (ABI 3)",
        "BIND_TCP (ABI 4)",
        "CONNECT_TCP (ABI 4)",
        "IOCTL_DEV (ABI 5)",
        "ABSTRACT_UNIX_SOCKET (ABI 6)",
        "SIGNAL (ABI 6)",
    ]
    assert any("EXDEV" in note for note in report.notes)
    assert report.keep("fs", ["READ_FILE", "TRUNCATE"]) == ["READ_FILE"]


def test_hard_requirement_refuses_what_it_would_lose() -> None:
    report = compat.negotiate(table([], compat="hard_requirement"), 5)
    assert report.refusal is not None
    assert "ABSTRACT_UNIX_SOCKET (ABI 6), SIGNAL (ABI 6)" in report.refusal
    # Nothing lost: a hard requirement is met even on an older kernel.
    unscoped = compat.negotiate(table([], compat="hard_requirement", scopes=[]), 5)
    assert unscoped.state == compat.FULLY and unscoped.refusal is None


def test_min_abi_and_no_landlock_refuse_whatever_compat_says() -> None:
    assert "at least ABI 4" in (compat.negotiate(table([], min_abi=4), 3).refusal or "")
    absent = compat.negotiate(table([]), 0)
    assert absent.state == compat.NOT
    assert absent.refusal == "this kernel has no Landlock; the bundle requires at least ABI 1"


def test_malformed_tables_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown right"):
        compat.negotiate({"handled_fs": ["NOPE"]}, 7)
    with pytest.raises(ValueError, match="compat"):
        compat.negotiate({"compat": "sometimes"}, 7)
