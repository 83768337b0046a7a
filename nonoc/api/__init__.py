"""The Python library API: sandbox the calling process, compile and inspect bundles.

::

    from nonoc import AccessMode, CapabilitySet, apply

    caps = CapabilitySet()
    caps.use_group("system")                          # programs, libraries, /etc basics
    caps.allow_path("/srv/data", AccessMode.READ)
    caps.allow_path("/srv/out", AccessMode.READ_WRITE)
    caps.block_network()
    apply(caps)                                       # irreversible, for this process and its children

A ``CapabilitySet`` is written out as a profile in the policy language and compiled by the
same compiler as ``nonoc compile`` (the mandatory groups, credential denies and system call
hardening included); ``apply`` then does what ``nono exec`` does (Landlock, no_new_privs,
seccomp) but returns instead of exec-ing. See ``docs/library.md``.

Importing this module is cheap; the compiler (lark, pydantic) is imported when a
``CapabilitySet`` is compiled, and never by ``load_bundle(...).apply()``.
"""

from __future__ import annotations

from nonoc.api.applying import Applied, apply
from nonoc.api.bundles import Bundle, BundleDeny, BundleGrant, BundlePort, load_bundle
from nonoc.api.capabilities import AccessMode, CapabilitySet, compile_profile

__all__ = [
    "AccessMode",
    "Applied",
    "Bundle",
    "BundleDeny",
    "BundleGrant",
    "BundlePort",
    "CapabilitySet",
    "apply",
    "compile_profile",
    "load_bundle",
]
