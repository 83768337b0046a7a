#!/usr/bin/env python3
"""Generate nono's syscall tables (``tables/<arch>.json``) from this machine's kernel headers.

Numbers come from the kernel's UAPI headers as packaged by Debian:

* x86_64: ``/usr/include/x86_64-linux-gnu/asm/unistd_64.h`` (``linux-libc-dev``);
* aarch64: ``asm/unistd.h`` of ``linux-libc-dev-arm64-cross`` run through ``cpp``, or, without
  that package, the generic ``asm-generic/unistd.h`` with arm64's ``__ARCH_WANT_*`` switches;

plus ``newer_syscalls.txt`` for numbers allocated after those headers. Argument widths come
from ``prototypes.txt`` (the kernel's own argument types) through ``WIDTHS`` below: the kernel
reads an ``int`` argument from the low 32 bits of its register, so a filter must too.

Run ``python3 backends/seccomp/generate.py`` after a header update; the output is
deterministic (sorted, no timestamps), so an unchanged machine gives an unchanged diff.
Standard library only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT_DIR = HERE / "tables"

X86_64_HEADER = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
ARM64_CROSS_INCLUDE = Path("/usr/aarch64-linux-gnu/include")
GENERIC_HEADER = Path("/usr/include/asm-generic/unistd.h")
#: arch/arm64/include/uapi/asm/unistd.h switches, used only without the cross headers.
ARM64_WANTS = (
    "__ARCH_WANT_RENAMEAT",
    "__ARCH_WANT_NEW_STAT",
    "__ARCH_WANT_SET_GET_RLIMIT",
    "__ARCH_WANT_TIME32_SYSCALLS",
    "__ARCH_WANT_SYS_CLONE3",
    "__ARCH_WANT_MEMFD_SECRET",
)

#: AUDIT_ARCH_* values (linux/audit.h): the machine type plus the 64-bit and little-endian flags.
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: x86_64's x32 ABI sets this bit in the syscall number (asm/unistd.h: __X32_SYSCALL_BIT).
X32_SYSCALL_BIT = 0x40000000

#: Kernel argument type -> the number of low bits the kernel reads from the register.
WIDTHS: dict[str, int] = {
    # umode_t is an unsigned short: SYSCALL_DEFINE's cast keeps 16 bits.
    "umode_t": 16,
    **dict.fromkeys(
        (
            "int",
            "unsigned int",
            "u32",
            "__s32",
            "uid_t",
            "gid_t",
            "pid_t",
            "clockid_t",
            "timer_t",
            "mqd_t",
            "key_t",
            "key_serial_t",
            "qid_t",
            "rwf_t",
        ),
        32,
    ),
    **dict.fromkeys(
        (
            "long",
            "unsigned long",
            "size_t",
            "loff_t",
            "off_t",
            "u64",
            "aio_context_t",
            "cap_user_header_t",
            "cap_user_data_t",
        ),
        64,
    ),
}

#: Names in a header that are markers, not system calls.
NOT_SYSCALLS = {"syscalls", "arch_specific_syscall"}


def width_of(ctype: str) -> int:
    """Bits of the register the kernel reads for an argument of C type ``ctype``."""
    text = " ".join(ctype.replace("const ", " ").split())
    if "*" in text:
        return 64
    if text.startswith("enum "):
        return 32
    if text not in WIDTHS:
        raise SystemExit(f"generate.py: no width for kernel type {ctype!r}; add it to WIDTHS")
    return WIDTHS[text]


def parse_prototypes(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{name: {"*": types, "aarch64": types, ...}}`` from ``prototypes.txt``."""
    line_re = re.compile(r"^(\w+)(?:@(\w+))?\((.*)\)$")
    table: dict[str, dict[str, list[str]]] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = line_re.match(line)
        if not match:
            raise SystemExit(f"{path}:{number}: cannot read prototype {raw!r}")
        name, arch, args = match.groups()
        types = [part.strip() for part in args.split(",")] if args.strip() else []
        if len(types) > 6:
            raise SystemExit(f"{path}:{number}: {name} has more than six arguments")
        table.setdefault(name, {})[arch or "*"] = types
    return table


def parse_defines(text: str) -> dict[str, str]:
    """Every ``#define __NR_x value`` in ``text`` (value unevaluated)."""
    return dict(re.findall(r"^#define __NR(\w+)\s+(\S+)\s*$", text, re.MULTILINE))


def resolve_numbers(defines: dict[str, str]) -> dict[str, int]:
    """Evaluate ``__NR_x`` macros that are numbers or aliases of other ``__NR`` macros."""
    numbers: dict[str, int] = {}
    for key, first in defines.items():
        value, seen = first, {key}
        while value.startswith("__NR"):
            alias = value[len("__NR") :]
            if alias in seen or alias not in defines:
                break
            seen.add(alias)
            value = defines[alias]
        if re.fullmatch(r"\d+", value) and key.startswith("_"):
            name = key[1:]
            if not name.startswith("3264_") and name not in NOT_SYSCALLS:
                numbers[name] = int(value)
    return numbers


def x86_64_numbers() -> tuple[dict[str, int], str, str]:
    """x86_64 numbers, the header they came from, and its Debian package."""
    if not X86_64_HEADER.is_file():
        raise SystemExit(f"generate.py: {X86_64_HEADER} is missing; install linux-libc-dev")
    numbers = resolve_numbers(parse_defines(X86_64_HEADER.read_text()))
    return numbers, str(X86_64_HEADER), "linux-libc-dev"


def aarch64_numbers() -> tuple[dict[str, int], str, str]:
    """aarch64 numbers, preprocessed the way an arm64 build of the headers would see them."""
    cpp = shutil.which("cpp")
    if cpp is None:
        raise SystemExit("generate.py: cpp is needed to read asm-generic/unistd.h")
    cross = ARM64_CROSS_INCLUDE / "asm" / "unistd.h"
    if cross.is_file():
        args = ["-nostdinc", "-I", str(ARM64_CROSS_INCLUDE), "-I", "/usr/include", "-D__aarch64__"]
        source, package = f"{cross} (cpp)", "linux-libc-dev-arm64-cross"
    else:
        # The host's own asm/bitsperlong.h answers 64 on a 64-bit build machine.
        args = [*(f"-D{want}" for want in ARM64_WANTS)]
        source = f"{GENERIC_HEADER} (cpp, arm64 __ARCH_WANT_* switches)"
        package = "linux-libc-dev"
    header = "asm/unistd.h" if cross.is_file() else "asm-generic/unistd.h"
    result = subprocess.run(
        [cpp, "-P", "-dM", *args, "-"],
        input=f"#include <{header}>\n",
        capture_output=True,
        text=True,
        check=True,
    )
    return resolve_numbers(parse_defines(result.stdout)), source, package


def add_newer(numbers: dict[str, int], arch: str, path: Path) -> list[str]:
    """Add the numbers of ``newer_syscalls.txt`` missing from the headers; return their names."""
    added: list[str] = []
    by_number = {nr: name for name, nr in numbers.items()}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        nr_text, name = line.split()
        name, _, only = name.partition("@")
        if only and only != arch:
            continue
        nr = int(nr_text)
        if name in numbers:
            if numbers[name] != nr:
                raise SystemExit(f"{path}:{number}: {name} is {numbers[name]} in the headers")
            continue
        if nr in by_number:
            raise SystemExit(f"{path}:{number}: {nr} is {by_number[nr]} in the headers")
        numbers[name] = nr
        added.append(name)
    return added


def package_version(package: str) -> str:
    """The installed Debian package version, or ``unknown``."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        return "unknown"
    return out.stdout.strip() or "unknown"


def build(arch: str) -> dict[str, object]:
    """The table for ``arch`` as a JSON-able dict."""
    numbers, source, package = x86_64_numbers() if arch == "x86_64" else aarch64_numbers()
    added = add_newer(numbers, arch, HERE / "newer_syscalls.txt")
    prototypes = parse_prototypes(HERE / "prototypes.txt")
    missing = sorted(name for name in numbers if name not in prototypes)
    if missing:
        raise SystemExit(f"generate.py: no prototype for {', '.join(missing)} ({arch})")
    syscalls = {}
    for name, nr in sorted(numbers.items(), key=lambda item: item[1]):
        types = prototypes[name].get(arch, prototypes[name]["*"])
        syscalls[name] = {"nr": nr, "args": [width_of(t) for t in types]}
    table: dict[str, object] = {
        "_source": (
            f"Generated by backends/seccomp/generate.py. Numbers: {source} "
            f"({package} {package_version(package)}); "
            f"added from newer_syscalls.txt: {', '.join(added) or 'none'}. "
            "Argument widths in bits: prototypes.txt (kernel argument types)."
        ),
        "arch": arch,
        "audit_arch": AUDIT_ARCH[arch],
        "syscalls": syscalls,
    }
    if arch == "x86_64":
        table["x32_syscall_bit"] = X32_SYSCALL_BIT
    return table


def render(table: dict[str, object]) -> str:
    """JSON with one system call per line: readable diffs, deterministic bytes."""
    head = {key: value for key, value in table.items() if key != "syscalls"}
    lines = ["{"]
    for key in sorted(head):
        lines.append(f"  {json.dumps(key)}: {json.dumps(head[key])},")
    lines.append('  "syscalls": {')
    syscalls = table["syscalls"]
    assert isinstance(syscalls, dict)
    entries = [f"    {json.dumps(name)}: {json.dumps(body)}" for name, body in syscalls.items()]
    lines.append(",\n".join(entries))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write ``tables/<arch>.json`` for each architecture (or the ones named in ``argv``)."""
    arches = argv or sorted(AUDIT_ARCH)
    OUT_DIR.mkdir(exist_ok=True)
    for arch in arches:
        if arch not in AUDIT_ARCH:
            raise SystemExit(f"generate.py: unknown architecture {arch!r}")
        path = OUT_DIR / f"{arch}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(render(build(arch)))
        tmp.replace(path)
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
