"""The child's proxy environment."""

from __future__ import annotations

from nonoc.runtime.proxy import PROXY_ENV_STRIP, builtin_route, proxy_env
from nonoc.runtime.proxy.auth import check_placeholder, check_proxy_authorization


def test_proxy_variables() -> None:
    env = proxy_env("127.0.0.1", 4128, "TOKEN")
    url = "http://nono:TOKEN@127.0.0.1:4128"
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "GLOBAL_AGENT_HTTP_PROXY",
        "GLOBAL_AGENT_HTTPS_PROXY",
    ):
        assert env[name] == url
    assert env["NO_PROXY"] == env["no_proxy"] == "localhost,127.0.0.1,::1"
    assert env["NODE_USE_ENV_PROXY"] == "1"
    assert not set(PROXY_ENV_STRIP) & set(env)
    assert list(env) == sorted(env)


def test_ipv6_proxy_host_is_bracketed() -> None:
    assert proxy_env("::1", 9, "T")["HTTP_PROXY"] == "http://nono:T@[::1]:9"


def test_route_variables_hold_only_placeholders() -> None:
    routes = [builtin_route(n, f"real-{n}") for n in ("openai", "anthropic", "gemini", "github")]
    env = proxy_env("127.0.0.1", 7, "TOK", routes)
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:7/openai/v1"
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:7/anthropic"
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:7/gemini"
    assert env["GITHUB_API_URL"] == "http://127.0.0.1:7/github"
    for var in (
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "GITHUB_TOKEN",
        "GH_TOKEN",
    ):
        assert env[var] == "nono-placeholder-TOK"
    assert not any("real-" in value for value in env.values())


def test_token_checks() -> None:
    import base64

    good = "Basic " + base64.b64encode(b"nono:TOK").decode()
    assert check_proxy_authorization(good, "TOK")
    assert not check_proxy_authorization(good, "OTHER")
    assert not check_proxy_authorization(None, "TOK")
    assert check_placeholder("Bearer nono-placeholder-TOK", "TOK")
    assert check_placeholder("nono-placeholder-TOK", "TOK")
    assert not check_placeholder("Bearer nono-placeholder-X", "TOK")
