"""Apply a verified bundle to this process and exec the command: the launcher's last steps.

Order (docs/architecture.md): find the command; build the plan (paths, denies, kernel
ABI); create the Landlock ruleset and add every rule; ``no_new_privs``;
``landlock_restrict_self``; install the seccomp filter, if the bundle has one; ``execve``.
Exit codes when we do not exec: 127 command not found, 126 sandbox cannot be applied
(raised as ``SandboxError``), 1 nono's own errors (``NonoError``). Once exec succeeds the
exit code is the command's own: the launcher is gone. Standard library only.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # C module: ``signal`` builds enums (~0.6 ms)
import errno
import os
import sys

from nonoc.launch import landlock

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs the launcher milliseconds at run time
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, TextIO

    from nonoc.launch.plan import Plan

EXIT_NOT_FOUND = 127
EXIT_CANNOT_RUN = 126


def find_command(name: str, environ: Mapping[str, str]) -> str | None:
    """The executable ``name`` names, searched on ``$PATH`` like ``execvp``; ``None`` if absent."""
    if "/" in name:
        return name if os.path.isfile(name) else None
    for directory in environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def child_environment(launch: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """The command's environment: ours, less ``env_strip`` (but ``env_keep``), plus ``env_set``.

    ``env_strip`` entries are exact names or ``PREFIX*`` patterns.
    """
    env = dict(environ)
    keep = set(launch.get("env_keep") or ())
    for pattern in launch.get("env_strip") or ():
        pattern = str(pattern)
        if pattern.endswith("*"):
            doomed = [k for k in env if k.startswith(pattern[:-1]) and k not in keep]
        else:
            doomed = [pattern] if pattern in env and pattern not in keep else []
        for key in doomed:
            del env[key]
    for key, value in dict(launch.get("env_set") or {}).items():
        env[str(key)] = str(value)
    return env


def linux_provenance(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """Rule id -> provenance for the Linux rules (``payload["provenance"]["linux"]``).

    When the payload's provenance is still ``Deferred`` (``nono exec`` on a memo), so is
    the answer: it is decoded only if a message or the plan's account needs it.
    """
    recorded = payload.get("provenance")
    if recorded is not None and not isinstance(recorded, dict):
        from nonoc.launch.verify import Deferred

        if isinstance(recorded, Deferred):
            return Deferred(lambda: _linux_section(recorded.resolve()))
    return _linux_section(recorded)


def _linux_section(recorded: object) -> dict[str, Any]:
    per_target = recorded.get("linux") if isinstance(recorded, dict) else None
    return per_target if isinstance(per_target, dict) else {}


def sandbox_error(message: str) -> Exception:
    """A ``SandboxError`` (exit 126); ``nonoc.errors`` is imported only when one is raised.

    Every caller raises before ``restrict_self`` succeeds, while the import is still allowed.
    """
    from nonoc.launch.failure import sandbox_error as build

    return build(message)


def enforce(plan: Plan) -> None:
    """Create the ruleset, add every rule, set no_new_privs and restrict this thread.

    Raises ``SandboxError`` naming the rule the kernel refused. Closes the plan's descriptors.
    """
    from nonoc.launch import rights

    try:
        try:
            ruleset = landlock.create_ruleset(plan.handled_fs, plan.handled_net, plan.scoped)
        except OSError as exc:
            raise sandbox_error(
                f"cannot create the Landlock ruleset: {exc.strerror} (errno {exc.errno})"
            ) from None
        try:
            for grant in plan.grants:
                try:
                    landlock.add_path_rule(ruleset, grant.fd, rights.mask("fs", grant.access))
                except OSError as exc:
                    raise sandbox_error(
                        f"the kernel refused the rule for {grant.path} "
                        f"({plan.describe(grant.rule_id)}): "
                        f"{exc.strerror} (errno {exc.errno})"
                    ) from None
            for port in plan.ports:
                try:
                    landlock.add_port_rule(ruleset, port.port, rights.mask("net", port.access))
                except OSError as exc:
                    raise sandbox_error(
                        f"the kernel refused the rule for TCP port {port.port} "
                        f"({plan.describe(port.rule_id)}): {exc.strerror}"
                    ) from None
            try:
                landlock.set_no_new_privs()
                landlock.restrict_self(ruleset)
            except OSError as exc:
                raise sandbox_error(
                    f"cannot enforce the Landlock ruleset: {exc.strerror} (errno {exc.errno})"
                ) from None
        finally:
            os.close(ruleset)
    finally:
        plan.close()


def apply_payload(
    payload: Mapping[str, Any],
    argv: Sequence[str],
    *,
    dry_run: bool = False,
    verbose: bool = False,
    environ: Mapping[str, str] | None = None,
    kernel_abi: int | None = None,
    bundle_name: str = "bundle",
    out: TextIO | None = None,
    err: TextIO | None = None,
    before_exec: Callable[[Plan], None] | None = None,
) -> int:
    """Sandbox this process as ``payload`` (a verified bundle payload) says, then exec ``argv``.

    Returns only without exec: 0 after a dry run, 127 when the command is not found.
    Raises ``SandboxError`` (126) or ``NonoError`` (1) otherwise. ``kernel_abi`` simulates an
    older kernel (tests). ``out``/``err`` default to ``sys.stdout``/``sys.stderr``.

    ``before_exec(plan)`` is called once the sandbox is complete (Landlock, then the
    bundle's filter) and right before ``execve``, with the plan the ruleset was built from
    (its descriptors closed): ``nono run``'s child installs the supervisor's filter there,
    which must come last so that nothing of the launcher's own set-up is notified, and
    tells its parent what the ruleset grants. It runs sandboxed, so it may only use what
    is already imported; what it raises is reported like a failure to apply the sandbox.
    ``nono exec`` passes none.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    linux = payload.get("linux")
    if not argv or not isinstance(linux, dict) or not isinstance(linux.get("landlock"), dict):
        from nonoc.launch.failure import nono_error

        if not argv:
            raise nono_error("no command to run", exit_code=2)
        raise nono_error(f"{bundle_name}: the bundle has no Linux Landlock table")
    launch = linux.get("launch")
    if not isinstance(launch, dict):
        launch = {}
    env = child_environment(launch, os.environ if environ is None else environ)
    command = find_command(argv[0], env)

    from nonoc.launch import compat
    from nonoc.launch import plan as planning

    provenance = linux_provenance(payload)
    plan = planning.build(linux["landlock"], provenance, environ=environ, kernel_abi=kernel_abi)
    seccomp = linux.get("seccomp")
    if dry_run or verbose or plan.report.state != compat.FULLY:
        # The account of the plan is only imported when something is to be said.
        from nonoc.launch import report
    if dry_run:
        plan.close()
        out.write(report.render(plan, payload, bundle_name, argv, command, seccomp))
        out.flush()
        return 0 if command else EXIT_NOT_FOUND
    if command is None:
        plan.close()
        err.write(f"nono: {argv[0]}: command not found\n")
        return EXIT_NOT_FOUND
    if verbose:
        err.write(report.render(plan, payload, bundle_name, argv, command, seccomp))
    if plan.report.state != compat.FULLY:
        for line in report.warnings(plan):
            err.write(f"nono: warning: {line}\n")
    if seccomp and seccomp.get("needs_listener"):
        # Without a listener the kernel fails the notified calls with ENOSYS: closed, not open.
        err.write(
            "nono: warning: the seccomp filter asks a supervisor about some calls; nono exec has "
            "none, so they fail with ENOSYS (nono run provides one)\n"
        )
    err.flush()
    # Everything used after enforce() is imported and checked before it: once restricted,
    # this process may no longer be allowed to read Python's own library.
    program = None
    if seccomp:
        from nonoc.launch import seccomp as filters

        program = filters.decode(seccomp)
    enforce(plan)
    if program is not None:
        filters.install(program)
    if before_exec is not None:
        before_exec(plan)
    return _exec(command, argv, env, err)


def _exec(command: str, argv: Sequence[str], env: Mapping[str, str], err: TextIO) -> int:
    """``execve`` the command; only returns (with 126 or 127) when the kernel refuses."""
    ready_for_exec()
    try:
        os.execve(command, list(argv), dict(env))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            err.write(f"nono: {argv[0]}: command not found\n")
            return EXIT_NOT_FOUND
        hint = ""
        if exc.errno in (errno.EACCES, errno.EPERM):
            # The kernel also opens the ELF interpreter for execution: it needs `exec` too.
            hint = (
                " (the sandbox must allow executing it and its ELF interpreter,"
                " e.g. /lib64/ld-linux-*.so)"
            )
        err.write(f"nono: cannot execute {command}: {exc.strerror}{hint}\n")
        return EXIT_CANNOT_RUN
    return EXIT_CANNOT_RUN  # not reached: execve returns only by raising


def ready_for_exec() -> None:
    """Undo what this process would otherwise pass on to the command at ``execve``.

    Python ignores SIGPIPE and SIGXFSZ; an ignored signal stays ignored across execve,
    which would change how the command behaves in a pipe, so they get their defaults back.
    Our buffered output is flushed: exec discards it.
    """
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(_signal, name):
            _signal.signal(getattr(_signal, name), _signal.SIG_DFL)
    sys.stdout.flush()
    sys.stderr.flush()
