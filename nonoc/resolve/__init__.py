"""Resolve a policy file into the ``Policy`` IR for one target.

Pipeline: load and parse the file and its imports (``sources``), walk the chosen profile's
``extends`` chain, ``use``d groups and platform blocks into one layer (``collect``), add
the mandatory groups, then dedupe, judge grant/deny conflicts and sort (``merge``).

Public API::

    load_policy(source, target, profile=None) -> Policy        # a .nono path or a profile name
    load_policy_text(text, filename, target, profile=None) -> Policy
    resolve(source, target, profile=None, text=None) -> Resolution   # Policy + warnings
    find_profile(name) -> Path
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nonoc import ir
from nonoc.errors import Diagnostic, NonoError, Span, did_you_mean
from nonoc.resolve.collect import Collector
from nonoc.resolve.layer import override, siblings
from nonoc.resolve.merge import PolicyBuilder
from nonoc.resolve.sources import LoadedFile, SourceSet, find_profile, looks_like_path
from nonoc.syntax import ast
from nonoc.syntax.parser import parse_statements

__all__ = ["Resolution", "find_profile", "load_policy", "load_policy_text", "resolve"]

TARGETS: tuple[str, ...] = ("linux", "macos")
#: The file name command-line flags are attributed to.
COMMAND_LINE = "<command line>"


@dataclass(frozen=True)
class Resolution:
    """A resolved policy and the warnings met on the way."""

    policy: ir.Policy
    diagnostics: list[Diagnostic] = field(default_factory=list)


def load_policy(source: str | Path, target: ir.Target, *, profile: str | None = None) -> ir.Policy:
    """Resolve ``source`` (a path to a .nono file, or a profile name) for ``target``."""
    return resolve(source, target, profile=profile).policy


def load_policy_text(
    text: str, filename: str, target: ir.Target, *, profile: str | None = None
) -> ir.Policy:
    """Resolve policy ``text`` as if read from ``filename`` (imports are relative to it)."""
    return resolve(filename, target, profile=profile, text=text).policy


def resolve(
    source: str | Path,
    target: ir.Target,
    *,
    profile: str | None = None,
    text: str | None = None,
    flags: Sequence[tuple[str, str]] = (),
) -> Resolution:
    """Resolve a policy and collect its warnings.

    ``source`` is a path to a .nono file or a profile name (user profiles shadow shipped
    ones). With ``text``, ``source`` is the file name the text is reported under. The file
    must define the profile named ``profile``, or exactly one profile when it is None.

    ``flags`` are ``(label, statements)`` pairs from a command line (``("--allow .",
    'allow "."')``): parsed as bodies, layered over the profile (their settings win), and
    attributed to ``<command line>`` with a ``flag`` link in the provenance chain.
    """
    if target not in TARGETS:
        raise NonoError(
            f"unknown target '{target}'{did_you_mean(str(target), TARGETS)}; expected linux or macos"
        )
    sources = SourceSet()
    if text is not None:
        root = sources.load_text(text, str(source))
    elif isinstance(source, Path) or looks_like_path(source):
        path = Path(source)
        if not path.is_file():
            raise NonoError(f"no such policy file: {source}")
        root = sources.load_path(path, str(source))
    else:
        found = find_profile(source)
        root = sources.load_path(found, str(found))
        profile = profile or source
    definition = _choose_profile(root, profile)
    collector = Collector(sources, target)
    own = collector.profile(definition, root)
    chain = (
        ir.ChainLink(
            kind="profile", name=definition.name.text, file=root.display, line=definition.span.line
        ),
    )
    if flags:
        flag_layers = []
        for label, statements in flags:
            body = parse_statements(statements, COMMAND_LINE)
            flag_chain = (*chain, ir.ChainLink(kind="flag", name=label, file=COMMAND_LINE))
            flag_layers.append(
                collector.body(body, root, flag_chain, (), None, display=COMMAND_LINE)
            )
        own = override(own, siblings(flag_layers, "command-line flags"))
    mandatory, mandatory_names = collector.mandatory(list(sources.files.values()), chain)
    diagnostics: list[Diagnostic] = []
    policy = PolicyBuilder(sources, diagnostics).build(
        name=definition.name.text,
        description=definition.description,
        target=target,
        # Mandatory groups cannot be excluded, nor their settings overridden: they go on top.
        layer=override(own, mandatory),
        mandatory=mandatory_names,
    )
    return Resolution(policy, diagnostics)


def _choose_profile(root: LoadedFile, name: str | None) -> ast.ProfileDef:
    """The profile of ``root`` to compile."""
    profiles = root.syntax.profiles
    if name is not None:
        for candidate in profiles:
            if candidate.name.text == name:
                return candidate
        names = {p.name.text for p in profiles}
        raise NonoError(
            f"{root.display} defines no profile '{name}'{did_you_mean(name, names)}",
            Span(root.display),
        )
    if len(profiles) == 1:
        return profiles[0]
    if not profiles:
        raise NonoError(
            f"{root.display} defines no profile (only groups); nothing to compile",
            Span(root.display),
        )
    listed = ", ".join(p.name.text for p in profiles)
    raise NonoError(
        f"{root.display} defines several profiles ({listed}); choose one with --profile",
        Span(root.display),
    )
