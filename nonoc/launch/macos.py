"""Apply a bundle's Seatbelt profile to this process, then exec the command (macOS).

Standard library and ctypes only: this runs on ``nono exec``'s hot path.

The profile is applied in the launcher itself, just before ``execve``, with
``sandbox_init_with_parameters`` from libsystem_sandbox (through ctypes); the sandbox is
inherited across exec and cannot be lifted. Where that symbol is missing, the launcher
execs ``/usr/bin/sandbox-exec -p PROFILE -D NAME=VALUE… CMD ARGS…`` instead.

The SBPL text never changes at launch. What depends on the host is passed as Seatbelt
parameters, which the profile reads with ``(param "NAME")``; a parameter's value is data
given to libsandbox, never parsed as SBPL, so a ``"`` in a home directory cannot change
the profile. The artifact lists the parameters to compute:

* ``variable``: a path variable (``HOME``, ``CWD``…) as ``nonoc.paths`` resolves it here;
* ``realpath``: a rule's path with its variable expanded and every symlink resolved
  (Seatbelt matches resolved paths: ``$TMPDIR`` is under ``/private/var`` on macOS);
* ``ancestors_regex``: an ERE matching each directory above a denied path, written and
  resolved (the profile refuses to unlink or rename them);
* ``proxy_port``: the port of the local proxy ``nono run`` started (``NONO_PROXY_PORT``).

Exit codes, as on Linux: 126 when the sandbox cannot be applied, 127 when the command is
not found; otherwise the command replaces this process and its status is the status.
"""

from __future__ import annotations

import errno
import os
import sys

from nonoc import paths
from nonoc.launch.apply import find_command, ready_for_exec
from nonoc.launch.failure import sandbox_error

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing, ctypes and nonoc.errors cost the launcher milliseconds at run time
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

FORMAT = "nono-seatbelt/1"
SANDBOX_EXEC = "/usr/bin/sandbox-exec"
PROXY_PORT_ENV = "NONO_PROXY_PORT"
#: Where sandbox_init_with_parameters lives: libSystem re-exports libsystem_sandbox.
LIBRARIES = ("/usr/lib/libSystem.B.dylib", "/usr/lib/system/libsystem_sandbox.dylib")
EXIT_CANNOT_APPLY = 126
EXIT_NOT_FOUND = 127
_ERE_SPECIAL = frozenset(".[]()*+?{}|^$\\")


def ere_quote(text: str) -> str:
    """Quote ``text`` for a POSIX extended regular expression."""
    return "".join("\\" + c if c in _ERE_SPECIAL else c for c in text)


def ancestors(path: str) -> list[str]:
    """The directories above ``path``, from ``/`` down: ``/a/b/c`` → ``/``, ``/a``, ``/a/b``."""
    parts = [part for part in path.split("/") if part]
    return ["/"] + ["/" + "/".join(parts[:n]) for n in range(1, len(parts))]


def parameters(
    section: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    cwd: str | None = None,
    proxy_port: int | None = None,
    realpath: Callable[[str], str] = os.path.realpath,
    exists: Callable[[str], bool] = os.path.lexists,
) -> dict[str, str]:
    """The value of every parameter ``section`` declares, for this host.

    Raises ``SandboxError`` (exit 126) naming what is missing: an unset variable, a
    required path that does not exist, the proxy's port.
    """
    env = os.environ if environ is None else environ
    values = paths.host_variables(env)
    if cwd is not None:
        values["CWD"] = cwd

    def expand(template: str) -> str:
        try:
            return paths.expand(template, values)
        except paths.UnsetVariable as exc:
            raise sandbox_error(
                f"${exc.name} is not set, and the profile's path {template!r} needs it",
                notes=(f"set {exc.name} in the environment nono runs in",),
            ) from None

    result: dict[str, str] = {}
    for spec in section.get("parameters", ()):
        name, kind = spec["name"], spec["kind"]
        if kind == "variable":
            result[name] = expand("$" + spec["variable"])
        elif kind == "realpath":
            written = expand(spec["path"])
            if not spec.get("optional", True) and not exists(written):
                raise sandbox_error(f"required path {written} ({spec['path']}) does not exist")
            result[name] = realpath(written)
        elif kind == "ancestors_regex":
            above: set[str] = set()
            for template in spec["paths"]:
                written = expand(template)
                for path in (written, realpath(written)):
                    above.update(ancestors(path))
            result[name] = "^(" + "|".join(ere_quote(p) for p in sorted(above)) + ")$"
        elif kind == "proxy_port":
            result[name] = str(_proxy_port(proxy_port, env))
        else:
            raise sandbox_error(
                f"the bundle asks for a Seatbelt parameter of unknown kind {kind!r}",
                notes=("this launcher is older than the compiler that made the bundle",),
            )
    return result


def _proxy_port(explicit: int | None, env: Mapping[str, str]) -> int:
    raw = str(explicit) if explicit is not None else env.get(PROXY_PORT_ENV, "")
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise sandbox_error(
            "the profile allows only the local proxy, but no proxy port was given "
            f"({PROXY_PORT_ENV}={raw!r})",
            notes=("`nono run` starts the proxy and sets it; with `nono exec`, set it yourself",),
        )
    return int(raw)


def sandbox_exec_argv(sbpl: str, params: Mapping[str, str], command: Sequence[str]) -> list[str]:
    """The fallback command line: ``sandbox-exec -p PROFILE -D NAME=VALUE… COMMAND…``."""
    argv = [SANDBOX_EXEC, "-p", sbpl]
    for name in sorted(params):
        argv += ["-D", f"{name}={params[name]}"]
    return argv + list(command)


def _sandbox_init() -> Any | None:
    """``sandbox_init_with_parameters`` and ``sandbox_free_error`` through ctypes, or None."""
    if sys.platform != "darwin":
        return None
    import ctypes

    for library in LIBRARIES:
        try:
            handle = ctypes.CDLL(library)
            init = handle.sandbox_init_with_parameters
            free = handle.sandbox_free_error
        except (OSError, AttributeError):
            continue
        init.argtypes = [
            ctypes.c_char_p,
            ctypes.c_uint64,
            ctypes.POINTER(ctypes.c_char_p),
            ctypes.POINTER(ctypes.c_void_p),
        ]
        init.restype = ctypes.c_int
        free.argtypes = [ctypes.c_void_p]
        free.restype = None
        return init, free
    return None


def apply_profile(sbpl: str, params: Mapping[str, str]) -> bool:
    """Confine this process with ``sbpl``; False when this system has no sandbox_init to call.

    Raises ``SandboxError`` when Seatbelt refuses the profile (with libsandbox's message).
    """
    functions = _sandbox_init()
    if functions is None:
        return False
    import ctypes

    init, free = functions
    flat: list[bytes | None] = []
    for name in sorted(params):
        flat += [name.encode(), params[name].encode()]
    flat.append(None)
    array = (ctypes.c_char_p * len(flat))(*flat)
    error = ctypes.c_void_p()
    if init(sbpl.encode(), 0, array, ctypes.byref(error)) != 0:
        message = (
            ctypes.string_at(error.value).decode(errors="replace")
            if error.value
            else "no reason given"
        )
        if error.value:
            free(error)
        raise sandbox_error(f"Seatbelt refused the profile: {message.strip()}")
    return True


def resolve_command(command: str, environ: Mapping[str, str]) -> str | None:
    """The executable ``command`` names, looked up in ``PATH`` unless it holds a slash.

    A path with a slash only has to exist: what it is, ``execve`` says (exit 126).
    """
    if "/" in command:
        return command if os.path.exists(command) else None
    return find_command(command, environ)


def exec_command(
    section: Mapping[str, Any],
    argv: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    proxy_port: int | None = None,
) -> int:
    """Apply ``section`` (the bundle's ``macos.seatbelt``) and exec ``argv`` in ``environ``.

    Returns only on failure, with the exit code after printing why: 127 when the command
    is not found, 126 when the sandbox cannot be applied or the command cannot be run.
    """
    env = dict(os.environ if environ is None else environ)
    try:
        if section.get("format") != FORMAT:
            raise sandbox_error(
                f"the bundle's Seatbelt artifact is {section.get('format')!r}; "
                f"this launcher reads {FORMAT!r}"
            )
        if not argv:
            raise sandbox_error("no command to run")
        params = parameters(section, env, proxy_port=proxy_port)
        executable = resolve_command(argv[0], env)
        if executable is None:
            print(f"nono: {argv[0]}: command not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        if not apply_profile(section["sbpl"], params):
            if not os.path.exists(SANDBOX_EXEC):
                raise sandbox_error(
                    "Seatbelt is not available here: no sandbox_init_with_parameters "
                    f"and no {SANDBOX_EXEC}"
                )
            return _execve(
                SANDBOX_EXEC,
                sandbox_exec_argv(section["sbpl"], params, [executable, *argv[1:]]),
                env,
            )
        return _execve(executable, list(argv), env)
    except Exception as exc:
        # A NonoError can only exist if its module was loaded (see nonoc.launch.failure).
        errors = sys.modules.get("nonoc.errors")
        if errors is None or not isinstance(exc, errors.NonoError):
            raise
        print(exc.render(), file=sys.stderr)
        return int(exc.exit_code)


def _execve(path: str, argv: list[str], env: Mapping[str, str]) -> int:
    """Replace this process with ``path``; on failure, say why and return the exit code."""
    ready_for_exec()
    try:
        os.execve(path, argv, dict(env))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            print(f"nono: {argv[0]}: command not found", file=sys.stderr)
            return EXIT_NOT_FOUND
        reason = (
            "the sandbox does not allow executing it" if exc.errno == errno.EPERM else exc.strerror
        )
        print(f"nono: cannot execute {path}: {reason}", file=sys.stderr)
    return EXIT_CANNOT_APPLY


def describe(
    section: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    proxy_port: int | None = None,
) -> str:
    """What ``--dry-run`` prints: the parameters as this host resolves them, then the profile."""
    params = parameters(section, environ, proxy_port=proxy_port)
    lines = [f";; parameter {name} = {value!r}" for name, value in sorted(params.items())]
    return "\n".join([*lines, "", str(section["sbpl"])])
