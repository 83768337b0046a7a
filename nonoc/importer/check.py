"""Check an import's result with the real front end before anyone compiles it.

Every profile of the text is resolved for Linux and macOS. Groups are resolved too, since
a group no profile uses would otherwise only be checked when someone first uses it: a
probe profile that uses all of them, and, if that fails (two groups may legitimately
conflict when used side by side), one probe per group to name the group that does not
resolve on its own.
"""

from __future__ import annotations

from nonoc.errors import NonoError
from nonoc.syntax.parser import parse

TARGETS = ("linux", "macos")
PROBE = "nonoc_import_probe"


def check_text(text: str, filename: str) -> None:
    """Raise ``NonoError`` (with the front end's diagnostic) unless ``text`` resolves."""
    from nonoc.resolve import resolve

    syntax = parse(text, filename)
    for definition in syntax.profiles:
        for target in TARGETS:
            resolve(filename, target, profile=definition.name.text, text=text)  # type: ignore[arg-type]
    groups = [g.name.text for g in syntax.groups]
    if not groups:
        return
    try:
        _probe(text, filename, groups)
    except NonoError:
        for group in groups:
            try:
                _probe(text, filename, [group])
            except NonoError as exc:
                raise NonoError(
                    f"group {group} of the imported policy does not resolve: {exc.diagnostic.message}",
                    exc.diagnostic.span,
                    notes=exc.diagnostic.notes,
                ) from None


def _probe(text: str, filename: str, groups: list[str]) -> None:
    from nonoc.resolve import resolve

    probe = f"{text}\nprofile {PROBE} {{ use {', '.join(groups)} }}\n"
    for target in TARGETS:
        resolve(filename, target, profile=PROBE, text=probe)  # type: ignore[arg-type]
