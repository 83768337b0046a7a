"""Group and profile names of nono's JSON that the policy language knows by other names.

A JSON profile names the groups and profiles of nono's own policy file (``node_runtime``,
``system_read_linux_core``, ``java-dev``). When the imported document does not define a
name itself, it is looked up in the standard library and the installed profiles; a name
found only in the tables below is replaced by its equivalent (with a warning naming both,
since the contents differ in detail); any other name is reported and left out, so that
the result still resolves.
"""

from __future__ import annotations

import functools

from nonoc.importer.context import Context, JsonPath

#: nono v0.66 group -> the standard-library groups that cover it (see docs/profiles.md).
GROUP_EQUIVALENTS: dict[str, tuple[str, ...]] = {
    "deny_keychains_macos": ("deny_keychains_macos", "deny_password_stores"),
    "deny_keychains_linux": ("deny_password_stores",),
    "deny_browser_data_macos": ("deny_browser_data",),
    "deny_browser_data_linux": ("deny_browser_data",),
    "deny_macos_private": ("deny_private_data_macos",),
    "system_read_macos": ("system",),
    "system_read_linux_core": ("system",),
    "system_write_macos": ("system_write",),
    "system_write_linux": ("system_write",),
    "linux_runtime_state": ("host_state_linux",),
    "linux_sysfs_read": ("host_state_linux",),
    "linux_temp_read": ("system_write",),
    "user_caches_macos": ("user_caches",),
    "user_caches_linux": ("user_caches",),
    "claude_cache_linux": ("claude_code_state",),
    "claude_code_macos": ("claude_code_state",),
    "claude_code_linux": ("claude_code_state",),
    "codex_macos": ("codex_state",),
    "opencode_linux": ("opencode_state",),
    "go_runtime_linux": ("go_caches",),
    "go_runtime_macos": ("go_caches",),
    "homebrew_macos": ("homebrew",),
    "homebrew_linux": ("homebrew",),
    "vscode_macos": ("editors",),
    "vscode_linux": ("editors",),
    "dangerous_commands_macos": ("dangerous_commands",),
    "dangerous_commands_linux": ("dangerous_commands",),
}
#: nono v0.66 profile -> (the built-in profile to extend, groups to add).
PROFILE_EQUIVALENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "linux-host-compat": ("default", ("host_state_linux",)),
    "java-dev": ("default", ("java_runtime", "java_caches")),
}


@functools.cache
def stdlib_groups() -> frozenset[str]:
    """Every group the standard library defines."""
    from nonoc.resolve.sources import SourceSet, kind_of

    return frozenset(n for n, (d, _) in SourceSet().stdlib().items() if kind_of(d) == "group")


def known_profiles() -> set[str]:
    """The profiles ``extends`` can find besides the document's: installed and the user's."""
    from nonoc.resolve.sources import profile_names

    return profile_names()


def groups(ctx: Context, names: list[tuple[str, JsonPath]], defined: set[str]) -> list[str]:
    """The policy names for the groups a profile uses (``defined``: the document's own)."""
    result: list[str] = []
    for name, path in names:
        if name in defined or name in stdlib_groups():
            found: tuple[str, ...] = (name,)
        elif name in GROUP_EQUIVALENTS:
            found = GROUP_EQUIVALENTS[name]
            ctx.warn(
                path,
                f"group {name} is imported as the standard library's {', '.join(found)} "
                "(close, not identical: see docs/profiles.md)",
            )
        else:
            ctx.warn(
                path,
                f"unknown group {name}: neither in this file nor in the standard library; not imported",
            )
            continue
        result += [g for g in found if g not in result]
    return result


def parents(
    ctx: Context, names: list[tuple[str, JsonPath]], defined: set[str]
) -> tuple[list[str], list[str]]:
    """The profiles to extend and the groups to add for a profile's ``extends``."""
    extends: list[str] = []
    extra: list[str] = []
    for name, path in names:
        if name in defined or name in known_profiles():
            extends.append(name)
        elif name in PROFILE_EQUIVALENTS:
            base, added = PROFILE_EQUIVALENTS[name]
            extends.append(base)
            extra += added
            ctx.warn(
                path,
                f"profile {name} is imported as `extends {base}` with `use {', '.join(added)}`",
            )
        else:
            ctx.warn(
                path, f"unknown profile {name}: neither in this file nor installed; not extended"
            )
    return list(dict.fromkeys(extends)), list(dict.fromkeys(extra))
