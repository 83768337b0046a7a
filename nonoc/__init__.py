"""nono: a kernel-enforced sandbox for AI agents.

This package holds both halves of the product: the policy compiler (``nonoc``)
and the launcher (``nono``). Importing ``nonoc`` itself must stay cheap, because
the launcher's console script imports it on every ``nono exec``: heavy names of
the library API are resolved lazily through ``__getattr__``.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Library API names (issue: library API) mapped to the module that defines them.
# Resolved on first access so that `import nonoc` never pulls in pydantic or lark.
_LAZY: dict[str, str] = {
    "AccessMode": "nonoc.api",
    "Applied": "nonoc.api",
    "Bundle": "nonoc.api",
    "CapabilitySet": "nonoc.api",
    "apply": "nonoc.api",
    "compile_profile": "nonoc.api",
    "load_bundle": "nonoc.api",
}

# Type checkers see the real names; at run time they stay lazy (``typing`` is not imported:
# the launcher's start-up pays for every module).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from nonoc.api import (
        AccessMode,
        Applied,
        Bundle,
        CapabilitySet,
        apply,
        compile_profile,
        load_bundle,
    )

__all__ = [
    "AccessMode",
    "Applied",
    "Bundle",
    "CapabilitySet",
    "__version__",
    "apply",
    "compile_profile",
    "load_bundle",
]


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'nonoc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
