"""The generated syscall tables: shape, widths that matter, agreement with libseccomp."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nonoc.backends.seccomp import tables

GENERATOR = Path(__file__).resolve().parents[3] / "backends" / "seccomp" / "generate.py"


@pytest.mark.parametrize(
    ("arch", "name", "nr", "widths"),
    [
        ("x86_64", "read", 0, (32, 64, 64)),
        ("x86_64", "socket", 41, (32, 32, 32)),
        ("x86_64", "ioctl", 16, (32, 32, 64)),  # the command is an unsigned int to the kernel
        ("x86_64", "clone", 56, (64, 64, 64, 64, 64)),
        ("x86_64", "chmod", 90, (64, 16)),
        ("x86_64", "personality", 135, (32,)),
        ("x86_64", "landlock_create_ruleset", 444, (64, 64, 32)),
        ("x86_64", "open_tree_attr", 467, (32, 64, 32, 64, 64)),
        ("aarch64", "socket", 198, (32, 32, 32)),
        ("aarch64", "ioctl", 29, (32, 32, 64)),
        ("aarch64", "clone", 220, (64, 64, 64, 64, 64)),
        ("aarch64", "landlock_restrict_self", 446, (32, 32)),
        ("aarch64", "file_setattr", 469, (32, 64, 64, 64, 32)),
    ],
)
def test_known_entries(arch: str, name: str, nr: int, widths: tuple[int, ...]) -> None:
    call = tables.load(arch).lookup(name)
    assert call is not None
    assert (call.nr, call.widths) == (nr, widths)


def test_tables_shape() -> None:
    x86, arm = tables.load("x86_64"), tables.load("aarch64")
    assert x86.audit_arch == 0xC000003E and arm.audit_arch == 0xC00000B7
    assert x86.x32_bit == 0x40000000 and arm.x32_bit is None
    assert "linux-libc-dev" in x86.source and "generate.py" in arm.source
    assert x86.lookup("open") is not None and arm.lookup("open") is None
    for table in (x86, arm):
        numbers = [call.nr for call in table.by_name.values()]
        assert len(numbers) == len(set(numbers)) > 300
        assert all(len(call.widths) <= 6 for call in table.by_name.values())
        assert all(w in (16, 32, 64) for call in table.by_name.values() for w in call.widths)
        assert max(numbers) < (table.x32_bit or 1 << 31)


def test_numbers_match_libseccomp() -> None:
    try:
        import pyseccomp
    except (ImportError, OSError, RuntimeError) as exc:  # pragma: no cover - machine-dependent
        pytest.skip(f"pyseccomp cannot load libseccomp: {exc}")
    arches = {"x86_64": pyseccomp.Arch.X86_64, "aarch64": pyseccomp.Arch.AARCH64}
    compared = 0
    for arch, target in arches.items():
        for call in tables.load(arch).by_name.values():
            theirs = pyseccomp.resolve_syscall(target, call.name)
            if theirs < 0:
                continue  # newer than this libseccomp
            assert theirs == call.nr, (arch, call.name)
            compared += 1
    assert compared > 600


def test_generator_reproduces_the_shipped_tables() -> None:
    if not Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").is_file():
        pytest.skip("linux-libc-dev headers are not installed on this machine")
    spec = importlib.util.spec_from_file_location("seccomp_generate", GENERATOR)
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    for arch in tables.ARCHES:
        shipped = (GENERATOR.parent / "tables" / f"{arch}.json").read_text()
        try:
            built = generate.render(generate.build(arch))
        except SystemExit as exc:  # missing cpp or headers for this arch
            pytest.skip(str(exc))
        if arch == "aarch64" and "arm64-cross" not in built and "arm64-cross" in shipped:
            pytest.skip("linux-libc-dev-arm64-cross is not installed; shipped table used it")
        assert built == shipped, f"tables/{arch}.json is stale: run backends/seccomp/generate.py"
