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

import enum
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from nonoc import paths
from nonoc.errors import NonoError, SandboxError

if TYPE_CHECKING:
    from nonoc.compile import Compilation
    from nonoc.ir import Policy

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

#: The file name a ``CapabilitySet``'s policy text is compiled under (shown in errors).
CAPABILITIES_FILE = "<capabilities>"


class AccessMode(enum.Flag):
    """Filesystem access to grant. Combine with ``|``: ``AccessMode.READ | AccessMode.EXECUTE``."""

    READ = 1
    WRITE = 2
    EXECUTE = 4
    READ_WRITE = READ | WRITE


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return f'"{escaped}"'


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


# --------------------------------------------------------------------------- compiling


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


# --------------------------------------------------------------------------- bundles


@dataclass(frozen=True)
class BundleGrant:
    """A Landlock path rule of a bundle: ``path`` (a template) with Landlock ``access`` rights."""

    id: str
    path: str
    kind: str
    access: tuple[str, ...]
    optional: bool
    source: str


@dataclass(frozen=True)
class BundleDeny:
    """A denied path of a bundle."""

    id: str
    path: str
    kind: str
    source: str


@dataclass(frozen=True)
class BundlePort:
    """A TCP port rule: ``access`` is ``CONNECT_TCP`` or ``BIND_TCP``."""

    id: str
    port: int
    access: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Applied:
    """What ``apply`` enforced on this process."""

    #: ``fully enforced`` or ``partially enforced`` (an older kernel, best effort).
    state: str
    kernel_abi: int
    grants: int
    denies: int
    ports: int
    seccomp: bool
    warnings: tuple[str, ...] = field(default=())


class Bundle:
    """A verified bundle: its manifest, its rules (inspectable), and ``apply()``."""

    def __init__(self, payload: Mapping[str, Any], name: str = "bundle") -> None:
        self.payload: Mapping[str, Any] = payload
        self.name = name

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The manifest: compiler, profile, targets, arch, sources, variables, assumptions."""
        return self.payload["manifest"]  # type: ignore[no-any-return]

    @property
    def profile(self) -> str:
        """The name of the profile compiled."""
        return str(self.manifest.get("profile", ""))

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets the bundle holds (``linux``, ``macos``)."""
        return tuple(self.manifest.get("targets", ()))

    def _linux(self) -> Mapping[str, Any]:
        section = self.payload.get("linux")
        if not isinstance(section, dict):
            raise NonoError(f"{self.name}: the bundle has no Linux section")
        return section

    @property
    def landlock(self) -> Mapping[str, Any]:
        """The raw Landlock table (see docs/architecture.md)."""
        return self._linux().get("landlock") or {}

    def _source(self, rule_id: str) -> str:
        entry = (self.payload.get("provenance") or {}).get("linux", {}).get(rule_id)
        if not isinstance(entry, dict):
            return ""
        return f"{entry.get('file', '?')}:{entry.get('line', 0)}:{entry.get('column', 0)}"

    @property
    def grants(self) -> list[BundleGrant]:
        """The path grants, each with its rule id and source position."""
        return [
            BundleGrant(
                str(row["id"]),
                str(row["path"]),
                str(row.get("kind", "tree")),
                tuple(row.get("access", ())),
                bool(row.get("optional", True)),
                self._source(str(row["id"])),
            )
            for row in self.landlock.get("rules", ())
        ]

    @property
    def denies(self) -> list[BundleDeny]:
        """The denied paths."""
        return [
            BundleDeny(
                str(row["id"]),
                str(row["path"]),
                str(row.get("kind", "tree")),
                self._source(str(row["id"])),
            )
            for row in self.landlock.get("denies", ())
        ]

    @property
    def ports(self) -> list[BundlePort]:
        """The TCP port rules."""
        return [
            BundlePort(
                str(row["id"]),
                int(row["port"]),
                tuple(row.get("access", ())),
                self._source(str(row["id"])),
            )
            for row in self.landlock.get("net", ())
        ]

    @property
    def network(self) -> str:
        """The network mode: ``open``, ``blocked`` or ``proxy``."""
        launch = self._linux().get("launch") or {}
        seccomp = self._linux().get("seccomp") or {}
        return str(launch.get("network") or seccomp.get("network") or "open")

    @property
    def has_seccomp(self) -> bool:
        """Whether the bundle carries a seccomp filter."""
        return bool(self._linux().get("seccomp"))

    def apply(self, *, kernel_abi: int | None = None) -> Applied:
        """Sandbox the calling process with this bundle. Irreversible; see ``nonoc.apply``."""
        return _apply_payload(self.payload, self.name, kernel_abi=kernel_abi)

    def __repr__(self) -> str:
        return f"<Bundle {self.name!r} profile={self.profile!r} targets={list(self.targets)}>"


def load_bundle(source: str | os.PathLike[str] | bytes) -> Bundle:
    """Read and verify a bundle (a file path, or the bundle's bytes), as ``nono exec`` does.

    The signature must be by a key trusted in ``$XDG_CONFIG_HOME/nono/trusted_keys/``; an
    unsigned, tampered or foreign bundle raises ``NonoError`` before anything can be applied.
    """
    from nonoc.launch import verify

    if isinstance(source, bytes):
        name = "<bytes>"
        payload_bytes, signatures = verify.parse_envelope(name, source)
        files, _ = verify.trusted_key_files()
        verify.verify_signatures(name, payload_bytes, signatures, verify.trusted_keys(files))
        return Bundle(verify.check_payload(name, payload_bytes), name)
    name = os.fspath(source)
    return Bundle(verify.load_verified(name), name)


# --------------------------------------------------------------------------- applying


def apply(sandbox: CapabilitySet | Bundle, *, kernel_abi: int | None = None) -> Applied:
    """Sandbox the calling process, irreversibly: Landlock, ``no_new_privs``, then seccomp.

    Every thread the process starts afterwards, and every program it runs, inherits the
    sandbox; nothing can lift it. The process must have a single thread (Landlock restricts
    the calling thread only, and the others would stay free): call it early. Import what
    you need first, since the process may no longer read its own library afterwards.
    ``kernel_abi`` lowers the Landlock ABI used (tests). Raises ``SandboxError`` when the
    kernel cannot enforce what was asked, before anything is applied.
    """
    if isinstance(sandbox, Bundle):
        return sandbox.apply(kernel_abi=kernel_abi)
    if not isinstance(sandbox, CapabilitySet):
        raise TypeError(f"apply() takes a CapabilitySet or a Bundle, not {type(sandbox).__name__}")
    compilation = compile_profile(sandbox, "linux", unsigned=True)
    from nonoc.launch import verify

    payload_bytes, _ = verify.parse_envelope(CAPABILITIES_FILE, compilation.data)
    return _apply_payload(
        verify.check_payload(CAPABILITIES_FILE, payload_bytes),
        CAPABILITIES_FILE,
        kernel_abi=kernel_abi,
    )


def thread_count() -> int:
    """How many threads this process has (from ``/proc/self/task``)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 1


def _apply_payload(payload: Mapping[str, Any], name: str, *, kernel_abi: int | None) -> Applied:
    """Plan, then enforce a verified payload on this process, without exec."""
    from nonoc.launch import apply as launcher
    from nonoc.launch import compat
    from nonoc.launch import plan as planning
    from nonoc.launch import seccomp as filters

    if not sys.platform.startswith("linux"):
        # The macOS launcher could confine this process too (sandbox_init_with_parameters),
        # but nothing here can test that without a Mac: not offered rather than unverified.
        raise SandboxError(f"apply() sandboxes a Linux process; on {sys.platform} use `nono exec`")
    linux = payload.get("linux")
    if not isinstance(linux, dict) or not isinstance(linux.get("landlock"), dict):
        raise NonoError(f"{name}: the bundle has no Linux Landlock table")
    threads = thread_count()
    if threads > 1:
        raise SandboxError(
            f"cannot sandbox a process with {threads} threads: Landlock restricts only the calling "
            "thread, so the others would stay unrestricted",
            notes=("call apply() before starting threads (or in a child process)",),
        )
    plan = planning.build(
        linux["landlock"], launcher.linux_provenance(payload), kernel_abi=kernel_abi
    )
    warnings: list[str] = []
    if plan.report.state != compat.FULLY:
        from nonoc.launch import report

        warnings.extend(report.warnings(plan))
    seccomp = linux.get("seccomp")
    program = None
    if seccomp:
        program = filters.decode(seccomp)
        if seccomp.get("needs_listener"):
            warnings.append(
                "the seccomp filter asks a supervisor about some calls; there is none here, so they "
                "fail with ENOSYS"
            )
    applied = Applied(
        state=plan.report.state,
        kernel_abi=plan.report.kernel_abi,
        grants=len(plan.grants),
        denies=len(plan.denies),
        ports=len(plan.ports),
        seccomp=program is not None,
        warnings=tuple(warnings),
    )
    launcher.enforce(plan)
    if program is not None:
        filters.install(program)
    return applied
