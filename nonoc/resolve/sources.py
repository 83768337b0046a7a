"""Policy files and the names they define: loading, imports, the stdlib, profile lookup.

A name (group or profile) is looked up in the *file where the reference is written*:
first that file's own definitions and those of the files it imports, then the standard
library (``stdlib/*.nono``, always importable by name), and, for ``extends``, the user's
and the shipped profile folders. Display names are stable across machines: shipped files
are ``stdlib/x.nono`` and ``profiles/x.nono``; user files keep the path as given.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from nonoc.errors import NonoError, Span, did_you_mean
from nonoc.resolve.parsed import parse_file
from nonoc.resources import data_dir
from nonoc.syntax import ast

Definition = ast.GroupDef | ast.ProfileDef


@dataclass
class LoadedFile:
    """One parsed file, its display name, digest, and the names visible from it."""

    display: str
    real: Path | None
    syntax: ast.SourceFile
    sha256: str
    #: name -> (definition, file defining it): own definitions and direct imports'.
    scope: dict[str, tuple[Definition, LoadedFile]] = field(default_factory=dict)


def kind_of(definition: Definition) -> str:
    """``group`` or ``profile``."""
    return "group" if isinstance(definition, ast.GroupDef) else "profile"


def where(definition: Definition, file: LoadedFile) -> str:
    """``file:line`` of a definition."""
    return f"{file.display}:{definition.span.line}"


def user_profiles_dir(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/nono/profiles`` (``~/.config`` when the variable is unset)."""
    env = os.environ if environ is None else environ
    config = env.get("XDG_CONFIG_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".config"
    )
    return Path(config) / "nono" / "profiles"


def profile_names() -> set[str]:
    """Every profile name ``find_profile`` can find (user and shipped)."""
    names: set[str] = set()
    for folder in (user_profiles_dir(), data_dir("profiles")):
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.nono"))
    return names


def looks_like_path(source: str) -> bool:
    """Whether ``source`` names a file rather than a profile."""
    return "/" in source or os.sep in source or source.endswith(".nono")


def find_profile(name: str) -> Path:
    """The file of profile ``name``: a path as given, else the user's, else the shipped one."""
    if looks_like_path(name):
        path = Path(name)
        if path.is_file():
            return path
        raise NonoError(f"no such policy file: {name}")
    for folder in (user_profiles_dir(), data_dir("profiles")):
        candidate = folder / f"{name}.nono"
        if candidate.is_file():
            return candidate
    raise NonoError(
        f"unknown profile '{name}'{did_you_mean(name, profile_names())}",
        notes=(f"profiles are looked up in {user_profiles_dir()} and the shipped profiles/",),
    )


def display_name(path: Path) -> str | None:
    """``stdlib/x.nono`` or ``profiles/x.nono`` for a shipped file, else None."""
    real = path.resolve()
    for folder in ("stdlib", "profiles"):
        base = data_dir(folder).resolve()
        if real.is_relative_to(base):
            return f"{folder}/{real.relative_to(base).as_posix()}"
    return None


class SourceSet:
    """Every file read while resolving one policy, parsed once each."""

    def __init__(self) -> None:
        self.files: dict[str, LoadedFile] = {}
        self._stdlib: dict[str, tuple[Definition, LoadedFile]] | None = None

    # --- loading ------------------------------------------------------------------------

    def load_path(self, path: Path, given: str) -> LoadedFile:
        """Load and parse the file at ``path``; ``given`` is how the user named it."""
        display = display_name(path) or given
        key = str(path.resolve())
        if key in self.files:
            return self.files[key]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise NonoError(f"cannot read {display}: {exc.strerror}", Span(display)) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NonoError(
                f"{display} is not UTF-8 text (byte {exc.start})", Span(display)
            ) from None
        return self._add(key, display, path, text, data)

    def load_text(self, text: str, filename: str) -> LoadedFile:
        """Parse ``text`` as if it were the file ``filename``."""
        path = Path(filename)
        key = str(path.resolve())
        return self._add(key, filename, path, text, text.encode("utf-8"))

    def _add(self, key: str, display: str, path: Path, text: str, data: bytes) -> LoadedFile:
        sha256 = hashlib.sha256(data).hexdigest()
        # Parsed once per process for each distinct content (see nonoc.resolve.parsed).
        syntax = parse_file(text, display, key, sha256)
        loaded = LoadedFile(display, path, syntax, sha256)
        self.files[key] = loaded
        self._define_own(loaded)
        for imp in syntax.imports:
            self._import(loaded, imp)
        return loaded

    def _define_own(self, file: LoadedFile) -> None:
        """Enter the file's own groups and profiles; a name defined twice is an error."""
        definitions: list[Definition] = [*file.syntax.groups, *file.syntax.profiles]
        for definition in sorted(definitions, key=lambda d: (d.span.line, d.span.column)):
            name = definition.name.text
            if name in file.scope:
                first, _ = file.scope[name]
                raise NonoError(
                    f"duplicate name '{name}': already defined as a {kind_of(first)} at line {first.span.line}",
                    definition.name.span,
                )
            file.scope[name] = (definition, file)

    def _import(self, importer: LoadedFile, imp: ast.Import) -> None:
        imported = self.load_path(*self._import_target(importer, imp))
        for name, (definition, owner) in imported.scope.items():
            if owner is not imported:
                continue  # imports are not transitive: only the imported file's own names
            known = importer.scope.get(name)
            if known is not None and known[0] is not definition:
                raise NonoError(
                    f"import of '{imp.target.value}' brings '{name}' ({where(definition, owner)}), "
                    f"already defined at {where(*known)}",
                    imp.span,
                )
            importer.scope[name] = (definition, owner)

    def _import_target(self, importer: LoadedFile, imp: ast.Import) -> tuple[Path, str]:
        """Where an import points, and the display name to give the file."""
        target = imp.target.value
        stdlib = imp.stdlib or target.startswith("stdlib:")
        if stdlib:
            name = target.removeprefix("stdlib:")
            file_name = name if name.endswith(".nono") else f"{name}.nono"
            path = data_dir("stdlib") / file_name
            if "/" in name or not path.is_file():
                available = {p.stem for p in data_dir("stdlib").glob("*.nono")}
                raise NonoError(
                    f"import not found: the standard library has no '{name}'{did_you_mean(name, available)}",
                    imp.target.span,
                    notes=(f"imported by {importer.display} at line {imp.span.line}",),
                )
            return path, f"stdlib/{file_name}"
        base = importer.real.parent if importer.real is not None else Path.cwd()
        path = Path(target) if os.path.isabs(target) else base / target
        given = (
            target
            if os.path.isabs(target)
            else os.path.normpath(os.path.join(os.path.dirname(importer.display), target))
        )
        if not path.is_file():
            raise NonoError(
                f"import not found: '{target}' (looked for {path})",
                imp.target.span,
                notes=(f"imported by {importer.display} at line {imp.span.line}",),
            )
        return path, given

    # --- the standard library -------------------------------------------------------------

    def stdlib(self) -> dict[str, tuple[Definition, LoadedFile]]:
        """Every name the standard library defines (loading all of ``stdlib/*.nono`` once)."""
        if self._stdlib is None:
            names: dict[str, tuple[Definition, LoadedFile]] = {}
            folder = data_dir("stdlib")
            for path in sorted(folder.glob("*.nono")) if folder.is_dir() else []:
                loaded = self.load_path(path, f"stdlib/{path.name}")
                for name, (definition, owner) in loaded.scope.items():
                    if owner is not loaded:
                        continue
                    if name in names and names[name][0] is not definition:
                        raise NonoError(
                            f"duplicate name '{name}' in the standard library: "
                            f"already defined at {where(*names[name])}",
                            definition.name.span,
                        )
                    names[name] = (definition, owner)
            self._stdlib = names
        return self._stdlib

    def mandatory_groups(self, files: list[LoadedFile]) -> list[tuple[ast.GroupDef, LoadedFile]]:
        """Mandatory groups of the stdlib and of ``files``' scopes, each once, in a stable order."""
        found: dict[int, tuple[ast.GroupDef, LoadedFile]] = {}
        scopes = [self.stdlib(), *(f.scope for f in files)]
        for scope in scopes:
            for definition, owner in scope.values():
                if isinstance(definition, ast.GroupDef) and definition.mandatory:
                    found[id(definition)] = (definition, owner)
        return sorted(found.values(), key=lambda pair: (pair[1].display, pair[0].span.line))

    # --- lookup ---------------------------------------------------------------------------

    def lookup(self, file: LoadedFile, word: ast.Word, kind: str) -> tuple[Definition, LoadedFile]:
        """The ``kind`` (group/profile) called ``word`` as seen from ``file``."""
        name = word.text
        found = file.scope.get(name) or self.stdlib().get(name)
        if found is None and kind == "profile":
            found = self._shipped_or_user_profile(word)
        if found is None and kind == "group" and name in profile_names():
            raise NonoError(
                f"'{name}' is a profile, not a group; inherit it with 'extends'", word.span
            )
        if found is None:
            candidates = {n for n, (d, _) in file.scope.items() if kind_of(d) == kind}
            candidates |= {n for n, (d, _) in self.stdlib().items() if kind_of(d) == kind}
            if kind == "profile":
                candidates |= profile_names()
            raise NonoError(f"unknown {kind} '{name}'{did_you_mean(name, candidates)}", word.span)
        definition, owner = found
        if kind_of(definition) != kind:
            hint = "use it with 'use'" if kind == "profile" else "inherit it with 'extends'"
            raise NonoError(
                f"'{name}' is a {kind_of(definition)} ({where(definition, owner)}), not a {kind}; {hint}",
                word.span,
            )
        return found

    def _shipped_or_user_profile(self, word: ast.Word) -> tuple[Definition, LoadedFile] | None:
        try:
            path = find_profile(word.text)
        except NonoError:
            return None
        loaded = self.load_path(path, str(path))
        found = loaded.scope.get(word.text)
        if found is None or found[1] is not loaded:
            raise NonoError(f"{loaded.display} does not define profile '{word.text}'", word.span)
        return found

    def sources(self) -> tuple[tuple[str, str], ...]:
        """(display name, sha256) of every file read, sorted."""
        return tuple(sorted({(f.display, f.sha256) for f in self.files.values()}))
