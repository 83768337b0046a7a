"""The parent process of ``nono run``: fork, let the child sandbox itself and exec, wait.

Order of work::

    block the forwarded signals (threads started from here on inherit the block)
    hooks: before_spawn(launch)   # may add env, a Landlock connect port, take snapshots…
    fork
      child:  default signal dispositions, the caller's signal mask back,
              hooks: in_child(launch)   # e.g. enter a private network namespace
              nonoc.launch.apply.apply_payload(payload, argv, environ)  # Landlock, seccomp,
                hooks: in_sandbox(launch, plan)  # sandboxed, before execve: the supervisor's filter
                execve
              (only returns on failure: 127 not found, 126 cannot apply, 1 nono's error)
      parent: hooks: after_spawn(launch, pid); forward signals until the child exits
    hooks: after_exit(launch, exit_code)   # in reverse order
    unblock; return the child's exit code, 128+N when a signal N killed it

Signals. The child stays in nono's process group, so it keeps the terminal: what the
terminal sends (Ctrl-C's SIGINT, SIGQUIT, SIGWINCH on a resize, SIGHUP) reaches both, and
the parent must not send it a second time. The parent therefore waits in ``sigwaitinfo``
and forwards only what a process sent to it with ``kill``/``sigqueue`` (``si_code`` ≤ 0),
not what the kernel generated (``si_code`` > 0) nor what the child itself sent. Job control
needs nothing: SIGTSTP stops both processes and the shell's SIGCONT resumes both.

Hook points (``Hook``; none is installed yet, each is the place for later work):

- proxy (``nonoc.runtime.run.proxy_hook``): ``before_spawn`` starts ``ProxyServer`` when the
  payload's ``launch.network`` is ``proxy``, then ``launch.add_connect_port(port, "proxy")``
  and sets ``proxy.child_env()`` through ``launch.env_set`` after removing
  ``PROXY_ENV_STRIP``; with ``--net-private``, ``in_child`` enters a private network
  namespace and ``after_spawn`` serves on the listener it hands back; ``after_exit`` stops
  it. Its thread inherits the blocked signals, as it must.
- rollback (``nonoc.runtime.rollback``): ``before_spawn`` snapshots the writable roots
  (``launch.payload["linux"]["landlock"]["rules"]`` with write rights) when the payload's
  ``launch.rollback`` asks; ``after_exit`` takes the "after" snapshot.
- audit (``nonoc.runtime.audit``): ``before_spawn`` opens an ``AuditSession`` with
  ``launch.session_id`` and ``launch.bundle_digest``; ``after_exit`` closes it with the code.
- instruction-file trust (``nonoc.runtime.trust``): ``before_spawn`` calls
  ``enforce(cwd, load_policy(cwd))``; raising ``NonoError`` there stops the run before the
  fork.
- seccomp user-notification supervisor (``nonoc.runtime.supervisor.hook.SupervisorHook``):
  ``before_spawn`` builds a notify-only filter and a channel; ``in_sandbox`` installs it
  after the bundle's own filter and hands the listener over before ``execve``
  (``nonoc.runtime.supervisor.handoff``); ``after_spawn`` takes it and serves;
  ``after_exit`` stops serving.

Hooks are chosen in ``start.parent_hooks``. The launcher modules the child needs are
imported before the fork (``preload``): after it, the child only applies and execs.

A hook that raises in ``before_spawn`` stops the run (hooks that already ran get
``after_exit`` with exit code 1); ``after_exit`` errors are reported and do not change the
exit code.
"""

from __future__ import annotations

import _signal as signal  # type: ignore[import-not-found]  # the C module: ``signal`` builds enums at import, a cost per run
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs a cached run milliseconds (docs/performance.md)
    from collections.abc import Callable, Sequence
    from typing import Any, TextIO

    from nonoc.launch.plan import Plan

#: Signals the parent forwards to the child when a process sends them to the parent.
FORWARDED: tuple[int, ...] = (
    signal.SIGHUP,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTERM,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGWINCH,
    signal.SIGALRM,
    signal.SIGCONT,
)
_WAITED = frozenset({*FORWARDED, signal.SIGCHLD})


class Launch:
    """What the child will be started with; ``before_spawn`` hooks may change it.

    ``payload`` is the verified bundle payload (a private copy: changing it changes only
    this run); ``environ`` is the environment before the launcher's hygiene (strip, keep,
    set) is applied; ``pid`` is the child's, once it exists.
    """

    __slots__ = ("argv", "bundle_digest", "environ", "payload", "pid", "session_id")

    def __init__(
        self,
        payload: dict[str, Any],
        argv: list[str],
        environ: dict[str, str],
        session_id: str | None = None,
        bundle_digest: str | None = None,
    ) -> None:
        self.payload, self.argv, self.environ = payload, argv, environ
        self.session_id = session_id
        #: BLAKE2b-256 (hex) of the bundle's bytes, for the audit trail.
        self.bundle_digest = bundle_digest
        self.pid: int | None = None

    def add_connect_port(self, port: int, label: str) -> str:
        """Allow TCP connect to ``port`` (e.g. the proxy's); returns the rule id it gets."""
        table = self.payload["linux"]["landlock"]
        rule_id = f"run-{label}-{port}"
        table["net"] = [
            *table.get("net", ()),
            {"id": rule_id, "port": int(port), "access": ["CONNECT_TCP"]},
        ]
        entry = {
            "file": "<nono run>",
            "line": 0,
            "column": 0,
            "chain": [{"kind": "builtin", "name": label, "file": "<nono run>", "line": 0}],
        }
        recorded = self.payload.get("provenance")

        def merged() -> dict[str, Any]:
            base = dict(recorded.items()) if recorded is not None else {}
            base["linux"] = {**dict(base.get("linux") or {}), rule_id: entry}
            return base

        from nonoc.launch.verify import Deferred

        self.payload["provenance"] = Deferred(merged)
        return rule_id


class Hook:
    """A piece of the parent's work around the child (see the module docstring).

    Subclass and override what you need; the defaults do nothing.
    """

    def before_spawn(self, launch: Launch) -> None:
        """Prepare; raising ``NonoError`` stops the run before the fork."""

    def in_child(self, launch: Launch) -> None:
        """In the forked child, before the sandbox is applied (e.g. enter a namespace).

        Only what was imported before the fork may be used. Raising stops the child: an
        ``OSError`` is reported as "cannot apply the sandbox" (exit 126).
        """

    def in_sandbox(self, launch: Launch, plan: Plan) -> None:
        """In the forked child, sandboxed (Landlock, the bundle's filter), right before ``execve``.

        ``plan`` is the launcher's plan the Landlock ruleset was built from (descriptors
        closed). Only what was imported before the fork may be used: the sandbox may no
        longer let this process read Python's library. Raising stops the child, reported
        as a failure to apply the sandbox (exit 126). Linux only (``nono run`` on macOS
        execs at once).
        """

    def after_spawn(self, launch: Launch) -> None:
        """The child exists (``launch.pid``); start serving it."""

    def after_exit(self, launch: Launch, exit_code: int) -> None:
        """The child is gone; clean up, record."""


def exit_code_of(status: int) -> int:
    """A wait status as a shell reports it: the exit code, or 128+N for signal N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def run_child(launch: Launch, hooks: Sequence[Hook] = ()) -> int:
    """Run ``launch`` in a sandboxed child, forward signals, and return its exit code."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _WAITED)
    started: list[Hook] = []
    code = 1
    try:
        for hook in hooks:
            hook.before_spawn(launch)
            started.append(hook)
        preload(launch.payload)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(launch, previous, started)  # never returns
        launch.pid = pid
        for hook in started:
            hook.after_spawn(launch)
        code = _wait(pid)
        return code
    finally:
        for hook in reversed(started):
            try:
                hook.after_exit(launch, code)
            except Exception as exc:  # reported, the child's code stands
                sys.stderr.write(f"nono: warning: {type(hook).__name__}: {exc}\n")
        _drain()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _wait(pid: int) -> int:
    """Forward signals to ``pid`` until it exits; return its exit code."""
    while True:
        info = signal.sigwaitinfo(_WAITED)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return exit_code_of(status)
            continue
        if info.si_code <= 0 and info.si_pid != pid:
            try:
                os.kill(pid, info.si_signo)
            except ProcessLookupError:
                pass  # it is exiting; its SIGCHLD is on the way


def _drain() -> None:
    """Consume signals still pending once the child is gone, so unblocking delivers none."""
    while signal.sigpending() & _WAITED:
        signal.sigtimedwait(_WAITED, 0)


def preload(payload: dict[str, Any]) -> None:
    """Import, before the fork, what the child will need to apply ``payload``.

    A forked child of a process with threads (a hook's proxy) must not wait on a lock
    another thread held at the fork; importing is one such wait, and doing it once in
    the parent also spares each child the work.
    """
    if sys.platform == "darwin":
        from nonoc.launch import macos  # noqa: F401

        return
    from nonoc.launch import apply, compat, plan  # noqa: F401

    linux = payload.get("linux")
    if isinstance(linux, dict) and linux.get("seccomp"):
        from nonoc.launch import seccomp  # noqa: F401


def _child(launch: Launch, mask: Any, hooks: Sequence[Hook] = ()) -> None:
    """In the forked child: sandbox this process and exec the command; never returns."""
    code = 1
    # A stream of its own on descriptor 2: sys.stderr's lock may be held by a thread that
    # did not survive the fork.
    err = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115 - lives until exec or _exit
    try:
        for signum in FORWARDED:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for hook in hooks:
            in_child = getattr(hook, "in_child", None)  # hooks need not subclass Hook
            if in_child is not None:
                in_child(launch)
        steps = [step for step in (getattr(h, "in_sandbox", None) for h in hooks) if step]

        def sandboxed(plan: Plan) -> None:
            for step in steps:
                step(launch, plan)

        code = exec_payload(
            launch.payload,
            launch.argv,
            launch.environ,
            err=err,
            before_exec=sandboxed if steps else None,
        )
    except BaseException as exc:  # the child reports and exits, whatever it was
        code = report_failure(exc, err)
    finally:
        try:
            err.flush()
        finally:
            os._exit(code)


def exec_payload(
    payload: dict[str, Any],
    argv: Sequence[str],
    environ: dict[str, str],
    *,
    err: TextIO | None = None,
    before_exec: Callable[[Plan], None] | None = None,
) -> int:
    """Apply ``payload`` to this process and exec ``argv`` (returns only on failure).

    ``before_exec`` runs sandboxed, right before ``execve`` (Linux only; see
    ``nonoc.launch.apply.apply_payload``).
    """
    if sys.platform == "darwin":
        from nonoc.launch import macos
        from nonoc.launch.apply import child_environment

        launch = payload.get("macos", {}).get("launch") or {}
        env = child_environment(launch, environ)
        return macos.exec_command(payload["macos"]["seatbelt"], list(argv), environ=env)
    from nonoc.launch.apply import apply_payload

    return apply_payload(
        payload, argv, environ=environ, bundle_name="nono run", err=err, before_exec=before_exec
    )


def report_failure(exc: BaseException, err: TextIO | None = None) -> int:
    """Print a launch failure as ``nono exec`` does; return its exit code."""
    out = sys.stderr if err is None else err
    errors = sys.modules.get("nonoc.errors")  # a NonoError exists only if its module was loaded
    if errors is not None and isinstance(exc, errors.NonoError):
        out.write(f"nono: {exc.render()}\n")
        return int(exc.exit_code)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        out.write(f"nono: error: cannot apply the sandbox{where}: {exc.strerror or exc}\n")
        return 126
    if isinstance(exc, KeyboardInterrupt):
        return 130
    out.write(f"nono: error: {type(exc).__name__}: {exc}\n")
    return 1
