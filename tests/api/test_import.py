"""``import nonoc`` stays light; the library names resolve lazily; the package is typed."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import nonoc

HEAVY = ("pydantic", "lark", "jinja2", "cryptography")


def imported_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    found: list[str] = json.loads(result.stdout)
    return found


def test_import_nonoc_imports_neither_pydantic_nor_lark() -> None:
    assert imported_after("import nonoc") == []


def test_the_library_names_are_cheap_until_used() -> None:
    code = (
        "from nonoc import AccessMode, Bundle, CapabilitySet, apply, compile_profile, load_bundle"
    )
    assert imported_after(code) == []
    text = code + "\nCapabilitySet().allow_path('/srv', AccessMode.READ).to_policy_text()"
    assert imported_after(text) == []


def test_lazy_names_are_the_api_module_s() -> None:
    from nonoc import api

    for name in (
        "AccessMode",
        "Applied",
        "Bundle",
        "CapabilitySet",
        "apply",
        "compile_profile",
        "load_bundle",
    ):
        assert getattr(nonoc, name) is getattr(api, name)
        assert name in nonoc.__all__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nonoc.nope  # noqa: B018


def test_the_package_is_marked_typed_and_shipped_whole() -> None:
    package = Path(nonoc.__file__).parent
    assert (package / "py.typed").is_file()
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text())
    # hatchling's `packages` ships every file of the package directory, py.typed included.
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["nonoc"]
