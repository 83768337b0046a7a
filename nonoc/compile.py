"""Compile a profile into a signed bundle: front end, backends, payload, signature, cache.

``compile_profile`` is the whole pipeline behind ``nonoc compile`` (and ``nono run``'s
compile-on-the-fly). It first asks the cache, computing the request from cheap facts only
(file names, ``stat``, hashes), so a hit imports neither lark, pydantic nor jinja2; the
heavy modules are imported on a miss.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from nonoc import __version__
from nonoc.bundle import cache
from nonoc.bundle.keys import DEFAULT_KEY, ensure_key, key_fingerprint
from nonoc.errors import NonoError, UsageError
from nonoc.launch.verify import config_dir

if TYPE_CHECKING:
    from nonoc.backends.host import HostFacts
    from nonoc.bundle.payload import TargetBuild

TARGETS: tuple[str, ...] = ("linux", "macos")

#: Backend modules by name; a module that does not exist yet is skipped.
BACKEND_MODULES: tuple[str, ...] = (
    "nonoc.backends.landlock",
    "nonoc.backends.seccomp",
    "nonoc.backends.seatbelt",
)

#: ``(source, target) -> Policy`` or an object with ``policy`` and ``diagnostics`` (a Resolution).
Loader = Callable[[str, str], Any]


@dataclass(frozen=True)
class Compilation:
    """The result of a compile: the bundle bytes and what to tell the user."""

    data: bytes
    profile: str
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    cached: bool


def parse_targets(targets: str | Iterable[str]) -> tuple[str, ...]:
    """``"linux"``, ``"macos"``, ``"all"`` or a list of them → the sorted tuple of targets."""
    wanted = [targets] if isinstance(targets, str) else list(targets)
    result: set[str] = set()
    for target in wanted:
        if target == "all":
            result.update(TARGETS)
        elif target in TARGETS:
            result.add(target)
        else:
            raise UsageError(f"unknown target {target!r}; expected linux, macos or all")
    if not result:
        raise UsageError("no target given")
    return tuple(sorted(result))


def compile_bundle(
    source: str | os.PathLike[str],
    targets: str | Iterable[str] = "linux",
    arch: str | None = None,
    key: str = DEFAULT_KEY,
    **options: Any,
) -> bytes:
    """Compile ``source`` (a ``.nono`` file or a profile name) and return the bundle's bytes.

    Options are those of ``compile_profile``; warnings are dropped (use that function to
    see them).
    """
    return compile_profile(source, targets, arch, key, **options).data


def compile_profile(
    source: str | os.PathLike[str],
    targets: str | Iterable[str] = "linux",
    arch: str | None = None,
    key: str = DEFAULT_KEY,
    *,
    profile: str | None = None,
    unsigned: bool = False,
    use_cache: bool | None = None,
    landlock_abi: int | None = None,
    flags: Sequence[tuple[str, str]] = (),
    loader: Loader | None = None,
    backends: Sequence[ModuleType] | None = None,
) -> Compilation:
    """Compile ``source`` for ``targets`` into a bundle, from the cache when nothing changed.

    ``arch`` defaults to this machine's; ``key`` is a key name or a PEM file path (the
    default key is created and trusted on first use); ``unsigned`` writes an envelope
    without signatures. ``flags`` are ``(label, statements)`` pairs layered over the
    profile (``nono run``'s command-line grants, see ``nonoc.resolve.resolve``).
    ``loader`` and ``backends`` replace the front end and the backend modules (tests,
    embedding). The cache is used unless ``use_cache`` is False; with a replaced loader or
    backends, only if it is True: the cache cannot know what a replacement depends on.
    """
    from nonoc.launch.verify import native_arch

    target_list = parse_targets(targets)
    source_text = os.fspath(source)
    arch = arch or native_arch()
    if use_cache is None:
        use_cache = loader is None and backends is None
    if use_cache:
        request = _request(
            source_text, target_list, arch, key, profile, unsigned, landlock_abi, flags
        )
        hit = cache.lookup(cache.request_digest(request)) if request is not None else None
        if hit is not None:
            return Compilation(hit.data, _profile_of(hit.data), hit.warnings, (), cached=True)

    notes: list[str] = []
    signing_key = None
    if not unsigned:
        signing_key, created = ensure_key(key)
        if created:
            notes.append(
                f"created signing key '{signing_key.name}' (id {signing_key.keyid[:16]}) in "
                f"{signing_key.where()}; nono exec on this machine trusts it"
            )
    data, policy_name, warnings, sources = _compile(
        source_text, target_list, arch, landlock_abi, loader or _front_end(profile, flags), backends
    )
    from nonoc.bundle.dsse import seal

    bundle = seal(data, signing_key)
    if use_cache:
        # Recomputed: creating the default key just now changed the key's fingerprint.
        request = _request(
            source_text, target_list, arch, key, profile, unsigned, landlock_abi, flags
        )
        files = _locate_sources(sources)
        if request is not None and files is not None:
            cache.store(cache.request_digest(request), bundle, files, warnings)
    return Compilation(bundle, policy_name, tuple(warnings), tuple(notes), cached=False)


def _compile(
    source: str,
    targets: tuple[str, ...],
    arch: str,
    landlock_abi: int | None,
    load: Loader,
    backends: Sequence[ModuleType] | None,
) -> tuple[bytes, str, list[str], dict[str, str]]:
    """The uncached pipeline; returns payload bytes, profile name, warnings, sources."""
    from nonoc.backends.host import HostFacts
    from nonoc.bundle.canonical import canonical_json
    from nonoc.bundle.payload import build_payload

    builds: dict[str, TargetBuild] = {}
    warnings: list[str] = []
    for target in targets:
        # A loader returns a Policy, or a Resolution (the policy and front-end warnings).
        loaded = load(source, target)
        policy = getattr(loaded, "policy", loaded)
        host = HostFacts.for_target(target, arch, landlock_abi)  # type: ignore[arg-type]
        builds[target] = _lower(policy, host, backends)
        for diagnostic in [*getattr(loaded, "diagnostics", ()), *builds[target].warnings]:
            # Both targets usually share the front end's warnings: say each once.
            if diagnostic.render() not in warnings:
                warnings.append(diagnostic.render())
    payload = build_payload(builds)
    sources = dict(payload["manifest"]["sources"])
    return canonical_json(payload), payload["manifest"]["profile"], warnings, sources


def _front_end(profile: str | None, flags: Sequence[tuple[str, str]]) -> Loader:
    from nonoc.resolve import resolve

    def load(source: str, target: str) -> Any:
        return resolve(source, target, profile=profile, flags=flags)  # type: ignore[arg-type]

    return load


def _lower(policy: Any, host: HostFacts, backends: Sequence[ModuleType] | None) -> TargetBuild:
    """Run every backend that serves ``host.target``; a target without one is an error."""
    from nonoc.bundle.payload import TargetBuild

    modules = [
        m
        for m in (backends if backends is not None else available_backends())
        if host.target in m.TARGETS
    ]
    if not modules:
        raise NonoError(f"this nonoc has no backend for target {host.target}")
    build = TargetBuild(policy=policy, artifacts={}, landlock_abi=host.landlock_abi)
    for module in modules:
        artifact, diagnostics = module.lower(policy, host)
        build.artifacts[module.NAME] = artifact
        build.warnings.extend(diagnostics)
    return build


def available_backends() -> list[ModuleType]:
    """The backend modules present in this installation, in ``BACKEND_MODULES`` order."""
    modules = []
    for name in BACKEND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # Only the backend itself being absent is tolerated; a broken import is a bug.
            if exc.name != name:
                raise
            continue
        if callable(getattr(module, "lower", None)):  # a package still being written has none
            modules.append(module)
    return modules


# --------------------------------------------------------------------------- cache key


def _request(
    source: str,
    targets: tuple[str, ...],
    arch: str,
    key: str,
    profile: str | None,
    unsigned: bool,
    landlock_abi: int | None,
    flags: Sequence[tuple[str, str]],
) -> dict[str, Any] | None:
    """Everything that shapes the bundle besides the source files' contents; None: uncacheable."""
    fingerprint = "unsigned" if unsigned else key_fingerprint(key)
    if fingerprint is None:
        return None  # no key yet: it is about to be made, and the bundle is not cached
    return {
        "compiler": compiler_identity(),
        "source": source,
        # The same name means another file in another directory, or a profile name that a
        # file in the working directory now shadows.
        "source_file": os.path.realpath(source) if os.path.isfile(source) else None,
        "profile": profile,
        "targets": list(targets),
        "arch": arch,
        "landlock_abi": landlock_abi,
        "key": fingerprint,
        "flags": [list(flag) for flag in flags],
        # A new user profile may shadow a built-in that this compile resolved by name.
        "user_profiles": cache.tree_stamp([os.path.join(config_dir(), "profiles")], (".nono",)),
    }


_IDENTITY: list[str] = []


def compiler_identity() -> str:
    """The compiler's version and a stamp of its code and shipped data (edits invalidate)."""
    if not _IDENTITY:
        package = os.path.dirname(os.path.realpath(__file__))
        # As ``nonoc.resources.data_dir`` finds them (that module costs pathlib's import).
        installed = os.path.join(package, "_data")
        data_root = installed if os.path.isdir(installed) else os.path.dirname(package)
        roots = [package] + [
            os.path.join(data_root, f) for f in ("grammar", "backends", "stdlib", "profiles")
        ]
        _IDENTITY.append(f"{__version__}:{cache.tree_stamp(roots)}")
    return _IDENTITY[0]


def _locate_sources(sources: Mapping[str, str]) -> dict[str, str] | None:
    """Map each source's display name back to the one real file it names.

    The front end names shipped files ``stdlib/x.nono`` and ``profiles/x.nono``, a user
    profile found by name by that name, and other files by their path as given (relative
    to the working directory, or to the importing file's display name). Returns
    ``{real path: sha256}``, or None, so that the result is not cached, when a source
    cannot be found or more than one file fits: a hit must re-check exactly the files
    that were read.
    """
    from nonoc.resources import data_dir

    bases = [os.getcwd(), os.path.join(config_dir(), "profiles"), str(data_dir("profiles").parent)]
    located: dict[str, str] = {}
    for name, digest in sources.items():
        names = [name] if name.endswith(".nono") else [name, f"{name}.nono"]
        candidates = {os.path.join(base, n) for n in names for base in bases}  # absolute n wins
        found = set()
        for candidate in candidates:
            try:
                if cache.file_digest(candidate) == digest:
                    found.add(os.path.realpath(candidate))
            except OSError:
                continue
        if len(found) != 1:
            return None
        located[found.pop()] = digest
    return located or None


def _profile_of(bundle: bytes) -> str:
    import base64
    import json

    payload = json.loads(base64.b64decode(json.loads(bundle)["payload"]))
    return str(payload["manifest"]["profile"])
