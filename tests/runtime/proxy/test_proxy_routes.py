"""Credential routes: the upstream receives the real secret; the child only a placeholder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from proxy_helpers import connect, exchange, proxy_auth, read_response, status_of

from nonoc.ir import CredentialRoute, Provenance
from nonoc.runtime.proxy import RouteError, RouteSpec, builtin_route, route_from_ir, select_routes
from nonoc.runtime.proxy.events import Reason

OPENAI_SECRET = "sk-real-openai-0123456789"
ANTHROPIC_SECRET = "sk-ant-real-abcdef"
CUSTOM_SECRET = "custom-real-secret"

CLIENT = r"""
import json, os, sys, urllib.request
base, key_var, header, fmt, path = sys.argv[1:6]
request = urllib.request.Request(os.environ[base] + path, data=b'{"q": 1}', method="POST")
request.add_header(header, fmt.replace("KEY", os.environ[key_var]))
with urllib.request.urlopen(request, timeout=5) as response:
    seen = json.loads(response.read())
with open("/proc/self/environ", "rb") as handle:
    environ = handle.read().decode("latin-1")
print(json.dumps({"seen": seen, "environ": environ, "env": dict(os.environ)}))
"""


def custom_ir_route() -> CredentialRoute:
    return CredentialRoute(
        name="custom",
        upstream="https://custom.test:8443/base",
        header="X-Custom-Token",
        value_format="Token {secret}",
        secret_ref="env://CUSTOM_SECRET",
        provenance=Provenance(file="test.nono", line=1, column=1),
    )


@pytest.fixture
def route_proxy(make_proxy, test_ca):
    routes = [
        builtin_route("openai", OPENAI_SECRET),
        builtin_route("anthropic", ANTHROPIC_SECRET),
        route_from_ir(custom_ir_route(), CUSTOM_SECRET),
    ]
    return make_proxy(
        allow_hosts=[], credential_routes=routes, upstream_tls=test_ca.client_context()
    )


def run_child(proxy, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(proxy.server.child_env())
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, *args], env=env, capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def headers_of(seen: dict) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in seen["headers"]:
        result.setdefault(name.lower(), []).append(value)
    return result


def test_openai_route_injects_the_secret(route_proxy) -> None:
    result = run_child(
        route_proxy,
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "Authorization",
        "Bearer KEY",
        "/chat/completions",
    )
    seen = result["seen"]
    headers = headers_of(seen)
    assert headers["authorization"] == [f"Bearer {OPENAI_SECRET}"]
    assert headers["host"] == ["api.openai.com"]
    assert seen["path"] == "/v1/chat/completions" and seen["body"] == '{"q": 1}'
    # The child saw only the placeholder: not in its environment, not in /proc/self/environ.
    assert OPENAI_SECRET not in result["environ"]
    assert OPENAI_SECRET not in json.dumps(result["env"])
    assert result["env"]["OPENAI_API_KEY"].startswith("nono-placeholder-")
    assert result["env"]["OPENAI_BASE_URL"] == f"http://127.0.0.1:{route_proxy.port}/openai/v1"
    event = route_proxy.last()
    assert (event.kind, event.route, event.host, event.allowed, event.reason) == (
        "route",
        "openai",
        "api.openai.com",
        True,
        Reason.ROUTE,
    )


def test_anthropic_route_replaces_the_header(route_proxy) -> None:
    result = run_child(
        route_proxy, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "x-api-key", "KEY", "/v1/messages"
    )
    headers = headers_of(result["seen"])
    assert headers["x-api-key"] == [ANTHROPIC_SECRET]  # replaced, not added beside
    assert result["seen"]["path"] == "/v1/messages"
    assert ANTHROPIC_SECRET not in result["environ"]


def test_policy_route_with_base_path_and_format(route_proxy, monkeypatch) -> None:
    result = run_child(
        route_proxy, "CUSTOM_BASE_URL", "CUSTOM_API_KEY", "X-Custom-Token", "KEY", "/items?page=2"
    )
    seen = result["seen"]
    assert headers_of(seen)["x-custom-token"] == [f"Token {CUSTOM_SECRET}"]
    assert headers_of(seen)["host"] == ["custom.test:8443"]
    assert seen["path"] == "/base/items?page=2"


def raw_route(port: int, path: str, header: str, value: str) -> bytes:
    return exchange(
        port,
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}: {value}\r\n"
            "Connection: close\r\n\r\n"
        ).encode(),
    )


def test_route_without_the_placeholder_is_refused(route_proxy) -> None:
    raw = raw_route(route_proxy.port, "/openai/v1/models", "Authorization", "Bearer sk-guess")
    assert status_of(raw) == 401
    assert OPENAI_SECRET.encode() not in raw
    event = route_proxy.last()
    assert (event.route, event.allowed, event.reason) == ("openai", False, Reason.AUTH)


def test_unknown_route_is_404(route_proxy) -> None:
    raw = raw_route(route_proxy.port, "/nothere/x", "Authorization", "Bearer x")
    assert status_of(raw) == 404 and route_proxy.last().reason is Reason.UNKNOWN_ROUTE


def test_route_keep_alive(route_proxy) -> None:
    placeholder = route_proxy.server.child_env()["ANTHROPIC_API_KEY"]
    with connect(route_proxy.port) as sock:
        for n in range(3):
            sock.sendall(
                (
                    f"GET /anthropic/v1/n{n} HTTP/1.1\r\nHost: x\r\n"
                    f"x-api-key: {placeholder}\r\n\r\n"
                ).encode()
            )
            status, _, body = read_response(sock)
            assert status == 200 and json.loads(body)["path"] == f"/v1/n{n}"


def test_route_reached_through_the_proxy(route_proxy) -> None:
    """A client that ignores NO_PROXY sends the route URL to the proxy: still served."""
    raw = exchange(
        route_proxy.port,
        (
            f"GET http://127.0.0.1:{route_proxy.port}/openai/v1/models HTTP/1.1\r\n"
            f"Proxy-Authorization: {proxy_auth(route_proxy.token)}\r\n"
            "Authorization: Bearer whatever\r\nConnection: close\r\n\r\n"
        ).encode(),
    )
    assert status_of(raw) == 200
    seen = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert headers_of(seen)["authorization"] == [f"Bearer {OPENAI_SECRET}"]


def test_upstream_tls_is_verified_by_default(make_proxy) -> None:
    """Without the test CA the upstream's certificate is untrusted: 502, no secret sent."""
    proxy = make_proxy(allow_hosts=[], credential_routes=[builtin_route("github", "ghp_x")])
    placeholder = proxy.server.child_env()["GITHUB_TOKEN"]
    raw = raw_route(proxy.port, "/github/user", "Authorization", f"Bearer {placeholder}")
    assert status_of(raw) == 502
    assert proxy.last().reason is Reason.UPSTREAM_FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in proxy.last().detail


def test_child_env_contents(route_proxy) -> None:
    env = route_proxy.server.child_env()
    for secret in (OPENAI_SECRET, ANTHROPIC_SECRET, CUSTOM_SECRET):
        assert secret not in json.dumps(env)
    assert env["CUSTOM_BASE_URL"] == f"http://127.0.0.1:{route_proxy.port}/custom"
    assert "ALL_PROXY" not in env and "all_proxy" not in env


def test_route_spec_validation() -> None:
    with pytest.raises(RouteError):
        RouteSpec(name="x", upstream="http://plain.example", secret="s")
    with pytest.raises(RouteError):
        RouteSpec(name="Bad Name", upstream="https://a.example", secret="s")
    with pytest.raises(RouteError):
        RouteSpec(name="x", upstream="https://a.example", secret="two\nlines")
    with pytest.raises(RouteError):
        RouteSpec(name="x", upstream="https://a.example", value_format="no secret", secret="s")
    with pytest.raises(RouteError):
        builtin_route("nosuch", "s")
    assert "sk-" not in repr(builtin_route("openai", "sk-hidden"))


def test_select_routes(monkeypatch) -> None:
    secrets = {"keyring://openai": "k1", "env://CUSTOM_SECRET": "k2"}
    routes = select_routes(["openai", "custom", "openai"], [custom_ir_route()], secrets.__getitem__)
    assert [(r.name, r.secret) for r in routes] == [("openai", "k1"), ("custom", "k2")]
    with pytest.raises(RouteError):
        select_routes(["nosuch"], [], secrets.__getitem__)
