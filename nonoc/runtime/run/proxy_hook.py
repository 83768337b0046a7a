"""``nono run``'s proxy: started in the parent before the child, the child's only way out.

When the bundle's network mode is ``proxy`` (a proxy profile, ``network proxy { … }``, or
``--proxy-allow HOST``, which compiles to that statement), ``before_spawn``

1. builds a ``ProxyConfig`` from the payload's ``launch`` section: ``proxy_hosts`` (the
   allowlist, flags included) and the credential routes, i.e. the policy's own
   (``credential_routes``) plus those ``--proxy-credential NAME`` asks for, their secrets
   read now, in the parent;
2. starts the ``ProxyServer`` (bound before it returns) and adds its port to the child's
   Landlock table as a CONNECT_TCP rule (``Launch.add_connect_port``). The bundle is
   compiled, signed and cached without the port, which is only known now: the rule goes
   into this run's private copy of the verified payload, so the bundle stays
   host-independent and its signature valid. (On macOS the port reaches Seatbelt as the
   ``PROXY_PORT`` parameter through ``NONO_PROXY_PORT``; untested here.)
3. sets the child's environment: ``PROXY_ENV_STRIP`` removed, ``proxy.child_env()`` set
   (``HTTP(S)_PROXY`` with the session token, ``NO_PROXY``, node's switches, each route's
   ``*_BASE_URL`` and placeholder key) through ``launch.env_set``, which the launcher
   applies last, over the profile's own ``env set``.

With ``--net-private`` the child also gets a network namespace of its own (``netns``):
``in_child`` creates it and hands a listener back, ``after_spawn`` gives it to the proxy.

Under ``network open``, ``--proxy-credential`` starts the proxy for its routes alone: the
child gets the routes' variables but no ``HTTP_PROXY`` (its traffic is not restricted).
Under ``network block`` a route cannot be reached, so asking for one is a usage error.

Every decision is a ``ProxyEvent`` handed to the sinks (``subscribe``): the audit trail
(``AuditHook.network_event``), and with ``-v`` a line on stderr for each refusal. Sinks run
on the proxy's thread and must be quick.

``TUNING`` changes how the proxy resolves names and trusts upstreams. It is set by code
only (the tests, which have no DNS and use a test CA; an embedding program) and is never
read from the environment or a settings file: a variable that redirected an allowed name
could send a credential route's secret elsewhere.
"""

from __future__ import annotations

import os
import sys
import time

from nonoc.runtime.run.credential_hook import EnvCredentialHook, set_child_env
from nonoc.runtime.run.session import Hook, Launch

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping, Sequence
    from types import ModuleType
    from typing import Any

    from nonoc.runtime.proxy import Limits, ProxyEvent, ProxyServer, Resolver, RouteSpec
    from nonoc.runtime.run.netns import Channel

#: The flags this module reads from ``RunRequest.session`` (``(option, value)`` pairs).
PROXY_CREDENTIAL = "--proxy-credential"
ENV_CREDENTIAL = "--env-credential"
ENV_CREDENTIAL_MAP = "--env-credential-map"
NET_PRIVATE = "--net-private"


class ProxyTuning:
    """How the proxy resolves names and trusts upstreams, when not the system's way.

    ``resolver``: a ``nonoc.runtime.proxy.Resolver`` (tests: a ``MapResolver``);
    ``upstream_tls``: the context credential routes verify upstreams with;
    ``allow_loopback``: let allowlisted names reach this machine (test upstreams live on
    127.0.0.1); ``limits``; ``on_event``: one more event sink.
    """

    __slots__ = ("allow_loopback", "limits", "on_event", "resolver", "upstream_tls")

    def __init__(
        self,
        *,
        resolver: Resolver | None = None,
        upstream_tls: ssl.SSLContext | None = None,
        allow_loopback: bool = False,
        limits: Limits | None = None,
        on_event: Callable[[ProxyEvent], None] | None = None,
    ) -> None:
        self.resolver, self.upstream_tls = resolver, upstream_tls
        self.allow_loopback, self.limits, self.on_event = allow_loopback, limits, on_event


#: Set by code only (see the module docstring); None: the system's resolver and trust store.
TUNING: ProxyTuning | None = None


def network_mode(payload: Mapping[str, Any]) -> str:
    """The payload's network mode for this machine's target (``open`` when unsaid)."""
    return str(_launch_section(payload).get("network") or "open")


def network_hooks(
    options: Sequence[tuple[str, str]],
    payload: Mapping[str, Any],
    *,
    verbose: bool = False,
    on_event: Callable[[ProxyEvent], None] | None = None,
) -> list[Hook]:
    """The proxy and env-credential hooks this run needs (possibly none).

    ``options`` are the run's session flags as ``(option, value)`` pairs; ``on_event`` is
    the audit trail's sink. Raises ``UsageError`` for a request the network mode cannot
    serve.
    """
    from nonoc.runtime.flags import UsageError

    mode = network_mode(payload)
    routes = [value for option, value in options if option == PROXY_CREDENTIAL]
    private = any(option == NET_PRIVATE for option, _ in options)
    if routes and mode == "blocked":
        raise UsageError(
            f"{PROXY_CREDENTIAL} {routes[0]}: the network is blocked, so the child could not "
            "reach the route; use a proxy profile, --proxy-allow HOST or --net-allow"
        )
    if private and mode != "proxy":
        raise UsageError(
            f"{NET_PRIVATE} confines the child to the proxy, but the network is {mode}; "
            "use a proxy profile or --proxy-allow HOST"
        )
    hooks: list[Hook] = []
    names = [value for option, value in options if option == ENV_CREDENTIAL]
    mappings = [split_map(value) for option, value in options if option == ENV_CREDENTIAL_MAP]
    if names or mappings:
        hooks.append(EnvCredentialHook(names, mappings))
    if mode == "proxy" or routes:
        hook = ProxyHook(routes=routes, private=private, verbose=verbose)
        if on_event is not None:
            hook.subscribe(on_event)
        hooks.append(hook)
    return hooks


def split_map(value: str) -> tuple[str, str]:
    """``--env-credential-map``'s two words (kept as ``"REF VAR"``) as ``(REF, VAR)``."""
    ref, _, var = value.rpartition(" ")
    return ref, var


class ProxyHook(Hook):
    """Runs the allowlist proxy for one child (see the module docstring)."""

    def __init__(
        self, *, routes: Sequence[str] = (), private: bool = False, verbose: bool = False
    ) -> None:
        self.routes = tuple(routes)
        self.private = private
        self.verbose = verbose
        self.sinks: list[Callable[[ProxyEvent], None]] = []
        self.proxy: ProxyServer | None = None
        self.port = 0
        self.channel: Channel | None = None
        self._netns: ModuleType | None = None
        self.adopted = False

    def subscribe(self, sink: Callable[[ProxyEvent], None]) -> None:
        """Also hand every decision to ``sink`` (on the proxy's thread; keep it quick)."""
        self.sinks.append(sink)

    # -- the hook points ---------------------------------------------------------------------

    def before_spawn(self, launch: Launch) -> None:
        """Start the proxy; open its port to the child; set the child's variables."""
        from nonoc.runtime.proxy import PROXY_ENV_STRIP, ProxyConfig, ProxyServer

        section = _launch_section(launch.payload)
        mode = str(section.get("network") or "open")
        tuning = TUNING or ProxyTuning()
        if tuning.on_event is not None and tuning.on_event not in self.sinks:
            self.sinks.append(tuning.on_event)
        if self.verbose:
            self.sinks.append(_report_refusal)
        extra: dict[str, Any] = {}
        if tuning.resolver is not None:
            extra["resolver"] = tuning.resolver
        if tuning.limits is not None:
            extra["limits"] = tuning.limits
        routes, hidden = self._routes(section, mode)
        config = ProxyConfig(
            allow_hosts=list(section.get("proxy_hosts") or ()) if mode == "proxy" else [],
            credential_routes=routes,
            on_event=self._dispatch,
            allow_loopback=tuning.allow_loopback,
            upstream_tls=tuning.upstream_tls,
            **extra,
        )
        proxy = ProxyServer(config)  # a bad pattern or route raises NonoError here
        _host, port, _token = proxy.start()
        self.proxy, self.port = proxy, port
        try:
            if mode == "proxy":
                if sys.platform == "darwin":
                    launch.environ["NONO_PROXY_PORT"] = str(port)
                else:
                    launch.add_connect_port(port, "proxy")
                set_child_env(launch, proxy.child_env(), remove=(*PROXY_ENV_STRIP, *hidden))
            else:
                set_child_env(launch, _route_variables(proxy), remove=hidden)
            _hide_from_child(hidden, routes)
            if self.private:
                from nonoc.runtime.run import netns  # before the fork: the child calls it

                self._netns = netns
                self.channel = netns.Channel()
            if self.verbose:
                hosts = ", ".join(config.allow_hosts) or "none"
                served = ", ".join(route.name for route in routes) or "none"
                sys.stderr.write(
                    f"nono: proxy on 127.0.0.1:{port} (allowed hosts: {hosts}; "
                    f"credential routes: {served})\n"
                )
        except BaseException:
            self.stop()
            raise

    def in_child(self, launch: Launch) -> None:
        """In the forked child, before the sandbox: enter the private network namespace."""
        if self.channel is not None and self._netns is not None:
            self._netns.enter(self.port, self.channel)

    def after_spawn(self, launch: Launch) -> None:
        """With ``--net-private``: take the child's listener and serve on it."""
        if self.channel is None or self._netns is None or self.proxy is None or launch.pid is None:
            return
        pid = launch.pid
        listener = self._netns.receive(self.channel, lambda: _running(pid))
        self.channel = None
        if listener is not None:
            self.proxy.adopt_listener(listener)
            self.adopted = True
            return
        # No listener: the child failed (it reports why and exits 126) or hangs.
        for _ in range(20):
            if not _running(pid):
                return
            time.sleep(0.1)
        # Alive but silent: it must not go on without the confinement asked for.
        sys.stderr.write("nono: error: --net-private: the child did not set up its namespace\n")
        os.kill(pid, 9)

    def after_exit(self, launch: Launch, exit_code: int) -> None:
        """Stop the proxy."""
        self.stop()

    def stop(self) -> None:
        """Stop the proxy and close the namespace channel (idempotent)."""
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None

    # -- pieces ------------------------------------------------------------------------------

    def _routes(self, section: Mapping[str, Any], mode: str) -> tuple[list[RouteSpec], set[str]]:
        """The routes to serve, secrets read: the policy's (proxy mode) and the flags'.

        Also the variables the secrets were read from (``env://VAR``): the child inherits
        nono's environment, and must not find there what the route keeps from it.
        """
        entries = section.get("credential_routes") or ()
        if not self.routes and not (entries and mode == "proxy"):
            return [], set()  # and the keyring library (80 ms to import) stays unloaded
        from types import SimpleNamespace

        from nonoc.runtime.credentials import resolve_secret
        from nonoc.runtime.proxy import select_routes

        # The payload's entries have the attributes select_routes reads from an IR route.
        defined: list[Any] = [SimpleNamespace(**dict(entry)) for entry in entries]
        names = [route.name for route in defined] if mode == "proxy" else []
        routes = select_routes([*names, *self.routes], defined, resolve_secret)
        served = {route.name for route in routes}
        hidden = {
            str(route.secret_ref)[len("env://") :]
            for route in defined
            if route.name in served and str(route.secret_ref).startswith("env://")
        }
        return routes, hidden

    def _dispatch(self, event: ProxyEvent) -> None:
        for sink in self.sinks:
            try:
                sink(event)
            except Exception as exc:
                sys.stderr.write(f"nono: warning: proxy event sink failed: {exc}\n")


def _launch_section(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    section = payload.get("macos" if sys.platform == "darwin" else "linux")
    launch = section.get("launch") if isinstance(section, dict) else None
    return launch if isinstance(launch, dict) else {}


def _hide_from_child(hidden: set[str], routes: Sequence[RouteSpec]) -> None:
    """Blank, in nono's own environment block, what the routes keep from the child.

    The routes' sources (``env://VAR``) and the inherited values of the variables a route
    replaces (``OPENAI_API_KEY``…): the child can read its parent's ``/proc/PID/environ``
    (``envblock``).
    """
    if sys.platform != "linux":
        return
    replaced = {name for route in routes for name in (*route.key_env, *route.base_url_env)}
    names = hidden | {name for name in replaced if name in os.environ}
    if not names:
        return
    from nonoc.runtime.run import envblock

    try:
        envblock.blank(names)
    except OSError as exc:
        sys.stderr.write(
            f"nono: warning: cannot hide {', '.join(sorted(names))} in nono's own environment "
            f"({exc.strerror}): the sandboxed command may read it in /proc/{os.getpid()}/environ\n"
        )


def _route_variables(proxy: ProxyServer) -> dict[str, str]:
    """The routes' variables alone (``network open``: the child's traffic is not proxied)."""
    from nonoc.runtime.proxy import proxy_env

    host, port = proxy.address
    plain = proxy_env(host, port, proxy.token)
    return {k: v for k, v in proxy.child_env().items() if k not in plain}


def _report_refusal(event: ProxyEvent) -> None:
    """``-v``: one line on stderr per refused request."""
    if not event.allowed:
        what = f"{event.method} " if event.method else ""
        sys.stderr.write(
            f"nono: proxy refused {what}{event.host}:{event.port}: {event.reason.value}"
            f"{' (' + event.detail + ')' if event.detail else ''}\n"
        )


def _running(pid: int) -> bool:
    """Whether ``pid`` (our child) has not exited yet; never reaps it (``WNOWAIT``)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
    except ChildProcessError:
        return False
