"""Before anything runs: choose the profile, turn flags into policy, compile or hit the cache.

The chosen profile is, in order: ``--profile`` (a built-in or user profile name, or a
``.nono`` file); the ``default_profile`` setting; the profile named ``default`` when one is
installed (user or shipped); else ``MINIMAL_PROFILE``, a fallback built into nono run. The
flags are layered over it as an anonymous profile (``nonoc.runtime.flags``), and the whole
is compiled by ``nonoc.compile.compile_profile``, whose cache answers a repeated command
line without parsing anything: a cache hit imports neither lark, pydantic nor jinja2.

In front of the compile cache sits the run memo (``memo``): a repeated command line is
answered without importing the compiler at all, which is what keeps a cached ``nono run``
within 1.5× of ``nono exec``.

The bundle's bytes come from this process's own compile, from the compile cache (whose
index is authenticated with the local secret and whose object is checked against the
digest the index names) or from the memo (authenticated the same way, kept in the state
directory); so its payload is read here without a second signature check.
"""

from __future__ import annotations

import os
import sys

from nonoc.runtime.config import Settings, atomic_write, state_dir
from nonoc.runtime.flags import RunRequest, UsageError, statements

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a cached run milliseconds (docs/performance.md)
    from typing import Any

#: ``nonoc.bundle.keys.DEFAULT_KEY`` (importing that module costs a cached run its budget).
DEFAULT_KEY = "default"

#: The fallback profile: what a plain process needs (stdlib ``system``), nothing of the user's.
MINIMAL_PROFILE = """\
# nono run's fallback profile, used when neither --profile, the default_profile setting nor
# an installed profile named 'default' chooses one. Written by nono; rewritten when changed.
import stdlib "system"

profile minimal "Run the system's programs; nothing of the user's unless a flag grants it" {
  use system
}
"""


class ProfileChoice:
    """Which profile a run starts from: what the compiler gets, and why it was chosen."""

    __slots__ = ("origin", "source")

    def __init__(self, source: str, origin: str) -> None:
        self.source, self.origin = source, origin

    def __repr__(self) -> str:
        return f"ProfileChoice({self.source!r}, {self.origin!r})"


class Prepared:
    """A compiled, ready-to-apply run: the bundle, its payload, and what to tell the user."""

    # Plain classes: see nonoc.runtime.flags.Flag.
    __slots__ = (
        "cached",
        "choice",
        "digest",
        "flags",
        "notes",
        "payload",
        "profile",
        "request",
        "warnings",
    )

    def __init__(
        self,
        request: RunRequest,
        choice: ProfileChoice,
        flags: list[tuple[str, str]],
        digest: str,
        payload: dict[str, Any],
        profile: str,
        cached: bool,
        warnings: tuple[str, ...],
        notes: tuple[str, ...],
    ) -> None:
        self.request, self.choice, self.flags = request, choice, flags
        #: BLAKE2b-256 of the bundle's bytes (what an audit record would name).
        self.digest, self.payload, self.profile = digest, payload, profile
        self.cached, self.warnings, self.notes = cached, warnings, notes


def shipped_profiles_dir() -> str:
    """The shipped ``profiles/`` folder (as ``nonoc.resources`` finds it, without pathlib)."""
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    installed = os.path.join(package, "_data", "profiles")
    return (
        installed
        if os.path.isdir(installed)
        else os.path.join(os.path.dirname(package), "profiles")
    )


def user_profiles_dir() -> str:
    """``$XDG_CONFIG_HOME/nono/profiles``."""
    from nonoc.launch.verify import config_dir

    return os.path.join(config_dir(), "profiles")


def profile_installed(name: str) -> bool:
    """Whether a user or shipped profile file named ``name`` exists."""
    return any(
        os.path.isfile(os.path.join(d, f"{name}.nono"))
        for d in (user_profiles_dir(), shipped_profiles_dir())
    )


def minimal_profile_path() -> str:
    """The fallback profile's file, in nono's state directory (never granted to an agent).

    Rewritten whenever its content differs from ``MINIMAL_PROFILE``.
    """
    path = os.path.join(state_dir(), "run", "minimal.nono")
    wanted = MINIMAL_PROFILE.encode()
    try:
        with open(path, "rb") as handle:
            if handle.read(len(wanted) + 1) == wanted:
                return path
    except OSError:
        pass
    atomic_write(path, wanted, 0o644)
    return path


def choose_profile(requested: str | None, settings: Settings) -> ProfileChoice:
    """The profile to start from (see the module docstring)."""
    if requested:
        return ProfileChoice(requested, "--profile")
    if settings.default_profile:
        return ProfileChoice(settings.default_profile, "the default_profile setting")
    if profile_installed("default"):
        return ProfileChoice("default", "the installed profile 'default'")
    return ProfileChoice(
        minimal_profile_path(), "nono run's built-in fallback (no 'default' profile is installed)"
    )


def prepare(request: RunRequest, settings: Settings) -> Prepared:
    """Compile (or fetch from the memo or the cache) the bundle for ``request``.

    Raises ``NonoError``/``UsageError`` for bad flags, profiles and policies.
    """
    from nonoc.launch.verify import check_payload, native_arch, native_target, parse_envelope
    from nonoc.runtime.run import memo

    pairs = statements(request)
    choice = choose_profile(request.profile, settings)
    key = settings.signing_key or DEFAULT_KEY
    target, arch = native_target(), native_arch()
    name = memo.request_key(choice.source, pairs, key, target, arch)
    hit = memo.lookup(name, key)
    if hit is not None:
        from nonoc.launch.verify import Deferred, check_document

        payload = check_document(f"<{hit.profile} for nono run>", hit.view)
        # Provenance is decoded only if a message or the account needs it, as nono exec does.
        payload["provenance"] = Deferred(hit.provenance)
        return Prepared(
            request, choice, pairs, hit.digest, payload, hit.profile, True, hit.warnings, ()
        )

    from nonoc.compile import compile_profile

    before = memo.stamps(key)
    compilation = compile_profile(choice.source, target, arch, key=key, flags=pairs)
    shown = f"<{compilation.profile} for nono run>"
    payload = check_payload(shown, parse_envelope(shown, compilation.data)[0])
    memo.remember(name, before, compilation.data, payload, compilation.warnings)
    if not compilation.cached and settings.cache_size is not None:
        from nonoc.runtime.run.cachelimit import prune

        prune(settings.cache_size, keep=compilation.data)
    return Prepared(
        request,
        choice,
        pairs,
        memo.digest(compilation.data),
        payload,
        compilation.profile,
        compilation.cached,
        compilation.warnings,
        compilation.notes,
    )


def flag_path_warnings(request: RunRequest) -> list[str]:
    """One line per path flag whose path is missing: the grant is skipped.

    A flag is an optional grant: nono warns and runs without it. A ``--*-file`` flag that
    names a directory is a usage error (``UsageError``): the user meant the tree flag.
    """
    from nonoc.paths import UnsetVariable, expand, host_variables
    from nonoc.runtime.flags import grant_paths

    values = host_variables()
    lines = []
    for option, value, template in grant_paths(request):
        shown = f"{option} {value}".rstrip()
        try:
            path = expand(template, values)
        except UnsetVariable as exc:
            lines.append(f"{shown}: ${exc.name} is not set; the grant is skipped")
            continue
        if not os.path.exists(path):
            lines.append(f"{shown}: {path} does not exist; the grant is skipped")
        elif option.endswith("-file") and os.path.isdir(path):
            tree = option[: -len("-file")]
            raise UsageError(f"{shown}: {path} is a directory; {tree} grants a directory tree")
    return lines


def say(message: str) -> None:
    """Print a ``nono: …`` line on stderr."""
    sys.stderr.write(f"nono: {message}\n")
