"""Environment hygiene: the variables ``nono run`` and ``nono wrap`` remove from the child.

Some variables make a program load or run code the program never asked for: the dynamic
loader's ``LD_PRELOAD`` and ``LD_AUDIT``, a shell's ``BASH_ENV``, Python's
``PYTHONSTARTUP``, Node's ``NODE_OPTIONS=--require …``, Perl's ``PERL5OPT=-M…``. An agent's
command runs them with the agent's rights, so whoever could set them (an rc file, a
``.envrc``, an earlier session) could run code the user never saw. They are removed
before the command starts, unless the profile keeps one by name (``env keep "NAME"``) or
the command line does (``--keep-env NAME``).

The list is data (``STRIP``): exact names, or ``PREFIX*`` for a family. The compiler writes
it into every bundle's ``launch.env_strip`` (``nonoc.bundle.payload``), and the launcher's
own ``child_environment`` (``nonoc.launch.apply``) applies it, so ``nono exec`` of a
compiled bundle strips what ``nono run`` does and ``env keep`` works the same way for both.
``nono run`` also unites the list into the payload it runs (``with_hygiene``), which covers
bundles compiled before the list was written into them.
What is *not* on it, and why, is in ``docs/cli.md``. Standard library only.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a cached `nono run` milliseconds
    from collections.abc import Iterable, Mapping
    from typing import Any

#: Why each entry is stripped, by family. Order is the documentation's order.
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # glibc's loader reads every LD_* variable it knows (preload, audit, library path,
    # debug output files); musl reads LD_PRELOAD and LD_LIBRARY_PATH. GCONV_PATH makes
    # iconv load shared objects from a chosen directory.
    ("dynamic loader", ("LD_*", "GCONV_PATH")),
    # macOS's dyld: DYLD_INSERT_LIBRARIES and its library and framework paths.
    ("macOS loader", ("DYLD_*",)),
    # Files a non-interactive shell sources (BASH_ENV, ENV), exported functions (which a
    # child bash defines before running anything), options that turn on tracing with a
    # PS4 that can run commands, and interactive hooks.
    (
        "shells",
        ("BASH_ENV", "ENV", "BASH_FUNC_*", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND"),
    ),
    # Module search paths, the startup file, breakpoint() and -W categories (a category
    # names a module, which Python imports).
    (
        "Python",
        (
            "PYTHONPATH",
            "PYTHONHOME",
            "PYTHONSTARTUP",
            "PYTHONINSPECT",
            "PYTHONBREAKPOINT",
            "PYTHONWARNINGS",
        ),
    ),
    ("Node.js", ("NODE_OPTIONS", "NODE_PATH")),
    ("Perl", ("PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB")),
    ("Ruby", ("RUBYOPT", "RUBYLIB")),
    ("JVM", ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")),
)

#: Every stripped name or ``PREFIX*`` pattern, sorted.
STRIP: tuple[str, ...] = tuple(sorted(name for _, names in FAMILIES for name in names))


def strip_list(existing: Iterable[str] = ()) -> list[str]:
    """``STRIP`` united with a bundle's own ``env_strip`` entries, sorted."""
    return sorted(set(STRIP) | {str(name) for name in existing})


def with_hygiene(launch: Mapping[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of a payload's ``launch`` section whose ``env_strip`` includes ``STRIP``.

    ``keep`` adds names to ``env_keep`` (``--keep-env`` on the command line; the profile's
    ``env keep`` statements are already there).
    """
    section = dict(launch)
    section["env_strip"] = strip_list(section.get("env_strip") or ())
    section["env_keep"] = sorted({*map(str, section.get("env_keep") or ()), *keep})
    return section


def matches(name: str, pattern: str) -> bool:
    """Whether variable ``name`` is covered by strip entry ``pattern`` (exact or ``PREFIX*``)."""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def removed(launch: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The names of ``environ`` that ``launch``'s strip list removes (sorted), keeps excepted."""
    keep = set(launch.get("env_keep") or ())
    patterns = [str(p) for p in launch.get("env_strip") or ()]
    return sorted(
        name for name in environ if name not in keep and any(matches(name, p) for p in patterns)
    )
