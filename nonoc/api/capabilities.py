"""``CapabilitySet``: what a sandboxed process may do, written out as a policy and compiled.

The set is kept as statements of the policy language, so that it means exactly what the
same profile written by hand would mean: the mandatory groups, the deny-beats-allow rule
and every check of the compiler apply. Standard library only until it is compiled.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from nonoc import paths
from nonoc.errors import NonoError
from nonoc.syntax.literal import quote as _quote

if TYPE_CHECKING:
    from nonoc.compile import Compilation
    from nonoc.ir import Policy

#: The file name a ``CapabilitySet``'s policy text is compiled under (shown in errors).
CAPABILITIES_FILE = "<capabilities>"


class AccessMode(enum.Flag):
    """Filesystem access to grant. Combine with ``|``: ``AccessMode.READ | AccessMode.EXECUTE``."""

    READ = 1
    WRITE = 2
    EXECUTE = 4
    READ_WRITE = READ | WRITE


def _template(path: str | os.PathLike[str]) -> str:
    """A policy path for ``path``: variables and ``~`` kept, anything else made absolute."""
    text = os.fspath(path)
    if not text.startswith(("~", "$")):
        text = os.path.abspath(text)  # relative to *now*, not to where the sandbox applies
    try:
        return paths.normalize(text)
    except paths.TemplateError as exc:
        raise ValueError(f"cannot use path {text!r} in a policy: {exc}") from None


def _verbs(mode: AccessMode) -> list[str]:
    if not isinstance(mode, AccessMode) or not mode:
        raise ValueError(f"expected an AccessMode with at least one access, got {mode!r}")
    words = []
    if AccessMode.READ_WRITE in mode:
        words.append("allow")
    elif AccessMode.READ in mode:
        words.append("read")
    elif AccessMode.WRITE in mode:
        words.append("write")
    if AccessMode.EXECUTE in mode:
        words.append("exec")
    return words


class CapabilitySet:
    """What a sandboxed process may do; everything else is refused by the kernel.

    Methods return the set itself, so calls chain. Paths may be absolute, relative (taken
    relative to the current directory *when the method is called*), or start with ``~`` or
    a variable (``$HOME``, ``$CWD``, ``$TMPDIR``, ``$XDG_CACHE_HOME``...), resolved when the
    sandbox is applied. A grant of a directory covers its whole tree.
    """

    def __init__(
        self,
        name: str = "capabilities",
        *,
        compat: Literal["best_effort", "hard_requirement"] = "best_effort",
    ) -> None:
        if compat not in ("best_effort", "hard_requirement"):
            raise ValueError("compat must be 'best_effort' or 'hard_requirement'")
        self.name = name
        self.compat = compat
        self._statements: list[str] = []
        self._profiles: list[str] = []
        self._groups: list[str] = []
        self._network: str | None = None
        self._ports: list[tuple[str, int]] = []

    # --- filesystem ------------------------------------------------------------------------

    def allow_path(
        self,
        path: str | os.PathLike[str],
        mode: AccessMode = AccessMode.READ,
        *,
        required: bool = False,
    ) -> CapabilitySet:
        """Grant ``mode`` on the directory tree (or file) at ``path``.

        A missing path is skipped when the sandbox is applied, unless ``required``.
        """
        return self._grant(path, mode, required, file=False)

    def allow_file(
        self,
        path: str | os.PathLike[str],
        mode: AccessMode = AccessMode.READ,
        *,
        required: bool = False,
    ) -> CapabilitySet:
        """Grant ``mode`` on exactly one file."""
        return self._grant(path, mode, required, file=True)

    def deny_path(self, path: str | os.PathLike[str]) -> CapabilitySet:
        """Deny every access to ``path`` and beneath it, whatever else grants it."""
        self._statements.append(f"deny {_quote(_template(path))}")
        return self

    def deny_file(self, path: str | os.PathLike[str]) -> CapabilitySet:
        """Deny every access to exactly one file."""
        self._statements.append(f"deny file {_quote(_template(path))}")
        return self

    def _grant(
        self, path: str | os.PathLike[str], mode: AccessMode, required: bool, file: bool
    ) -> CapabilitySet:
        literal = _quote(_template(path))
        prefix = "require " if required else ""
        kind = " file" if file else ""
        for verb in _verbs(mode):
            self._statements.append(f"{prefix}{verb}{kind} {literal}")
        return self

    # --- network ---------------------------------------------------------------------------

    def block_network(self) -> CapabilitySet:
        """Refuse all network access (TCP by Landlock, every other socket family by seccomp).

        Unix sockets stay allowed. Ports given with ``allow_port`` are still allowed.
        """
        self._network = "block"
        return self

    def open_network(self) -> CapabilitySet:
        """Leave the network unrestricted (the default, unless ``allow_port`` is used)."""
        self._network = "open"
        return self

    def allow_port(
        self, port: int, direction: Literal["connect", "bind"] = "connect"
    ) -> CapabilitySet:
        """Allow TCP ``connect`` (or ``bind``) on ``port``; the network is then TCP on listed ports only.

        Landlock matches the port on any address. UDP, raw and other sockets are refused.
        """
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer from 0 to 65535, not {port!r}")
        if direction not in ("connect", "bind"):
            raise ValueError("direction must be 'connect' or 'bind'")
        self._ports.append((direction, port))
        return self

    # --- reuse -------------------------------------------------------------------------------

    def use_profile(self, name: str) -> CapabilitySet:
        """Start from a profile (built-in, the user's, or a ``.nono`` path): ``extends`` it."""
        if name not in self._profiles:
            self._profiles.append(name)
        return self

    def use_group(self, *names: str) -> CapabilitySet:
        """Bring in stdlib groups by name (``system``, ``system_write``, ``python_runtime``...)."""
        for group in names:
            if group not in self._groups:
                self._groups.append(group)
        return self

    # --- output ------------------------------------------------------------------------------

    def to_policy_text(self) -> str:
        """The set as a profile in the policy language (what gets compiled)."""
        parents: list[str] = []
        imports: list[str] = []
        for profile in self._profiles:
            if paths_like(profile):
                # A file's profile is reached by importing the file; its name is the extends.
                imports.append(f"import {_quote(os.path.abspath(profile))}")
                parents.append(_profile_name_in(profile))
            else:
                parents.append(profile)
        extends = f" extends {', '.join(parents)}" if parents else ""
        lines = [*imports, f"profile {self.name}{extends} {{"]
        if self._groups:
            lines.append(f"  use {', '.join(self._groups)}")
        lines += [f"  {statement}" for statement in self._statements]
        if self.compat != "best_effort":
            lines.append(f"  compat {self.compat}")
        if self._ports:
            lines.append("  network proxy")  # TCP sockets only; Landlock limits them to the ports
            for direction, port in self._ports:
                lines.append(f"  port {direction} {port}")
        elif self._network is not None:
            lines.append(f"  network {self._network}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_policy(self, target: Literal["linux", "macos"] = "linux") -> Policy:
        """The resolved policy (IR) for ``target``."""
        from nonoc.resolve import resolve

        return resolve(
            CAPABILITIES_FILE, target, text=self.to_policy_text(), profile=self.name
        ).policy

    def compile(self, targets: str | Iterable[str] = "linux", **options: Any) -> Compilation:
        """Compile into a bundle (signed with your key unless ``unsigned=True``); see ``compile_profile``."""
        return compile_profile(self, targets, **options)

    def __repr__(self) -> str:
        return f"CapabilitySet({self.to_policy_text()!r})"


def paths_like(name: str) -> bool:
    """Whether ``name`` names a policy file rather than a profile."""
    return "/" in name or name.endswith(".nono")


def _profile_name_in(path: str) -> str:
    """The one profile a file defines (for ``use_profile("path.nono")``)."""
    from nonoc.syntax.parser import parse

    with open(path, encoding="utf-8") as handle:
        source = parse(handle.read(), path)
    if len(source.profiles) != 1:
        raise NonoError(f"{path} must define exactly one profile to be used by a CapabilitySet")
    return source.profiles[0].name.text


def compile_profile(
    source: CapabilitySet | str | os.PathLike[str],
    targets: str | Iterable[str] = "linux",
    **options: Any,
) -> Compilation:
    """Compile a profile (a ``.nono`` path, a profile name, or a ``CapabilitySet``) into a bundle.

    Returns a ``nonoc.compile.Compilation``: ``data`` (the bundle's bytes, write them to a
    file for ``nono exec`` or ``load_bundle``), ``profile``, ``warnings``, ``notes``,
    ``cached``. ``options`` are those of ``nonoc.compile.compile_profile`` (``unsigned``,
    ``key``, ``arch``, ``landlock_abi``, ``use_cache``...). Raises ``NonoError`` with the
    position of anything the compiler refuses.
    """
    from nonoc.compile import compile_profile as compile_source

    if isinstance(source, CapabilitySet):
        text, name = source.to_policy_text(), source.name

        def load(_source: str, target: str) -> Any:
            from nonoc.resolve import resolve

            return resolve(CAPABILITIES_FILE, target, text=text, profile=name)  # type: ignore[arg-type]

        options.setdefault("use_cache", False)
        return compile_source(CAPABILITIES_FILE, targets, loader=load, **options)
    return compile_source(source, targets, **options)
