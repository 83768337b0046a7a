"""``nono learn``: watch a command run and write the profile that lets it do what it did.

Pipeline, one module per step::

    tracer        run the command under strace (unsandboxed: learning watches, never restricts)
    strace_log    strace's lines -> Trace (FileAccess, Endpoint), working directories followed
      strace_syntax   lines, arguments, C-escaped strings, descriptor annotations
    learner       Trace -> Lesson: base profile, stdlib groups, left-out denies, failures
      coverage      what a resolved policy grants and denies on this host
      policies      built-in profiles (closest by F1 overlap), candidate stdlib groups
      fold          accesses -> directory rules under $CWD, $HOME, XDG, $TMPDIR or /
      interpreters  ELF interpreters and #! programs the kernel opens on exec
      network       endpoints -> network statements
    render        Lesson -> a new profile's text
    merge         Lesson -> statements added to an existing profile, comments kept
                  (then `nonoc fmt`'s printer, when the file was already in its form)

``learn_profile`` runs the whole pipeline; the result always resolves with the front end
(checked before it is returned).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nonoc.errors import NonoError, Span
from nonoc.learn.events import Endpoint, FileAccess, Trace
from nonoc.learn.learner import Lesson, learn

__all__ = [
    "Endpoint",
    "FileAccess",
    "Learned",
    "Lesson",
    "Trace",
    "learn",
    "learn_profile",
    "profile_from_trace",
]


@dataclass(frozen=True)
class Learned:
    """A learned profile's text and what to say about it."""

    text: str
    lesson: Lesson
    profile: str
    #: The file merged into (None for a new profile).
    merged: Path | None = None
    added: int = 0
    warnings: tuple[str, ...] = ()


def profile_from_trace(
    trace: Trace,
    command: Sequence[str],
    *,
    cwd: str,
    base: str | None = None,
    merge_file: str | os.PathLike[str] | None = None,
    name: str | None = None,
    candidates: Sequence[str] | None = None,
    display: str = "<learned>",
) -> Learned:
    """Turn a trace into profile text (new, or ``merge_file`` edited); checked by the front end."""
    from nonoc.learn import render

    if merge_file is not None:
        from nonoc.learn.merge import merge

        path = Path(merge_file)
        source, target, policy = merge_target(path, name)
        lesson = learn(trace, command, cwd=cwd, base_policy=policy, candidates=candidates)
        result = merge(source, target, lesson, policy)
        text = result.text
        if text != source.text and canonical(source.text, str(path)) == source.text:
            # The author keeps the file in `nonoc fmt` form: keep it so, comments and all.
            text = canonical(text, str(path))
        _check(text, str(path), target.name.text)
        return Learned(text, lesson, target.name.text, path, result.added, result.warnings)
    lesson = learn(trace, command, cwd=cwd, base=base, candidates=candidates)
    profile = name or render.profile_name(list(command))
    text = canonical(render.render_profile(lesson, profile), display)
    _check(text, display, profile)
    return Learned(text, lesson, profile)


def canonical(text: str, filename: str) -> str:
    """``text`` in ``nonoc fmt``'s canonical form (comments kept), or as it is without a formatter."""
    import importlib.util

    if importlib.util.find_spec("nonoc.format") is None:
        return text
    from nonoc.format import format_text

    try:
        return format_text(text, filename)
    except NonoError:
        return text  # the formatter refuses rather than change a meaning: keep the text as made


def learn_profile(
    command: Sequence[str],
    *,
    base: str | None = None,
    merge_file: str | os.PathLike[str] | None = None,
    name: str | None = None,
    cwd: str | None = None,
    display: str = "<learned>",
) -> Learned:
    """Run ``command`` under strace and return the profile that allows what it did.

    ``base`` (a profile name) is checked before the command runs, as is ``merge_file``,
    so that a typo does not cost a whole run.
    """
    from nonoc.learn import policies
    from nonoc.learn.tracer import run_traced

    if base is not None and merge_file is not None:
        raise NonoError(
            "--profile and --merge exclude each other: a merged profile keeps its own base",
            exit_code=2,
        )
    if base is not None:
        policies.resolve_linux(base)
    if merge_file is not None:
        merge_target(Path(merge_file), name)
    workdir = os.path.abspath(cwd or os.getcwd())
    run = run_traced(list(command), cwd=workdir)
    return profile_from_trace(
        run.trace,
        command,
        cwd=workdir,
        base=base,
        merge_file=merge_file,
        name=name,
        display=display,
    )


def merge_target(path: Path, name: str | None) -> tuple[Any, Any, Any]:
    """The parsed file, the profile in it to merge into, and that profile resolved for Linux."""
    from nonoc.learn.merge import choose_profile
    from nonoc.learn.policies import resolve_linux
    from nonoc.syntax.parser import parse

    try:
        original = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NonoError(f"cannot read {path}: {exc.strerror or exc}", Span(str(path))) from None
    source = parse(original, str(path))
    target = choose_profile(source, name)
    return source, target, resolve_linux(path, profile=target.name.text)


def _check(text: str, display: str, profile: str) -> None:
    """Resolve the text with the front end; a failure here is nono learn's own bug."""
    from nonoc.learn.policies import resolve_linux

    try:
        resolve_linux(display, text=text, profile=profile)
    except NonoError as exc:
        raise NonoError(
            "nono learn produced a profile the compiler refuses (please report this): "
            + exc.diagnostic.headline(),
            notes=("the text was:\n" + text,),
        ) from None
