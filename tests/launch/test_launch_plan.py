"""Building the plan in-process (nothing is enforced) and the account ``--dry-run`` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from launch_helpers import READ_TREE, RW_TREE, deny, payload, rule, table, where

from nonoc.errors import NonoError
from nonoc.launch import plan as planning
from nonoc.launch import report


def build(
    landlock: dict, kernel_abi: int | None = None, provenance: dict | None = None
) -> planning.Plan:  # type: ignore[type-arg]
    return planning.build(
        landlock, provenance or {}, environ={"HOME": "/nonexistent-home"}, kernel_abi=kernel_abi
    )


def test_masked_rights_and_ports_are_reported_once_per_rule(kernel_abi: int, tree: Path) -> None:
    (tree / "rw" / "secret").mkdir()
    landlock = table(
        [rule("g0", tree / "rw", RW_TREE)],
        [deny("d0", tree / "rw" / "secret")],
        net=[{"id": "p0", "port": 443, "access": ["CONNECT_TCP"]}],
        runtime=False,
    )
    plan = build(landlock, kernel_abi=2, provenance={"g0": where("w.nono", 2)})
    try:
        assert plan.report.state == "partially enforced"
        assert [g.path for g in plan.grants] == [str(tree / "rw" / p) for p in ("file", "sub")]
        assert all("TRUNCATE" not in g.access for g in plan.grants)
        assert plan.masked == [("g0", str(tree / "rw"), ["IOCTL_DEV", "TRUNCATE"])]
        assert plan.ports == []
        text = report.render(plan, payload(landlock), "w.bundle", ["true"], "/usr/bin/true", None)
    finally:
        plan.close()
    assert f"  {tree}/rw <- g0: IOCTL_DEV TRUNCATE" in text
    assert "  port 443 <- p0: TCP rules need Landlock ABI 4" in text
    assert "handled net: none (TCP is not restricted by Landlock)" in text
    assert "seccomp: none" in text
    assert report.warnings(plan)[0].startswith(
        "Landlock is partially enforced: kernel ABI 2, bundle ABI 7"
    )


def test_fully_enforced_plan_has_no_warnings(kernel_abi: int, tree: Path) -> None:
    plan = build(table([rule("g0", tree / "ro", READ_TREE)], runtime=False))
    try:
        assert plan.report.state == "fully enforced" and report.warnings(plan) == []
        if kernel_abi >= 5:
            assert plan.handled_fs == (1 << 16) - 1  # all sixteen fs rights
        assert [g.fd >= 0 for g in plan.grants] == [True]
    finally:
        plan.close()
    assert [g.fd for g in plan.grants] == [-1]


@pytest.mark.parametrize(
    "bad",
    [
        {"net": [{"id": "p0", "port": 70000, "access": ["CONNECT_TCP"]}]},
        {"net": [{"id": "p0", "access": ["CONNECT_TCP"]}]},
        {"net": [{"id": "p0", "port": 1, "access": ["CONNECT_UDP"]}]},
        {"rules": "not a list"},
        {"deny_strategy": "maybe"},
        {"compat": "sometimes"},
    ],
)
def test_malformed_tables_exit_1(kernel_abi: int, bad: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(NonoError) as caught:
        build({**table([], runtime=False), **bad})
    assert caught.value.exit_code == 1
    assert "malformed Landlock table" in str(caught.value)
