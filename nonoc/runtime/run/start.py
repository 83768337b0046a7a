"""The sequence ``nono run`` and ``nono wrap`` share, from a parsed command line to exec.

1. settings (``nonoc.runtime.config``), then ``prepare``: profile + flags → bundle (cached);
2. messages: compile notes, warnings (when compiled now, or with ``-v``), flag paths that
   do not exist;
3. a private copy of the payload with environment hygiene (``nonoc.runtime.envhygiene``)
   and ``--keep-env`` folded into its ``launch`` section;
4. ``--dry-run``: print the account and stop; else the blocked-command check;
5. ``nono wrap``: apply and exec in this process. ``nono run``: ``session.run_child``.

Exit codes follow ``nono exec``: the command's own (128+N when killed by signal N); 126
when the sandbox cannot be applied or the command is blocked; 127 when it is not found;
1 for nono's own errors; 2 for usage errors.
"""

from __future__ import annotations

import os
import sys

from nonoc.runtime.flags import RunRequest, UsageError, command_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a cached run milliseconds (docs/performance.md)
    from collections.abc import Mapping, Sequence
    from typing import Any

EXIT_NOT_FOUND = 127


def start(request: RunRequest, *, wrap: bool = False, hooks: Sequence[Any] | None = None) -> int:
    """Run ``request``; return the exit code (``nono wrap`` returns only on failure).

    ``hooks`` replaces ``parent_hooks``' choice (tests, embedding).
    """
    from nonoc.runtime.config import load_settings
    from nonoc.runtime.run.prepare import flag_path_warnings, prepare, say

    if request.json and not request.dry_run:
        raise UsageError("--json goes with --dry-run (the account is the structured output)")
    if not request.command and not request.dry_run:
        raise UsageError("missing the command to run (nono run [FLAGS] -- CMD [ARGS...])")
    if request.session:
        from nonoc.runtime.run.options import session_options

        if wrap:
            raise UsageError(f"{request.session[0][0]} needs nono run (nono wrap keeps no parent)")
        session_options(request)  # contradictions are usage errors before any work
    settings = load_settings(warn=lambda message: say(f"warning: {message}"))
    prepared = prepare(request, settings)
    for note in prepared.notes:
        say(f"note: {note}")
    if not prepared.cached or request.verbose:
        for warning in prepared.warnings:
            sys.stderr.write(f"{warning}\n")
    for line in flag_path_warnings(request) + port_warnings(request, prepared.payload):
        say(f"warning: {line}")
    keep = [value for option, value in request.policy if option == "--keep-env"]
    payload = private_payload(prepared.payload, keep)
    environ = dict(os.environ)
    argv = list(request.command)

    from nonoc.launch.apply import child_environment, find_command

    launch = payload["linux"]["launch"] if "linux" in payload else {}
    resolved = find_command(argv[0], child_environment(launch, environ)) if argv else None
    if request.dry_run:
        from nonoc.runtime.run import account

        render = account.as_json if request.json else account.text
        sys.stdout.write(render(prepared, payload, argv, environ))
        sys.stdout.flush()
        return _dry_run_code(argv, resolved, launch)
    if resolved is not None:
        from nonoc.runtime.run.commands import check_command

        blocked_by_flag = [command_name(o, v) for o, v in request.policy if o == "--block-command"]
        check_command(argv, resolved, launch, blocked_by_flag)
    if request.verbose:
        from nonoc.runtime.run import account

        sys.stderr.write(account.text(prepared, payload, argv, environ))
        sys.stderr.flush()
    from nonoc.runtime.run import session

    if wrap:
        if launch.get("network") == "proxy":
            say("warning: nono wrap keeps no parent, so no proxy runs: in network proxy mode "
                "the command reaches no host (use nono run)")  # fmt: skip
        return session.exec_payload(payload, argv, environ)
    chosen = parent_hooks(request, payload) if hooks is None else list(hooks)
    launch = session.Launch(payload, argv, environ, bundle_digest=prepared.digest)
    return session.run_child(launch, chosen)


def parent_hooks(request: RunRequest, payload: Mapping[str, Any]) -> list[Any]:
    """The hooks ``nono run``'s parent runs around the child, chosen from the flags and payload.

    The one place where later work is switched on (``session`` describes each hook point):
    the proxy (``proxy_hook.network_hooks``: network ``proxy``, ``--proxy-credential``) and
    env-mode credentials, after the others so that the audit session is open; the supervisor
    (``nonoc.runtime.supervisor.hook.SupervisorHook``) on every Linux run, last (unix sockets
    below Landlock ABI 9 and ``protect metadata`` need it without ``--supervised``; it costs
    a run that makes no mediated call the hand-off only); audit, instruction-file trust and
    rollback (``nonoc.runtime.run.hooks``), in that order: audit first so it closes last.
    Audit sinks for later hooks: ``audit.network_event`` (the proxy's ``on_event``),
    ``SupervisorHook(audit=audit)``; ``audit`` is None with --no-audit.
    """
    from nonoc.runtime.run.hooks import audit_hook, rollback_hook, trust_hook
    from nonoc.runtime.run.options import launch_section, session_options

    options = session_options(request)
    audit = audit_hook(options, payload)
    hooks: list[Any] = [audit] if audit is not None else []
    hooks += [h for h in (trust_hook(options, audit), rollback_hook(options, payload, audit)) if h]
    if launch_section(payload).get("network") == "proxy" or any(
        option.startswith(("--proxy-", "--env-credential", "--net-private"))
        for option, _ in request.session
    ):  # the module is not even imported otherwise (docs/performance.md)
        from nonoc.runtime.run.proxy_hook import network_hooks

        sink = audit.network_event if audit is not None else None
        hooks += network_hooks(request.session, payload, verbose=request.verbose, on_event=sink)
    if sys.platform != "darwin":  # seccomp user notification: Linux only
        from nonoc.runtime.supervisor.hook import SupervisorHook

        hooks.append(
            SupervisorHook(supervised=options.supervised, answers_file=options.answers, audit=audit)
        )
    elif options.supervised:
        raise UsageError("--supervised needs Linux (seccomp user notification)")
    return hooks


def port_warnings(request: RunRequest, payload: Mapping[str, Any]) -> list[str]:
    """``--allow-port`` only matters when the network is restricted to TCP ports (``proxy``)."""
    linux = payload.get("linux")
    launch = linux.get("launch") if isinstance(linux, dict) else None
    mode = launch.get("network") if isinstance(launch, dict) else None
    why = {
        "open": "the network is open (no TCP rule is enforced)",
        "blocked": "the network is blocked (no TCP socket can be made); use --net-allow or a proxy profile",
    }.get(str(mode))
    if why is None:
        return []
    return [
        f"--allow-port {value} has no effect: {why}"
        for option, value in request.policy
        if option == "--allow-port"
    ]


def private_payload(payload: Mapping[str, Any], keep: Sequence[str]) -> dict[str, Any]:
    """A copy of ``payload`` this run may change: hygiene in each target's ``launch``, own net list.

    Provenance is shared, not copied: it may still be undecoded (``Deferred``), and hooks
    that add rules add their provenance through ``Launch.add_connect_port``.
    """
    from nonoc.runtime.envhygiene import with_hygiene

    copy = dict(payload)
    for target in ("linux", "macos"):
        if isinstance(copy.get(target), dict):
            section = dict(copy[target])
            section["launch"] = with_hygiene(section.get("launch") or {}, keep)
            copy[target] = section
    linux = copy.get("linux")
    if isinstance(linux, dict) and isinstance(linux.get("landlock"), dict):
        landlock = dict(linux["landlock"])
        landlock["net"] = list(landlock.get("net") or ())
        linux["landlock"] = landlock
    return copy


def _dry_run_code(argv: Sequence[str], resolved: str | None, launch: Mapping[str, Any]) -> int:
    """What the run would have returned before exec: 0, 127 not found, 126 blocked."""
    from nonoc.runtime.run.commands import EXIT_BLOCKED, blocked_name

    if not argv:
        return 0
    if resolved is None:
        return EXIT_NOT_FOUND
    return EXIT_BLOCKED if blocked_name(argv[0], resolved, launch) else 0
