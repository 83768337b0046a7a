"""``nono run`` with the proxy, live: what the sandboxed child can and cannot reach.

Each test runs the real command line (``proxy_nono.py`` sets the test resolver map and CA,
then calls ``nonoc.cli.nono.main``) in a child process; the sandboxed probe reports what
the kernel and the proxy answered. Upstreams are local servers on 127.0.0.1; names reach
them through the proxy's resolver map, since there is no DNS. Every wait is bounded.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from test_run_support import PYTHON, Sandbox, require_landlock

from tests.runtime.proxy import proxy_helpers as helpers

pytestmark = pytest.mark.kernel

WRAPPER = str(Path(__file__).with_name("proxy_nono.py"))
OPENAI_SECRET = "sk-real-openai-5f0c2b7e91"
CUSTOM_SECRET = "custom-real-secret-77ab"
TLS_NAMES = ["api.openai.com", "custom.test"]
OPENAI_ROUTE = ["route", "OPENAI_BASE_URL", "/models", "Authorization"]

#: The sandboxed program: one answer per operation, as JSON on its last line.
PROBE = r"""
import base64, errno, json, os, socket, sys, urllib.error, urllib.request

def proxy_address():
    rest = os.environ["HTTP_PROXY"].split("@", 1)[1]
    host, port = rest.rsplit(":", 1)
    return host, int(port)

def attempt(op, *args):
    try:
        if op == "get":  # through the proxy, as any HTTP client configured by the variables
            try:
                with urllib.request.urlopen(args[0], timeout=5) as response:
                    return [response.status, json.loads(response.read()).get("path")]
            except urllib.error.HTTPError as exc:
                return [exc.code, None]
        if op == "tunnel":  # CONNECT host:port, then bytes both ways
            auth = base64.b64encode(os.environ["HTTP_PROXY"].split("//")[1].split("@")[0].encode())
            with socket.create_connection(proxy_address(), timeout=5) as s:
                s.sendall(f"CONNECT {args[0]} HTTP/1.1\r\nHost: {args[0]}\r\n"
                          f"Proxy-Authorization: Basic {auth.decode()}\r\n\r\n".encode())
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = s.recv(1)
                    if not chunk:
                        break
                    head += chunk
                status = int(head.split()[1]) if head else 0
                if status != 200:
                    return [status, None]
                s.sendall(b"ping")
                return [status, s.recv(4).decode()]
        if op == "route":  # a credential route, reached directly (NO_PROXY covers loopback)
            url = os.environ[args[0]] + args[1]
            value = args[3].replace("KEY", os.environ[args[4]])
            request = urllib.request.Request(url, headers={args[2]: value})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return [response.status, json.loads(response.read())]
            except urllib.error.HTTPError as exc:
                return [exc.code, None]
        if op == "connect":
            host = args[1] if len(args) > 1 else "127.0.0.1"
            with socket.create_connection((host, int(args[0])), timeout=3):
                return "OK"
        if op == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.sendto(b"x", ("127.0.0.1", int(args[0])))
            return "OK"
        if op == "env":
            return os.environ.get(args[0], "<unset>")
        if op == "parent":  # nono run's own memory holds the secret: can the child read it?
            with open(f"/proc/{os.getppid()}/{args[0]}", "rb") as handle:
                return base64.b64encode(handle.read(1 << 20)).decode()
        if op == "environ":  # everything the process's own files show of its environment
            with open("/proc/self/environ", "rb") as handle:
                raw = handle.read()
            with open("/proc/self/cmdline", "rb") as handle:
                raw += handle.read()
            return base64.b64encode(raw + json.dumps(dict(os.environ)).encode()).decode()
        return "unknown op " + op
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))

print(json.dumps([attempt(*op) for op in json.loads(sys.argv[1])]))
"""


class Recording(BaseHTTPRequestHandler):
    """A TLS upstream for credential routes: keeps what it received, answers without it."""

    protocol_version = "HTTP/1.1"
    timeout = 5
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append(
            {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
        )
        body = json.dumps({"path": self.path, "port": self.server.server_address[1]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A plain HTTP echo server, a TCP echo server and a recording TLS server."""
    ca = helpers.make_ca(tmp_path_factory.mktemp("ca"), TLS_NAMES)
    http, echo = helpers.Upstream(), helpers.EchoTCP()
    tls = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    tls.daemon_threads = True
    tls.socket = ca.server_context().wrap_socket(tls.socket, server_side=True)
    threading.Thread(target=tls.serve_forever, daemon=True).start()
    yield {"ca": ca, "http": http.port, "echo": echo.port, "tls": tls.server_address[1]}
    http.close()
    echo.close()
    tls.shutdown()
    tls.server_close()


class ProxyRun:
    """Runs ``nono run`` through ``proxy_nono.py`` and reads the proxy's decisions."""

    def __init__(self, sandbox: Sandbox, upstreams: dict[str, Any], tmp: Path) -> None:
        self.sandbox, self.upstreams = sandbox, upstreams
        self.events_file = tmp / "events.jsonl"
        self.spec = tmp / "spec.json"
        tls = f"127.0.0.1:{upstreams['tls']}"
        self.resolver: dict[str, Any] = {
            "allowed.test": "127.0.0.1",
            "other.test": "127.0.0.1",
            "sneaky.test": "169.254.169.254",
            "api.openai.com:443": tls,
            "custom.test:443": tls,
        }

    def nono(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """The completed ``nono ARGS`` process."""
        spec = {
            "resolver": self.resolver,
            "ca": str(self.upstreams["ca"].ca_file),
            "allow_loopback": True,
            "events": str(self.events_file),
        }
        self.spec.write_text(json.dumps(spec))
        return subprocess.run(
            [sys.executable, WRAPPER, str(self.spec), *args],
            env={**self.sandbox.env, **(env or {})},
            cwd=self.sandbox.work,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def probe(
        self, *flags: str, ops: list[list[str]], env: dict[str, str] | None = None
    ) -> list[Any]:
        """Run the probe under ``nono run --profile test.nono FLAGS``; its answers."""
        result = self.nono(
            "run", "--profile", str(self.sandbox.profile), *flags, "--",
            PYTHON, "-I", "-S", "-c", PROBE, json.dumps(ops), env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout.strip().splitlines()[-1]))

    def store_secret(self, name: str, value: str) -> None:
        """Put ``value`` in the file keyring (service ``nono``) the runs use."""
        from nonoc.runtime.credentials import SERVICE, FileKeyring

        FileKeyring(self.sandbox.env["NONO_KEYRING_FILE"]).set_password(SERVICE, name, value)

    def events(self) -> list[dict[str, Any]]:
        """The proxy's decisions so far."""
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines()]


@pytest.fixture(scope="module")
def proxy_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This module's own home: its runs use a file keyring, which must not leak elsewhere."""
    return tmp_path_factory.mktemp("nono-run-proxy").resolve()


@pytest.fixture
def proxy_run(proxy_home: Path, upstreams: dict[str, Any], tmp_path: Path) -> ProxyRun:
    require_landlock()
    sandbox = Sandbox(tmp_path.resolve(), proxy_home)
    sandbox.env["PYTHON_KEYRING_BACKEND"] = "nonoc.runtime.credentials.FileKeyring"
    sandbox.env["NONO_KEYRING_FILE"] = str(proxy_home / "keyring.json")
    return ProxyRun(sandbox, upstreams, tmp_path)


def test_allowed_host_works_and_everything_else_is_refused(proxy_run: ProxyRun) -> None:
    ports = proxy_run.upstreams
    answers = proxy_run.probe(
        "--proxy-allow", "allowed.test",
        ops=[
            ["get", f"http://allowed.test:{ports['http']}/hello"],
            ["tunnel", f"allowed.test:{ports['echo']}"],
            ["get", f"http://other.test:{ports['http']}/nope"],
            ["tunnel", f"other.test:{ports['echo']}"],
            ["connect", str(ports["http"])],  # the upstream itself, not through the proxy
            ["connect", str(ports["echo"])],
            ["udp", "53"],
            ["env", "NO_PROXY"],
        ],
    )  # fmt: skip
    assert answers == [
        [200, "/hello"],
        [200, "ping"],
        [403, None],
        [403, None],
        "EACCES",  # Landlock: only the proxy's port
        "EACCES",
        "EPERM",  # seccomp: no UDP socket at all
        "localhost,127.0.0.1,::1",
    ]
    decisions = [(e["kind"], e["host"], e["allowed"], e["reason"]) for e in proxy_run.events()]
    assert decisions == [
        ("http", "allowed.test", True, "allowlisted"),
        ("connect", "allowed.test", True, "allowlisted"),
        ("http", "other.test", False, "not_allowlisted"),
        ("connect", "other.test", False, "not_allowlisted"),
    ]
    # nono run's audit trail (on by default) got the same decisions.
    sessions = Path(proxy_run.sandbox.env["XDG_STATE_HOME"]) / "nono" / "audit" / "sessions"
    newest = max(sessions.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    records = [json.loads(line) for line in newest.read_text().splitlines()]
    audited = [(r["host"], r["allowed"]) for r in records if r["kind"] == "network_decision"]
    assert audited == [(d[1], d[2]) for d in decisions]


def test_metadata_is_refused_even_when_allowlisted(proxy_run: ProxyRun) -> None:
    flags = ["--proxy-allow", "169.254.169.254", "--proxy-allow", "metadata.google.internal"]
    flags += ["--proxy-allow", "sneaky.test", "--proxy-allow", "::ffff:169.254.169.254"]
    answers = proxy_run.probe(
        *flags,
        ops=[
            ["get", "http://169.254.169.254/latest/meta-data/"],
            ["get", "http://metadata.google.internal/computeMetadata/v1/"],
            ["get", "http://sneaky.test/"],  # a name that resolves to the metadata address
            ["tunnel", "[::ffff:169.254.169.254]:80"],
            ["tunnel", "2852039166:80"],  # 169.254.169.254 as one decimal number
        ],
    )
    assert answers == [[403, None]] * 5
    events = proxy_run.events()
    assert len(events) == 5
    assert all(e["reason"] == "metadata" and not e["allowed"] for e in events)


def test_direct_connects_fail_but_the_proxy_port_is_open(proxy_run: ProxyRun) -> None:
    answers = proxy_run.probe(
        "--proxy-allow", "allowed.test",
        ops=[
            ["connect", "1"],
            ["connect", "443"],
            ["connect", "80", "192.0.2.1"],
            ["tunnel", "allowed.test:1"],  # allowed, but nothing listens: the proxy says so
        ],
    )  # fmt: skip
    assert answers[:3] == ["EACCES", "EACCES", "EACCES"]
    assert answers[3][0] == 502
    (event,) = proxy_run.events()
    assert (event["allowed"], event["reason"]) == (True, "upstream_failed")


def test_credential_route_upstream_gets_the_secret_the_child_never_sees(
    proxy_run: ProxyRun,
) -> None:
    proxy_run.store_secret("openai", OPENAI_SECRET)
    Recording.seen.clear()
    env = {"OPENAI_API_KEY": OPENAI_SECRET}  # even if the user's shell has it, the child must not
    answers = proxy_run.probe(
        "--proxy-allow", "allowed.test", "--proxy-credential", "openai",
        ops=[
            [*OPENAI_ROUTE, "Bearer KEY", "OPENAI_API_KEY"],
            [*OPENAI_ROUTE, "Bearer wrong", "OPENAI_API_KEY"],
            ["env", "OPENAI_BASE_URL"],
            ["environ"],
            ["parent", "environ"],
            ["parent", "mem"],
        ],
        env=env,
    )  # fmt: skip
    # nono run's own memory holds the secret. Its /proc/PID/mem needs ptrace attach access,
    # which Landlock refuses; /proc/PID/environ needs only read access, which this kernel
    # grants to a same-user process outside the sandbox: nono blanks the value there.
    parent_environ, parent_mem = answers[4:]
    assert parent_mem == "EACCES"
    if parent_environ != "EACCES":
        shown = base64.b64decode(parent_environ)
        assert b"OPENAI_API_KEY=\0" in shown and OPENAI_SECRET.encode() not in shown
    assert answers[0] == [200, {"path": "/v1/models", "port": proxy_run.upstreams["tls"]}]
    assert answers[1] == [401, None]
    assert answers[2].startswith("http://127.0.0.1:") and answers[2].endswith("/openai/v1")
    visible = base64.b64decode(answers[3])
    assert OPENAI_SECRET.encode() not in visible
    assert b"nono-placeholder-" in visible
    assert [s["headers"]["authorization"] for s in Recording.seen] == [f"Bearer {OPENAI_SECRET}"]
    routes = [e for e in proxy_run.events() if e["kind"] == "route"]
    assert [(e["route"], e["allowed"]) for e in routes] == [("openai", True), ("openai", False)]
    assert all(OPENAI_SECRET not in json.dumps(e) for e in proxy_run.events())


def test_a_profiles_own_route_with_an_env_secret_hides_the_variable(
    proxy_run: ProxyRun,
) -> None:
    sandbox = proxy_run.sandbox
    sandbox.profile = sandbox.write_profile(
        'network proxy { credential "custom" { upstream "https://custom.test/api" '
        'secret "env://CUSTOM_SECRET" header "X-Token" format "Token {secret}" } }'
    )
    Recording.seen.clear()
    answers = proxy_run.probe(
        ops=[
            ["route", "CUSTOM_BASE_URL", "/items", "X-Token", "KEY", "CUSTOM_API_KEY"],
            ["env", "CUSTOM_SECRET"],
            ["environ"],
        ],
        env={"CUSTOM_SECRET": CUSTOM_SECRET},
    )
    assert answers[0][0] == 200 and answers[0][1]["path"] == "/api/items"
    assert answers[1] == "<unset>"
    assert CUSTOM_SECRET.encode() not in base64.b64decode(answers[2])
    assert [s["headers"]["x-token"] for s in Recording.seen] == [f"Token {CUSTOM_SECRET}"]


def test_proxy_credential_under_an_open_network_sets_routes_but_no_proxy(
    proxy_run: ProxyRun,
) -> None:
    proxy_run.store_secret("openai", OPENAI_SECRET)
    Recording.seen.clear()
    answers = proxy_run.probe(
        "--net-allow", "--proxy-credential", "openai",
        ops=[
            ["env", "HTTP_PROXY"],
            [*OPENAI_ROUTE, "Bearer KEY", "OPENAI_API_KEY"],
        ],
    )  # fmt: skip
    assert answers[0] == "<unset>"
    assert answers[1][0] == 200
    assert [s["headers"]["authorization"] for s in Recording.seen] == [f"Bearer {OPENAI_SECRET}"]


def test_env_mode_sets_the_secrets_in_the_child(proxy_run: ProxyRun, tmp_path: Path) -> None:
    proxy_run.store_secret("HF_TOKEN", "hf-secret")
    proxy_run.store_secret("github", "gh-secret")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("from-a-file\n")
    secret_file.chmod(0o600)
    answers = proxy_run.probe(
        "--env-credential", "HF_TOKEN",
        "--env-credential", "github",
        "--env-credential-map", "env://SOURCE_VAR", "MAPPED",
        "--env-credential-map", f"file://{secret_file}", "FROM_FILE",
        ops=[["env", "HF_TOKEN"], ["env", "GH_TOKEN"], ["env", "GITHUB_TOKEN"], ["env", "MAPPED"],
             ["env", "FROM_FILE"], ["env", "HTTP_PROXY"]],
        env={"SOURCE_VAR": "mapped-secret"},
    )  # fmt: skip
    assert answers == [
        "hf-secret", "gh-secret", "gh-secret", "mapped-secret", "from-a-file", "<unset>"
    ]  # fmt: skip


def test_private_network_namespace_leaves_only_the_proxy(proxy_run: ProxyRun) -> None:
    ports = proxy_run.upstreams
    answers = proxy_run.probe(
        "--proxy-allow", "allowed.test", "--net-private", "--allow-port", str(ports["http"]),
        ops=[
            ["get", f"http://allowed.test:{ports['http']}/inside"],
            ["get", f"http://other.test:{ports['http']}/"],
            ["connect", str(ports["http"])],  # allowed by Landlock, but not in this namespace
            ["env", "HTTP_PROXY"],
        ],
    )  # fmt: skip
    assert answers[:3] == [[200, "/inside"], [403, None], "ECONNREFUSED"]
    port = answers[3].rsplit(":", 1)[1]
    proxy_port_elsewhere = proxy_run.probe(
        "--proxy-allow", "allowed.test", "--net-private", ops=[["connect", port, "192.0.2.1"]]
    )
    assert proxy_port_elsewhere[0] in ("ENETUNREACH", "EACCES")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--net-block", "--proxy-credential", "openai"], "the network is blocked"),
        (["--net-allow", "--net-private"], "the network is open"),
        (["--net-allow", "--proxy-allow", "a.test"], "contradict each other"),
        (["--proxy-allow", "https://a.test/x"], "not a URL"),
        (["--proxy-allow", "a.*.test"], "not a host name"),
        (["--env-credential-map", "env://X"], "needs a value (REF VAR)"),
    ],
)
def test_usage_errors(proxy_run: ProxyRun, flags: list[str], message: str) -> None:
    profile = str(proxy_run.sandbox.profile)
    result = proxy_run.nono("run", "--profile", profile, *flags, "--", "true")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr


def test_a_missing_secret_stops_the_run_before_the_child(proxy_run: ProxyRun) -> None:
    result = proxy_run.nono(
        "run", "--profile", str(proxy_run.sandbox.profile), "--proxy-allow", "a.test",
        "--proxy-credential", "gemini", "--", "true",
    )  # fmt: skip
    assert result.returncode == 1
    assert "no keyring entry nono/gemini" in result.stderr


REFUSING_NAMESPACE = r"""
import errno, os, sys
from nonoc.runtime.config import Settings
from nonoc.runtime.flags import parse
from nonoc.runtime.run import netns, session
from nonoc.runtime.run.prepare import prepare
from nonoc.runtime.run.proxy_hook import ProxyHook
from nonoc.runtime.run.start import private_payload

def refuse(port, channel):  # as on a host that forbids unprivileged user namespaces
    channel.parent.close()
    channel.child.close()
    raise OSError(errno.EPERM, "--net-private: cannot create a private network namespace")

netns.enter = refuse
request = parse(["--profile", sys.argv[1], "--", "/bin/true"])
launch = session.Launch(
    private_payload(prepare(request, Settings()).payload, []), request.command, dict(os.environ)
)
sys.exit(session.run_child(launch, [ProxyHook(private=True)]))
"""


def test_a_namespace_that_cannot_be_made_stops_the_child_with_126(proxy_run: ProxyRun) -> None:
    """The child reports it and exits 126; /bin/true (exit 0) never runs unconfined.

    ``run_child`` in a process of its own: in pytest's, threads of earlier fixtures would
    take the SIGCHLD that ``run_child`` waits for (nono's parent has no such threads).
    """
    sandbox = proxy_run.sandbox
    sandbox.profile = sandbox.write_profile("network proxy")
    result = subprocess.run(
        [sys.executable, "-c", REFUSING_NAMESPACE, str(sandbox.profile)],
        env=sandbox.env, cwd=sandbox.work, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode == 126, result.stderr
    assert "cannot create a private network namespace" in result.stderr
    assert "did not set up" not in result.stderr
