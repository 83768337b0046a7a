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
_LAZY: dict[str, str] = {}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'nonoc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
