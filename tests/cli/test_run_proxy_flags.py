"""The proxy and credential flags, and the choice of hooks they lead to (no kernel needed)."""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nonoc.cli import run_cmd
from nonoc.errors import UsageError
from nonoc.runtime.flags import parse, statements
from nonoc.runtime.run import session
from nonoc.runtime.run.credential_hook import EnvCredentialHook, set_child_env
from nonoc.runtime.run.proxy_hook import ProxyHook, network_hooks, split_map

REPO = Path(__file__).resolve().parents[2]


def request(*argv: str) -> Any:
    parsed = parse([*argv, "--", "true"])
    assert parsed is not None
    return parsed


def test_proxy_allow_is_policy_and_the_rest_is_the_sessions() -> None:
    parsed = request(
        "--proxy-allow", "API.Example.com.", "--proxy-allow", "*.example.org",
        "--proxy-credential", "openai", "--env-credential", "HF_TOKEN",
        "--env-credential-map", "file:///run/my secret", "MY_VAR", "--net-private",
    )  # fmt: skip
    assert statements(parsed)[1:] == [
        ("--proxy-allow API.Example.com.", 'network proxy { allow "api.example.com" }'),
        ("--proxy-allow *.example.org", 'network proxy { allow "*.example.org" }'),
    ]
    assert parsed.session == [
        ("--proxy-credential", "openai"),
        ("--env-credential", "HF_TOKEN"),
        ("--env-credential-map", "file:///run/my secret MY_VAR"),
        ("--net-private", ""),
    ]
    assert split_map("file:///run/my secret MY_VAR") == ("file:///run/my secret", "MY_VAR")


@pytest.mark.parametrize(
    "argv",
    [
        ["--env-credential-map", "env://A", "B", "--proxy-allow", "x.test", "--", "cmd"],
        ["--env-credential-map", "env://A", "B", "--net-private", "cmd", "arg"],
        ["--proxy-credential", "github", "--env-credential", "openai", "--", "cmd"],
    ],
)
def test_argparse_and_the_fast_parser_agree_on_the_new_flags(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="nono run")
    run_cmd.add_arguments(parser)
    assert run_cmd.request_from(parser.parse_args(argv)) == parse(argv)


def test_a_two_word_flag_needs_both_words() -> None:
    assert request("--env-credential-map=env://A", "B").session == [
        ("--env-credential-map", "env://A B")
    ]
    with pytest.raises(UsageError, match=r"needs a value \(REF VAR\)"):
        parse(["--env-credential-map", "env://A", "--", "true"])


def payload(network: str, **launch: Any) -> dict[str, Any]:
    section = {"network": network, "env_set": {"KEEP": "1", "ALL_PROXY": "x"}, **launch}
    return {
        "linux": {"launch": dict(section), "landlock": {"net": []}},
        "macos": {"launch": dict(section)},
    }


def kinds(hooks: list[Any]) -> list[str]:
    return [type(hook).__name__ for hook in hooks]


def test_which_hooks_each_network_mode_gets() -> None:
    assert network_hooks([], payload("open")) == []
    assert network_hooks([], payload("blocked")) == []
    assert kinds(network_hooks([], payload("proxy"))) == ["ProxyHook"]
    routes_only = network_hooks([("--proxy-credential", "openai")], payload("open"))
    assert kinds(routes_only) == ["ProxyHook"]
    env_only = network_hooks([("--env-credential", "HF_TOKEN")], payload("blocked"))
    assert kinds(env_only) == ["EnvCredentialHook"]
    both = network_hooks(
        [("--env-credential-map", "env://A B"), ("--net-private", "")], payload("proxy")
    )
    assert kinds(both) == ["EnvCredentialHook", "ProxyHook"]
    assert isinstance(both[1], ProxyHook) and both[1].private
    assert isinstance(both[0], EnvCredentialHook) and both[0].mappings == (("env://A", "B"),)


def test_the_audit_sink_is_subscribed() -> None:
    seen: list[Any] = []
    (hook,) = network_hooks([], payload("proxy"), on_event=seen.append)
    assert isinstance(hook, ProxyHook)
    hook._dispatch("event")  # type: ignore[arg-type]
    assert seen == ["event"]


@pytest.mark.parametrize(
    ("options", "mode", "message"),
    [
        ([("--proxy-credential", "openai")], "blocked", "the network is blocked"),
        ([("--net-private", "")], "open", "the network is open"),
        ([("--net-private", "")], "blocked", "the network is blocked"),
    ],
)
def test_requests_the_network_mode_cannot_serve(
    options: list[tuple[str, str]], mode: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        network_hooks(options, payload(mode))


def test_child_env_is_set_over_the_profiles_and_removed_names_go_everywhere() -> None:
    original = payload("proxy")
    private = copy.deepcopy(original)
    launch = session.Launch(private, ["true"], {"ALL_PROXY": "socks://x", "HOME": "/h"})
    set_child_env(launch, {"HTTP_PROXY": "http://p", "KEEP": "2"}, remove=("ALL_PROXY",))
    for target in ("linux", "macos"):
        assert private[target]["launch"]["env_set"] == {"HTTP_PROXY": "http://p", "KEEP": "2"}
    assert launch.environ == {"HOME": "/h"}
    assert original["linux"]["launch"]["env_set"] == {"KEEP": "1", "ALL_PROXY": "x"}


def test_env_credentials_land_in_env_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE", "s3cret")
    launch = session.Launch(payload("open"), ["true"], {})
    hook = EnvCredentialHook(mappings=[("env://SOURCE", "TARGET")])
    hook.before_spawn(launch)
    assert launch.payload["linux"]["launch"]["env_set"]["TARGET"] == "s3cret"
    assert "s3cret" not in repr(hook)


BLANK = r"""
import json, os, sys
from nonoc.runtime.run import envblock
done = envblock.blank(["SECRET_ONE", "ABSENT"])
with open("/proc/self/environ", "rb") as handle:
    block = handle.read()
print(json.dumps({"done": done, "block": block.decode("latin-1"), "env": os.environ["SECRET_ONE"]}))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="/proc/self/environ is Linux's")
def test_envblock_blanks_values_in_the_processs_own_environ_file() -> None:
    env = {"PATH": "/usr/bin:/bin", "SECRET_ONE": "hunter2", "AFTER": "kept"}
    out = subprocess.run(
        [sys.executable, "-c", BLANK], env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    result = json.loads(out)
    assert result["done"] == ["SECRET_ONE"]
    assert "hunter2" not in result["block"]
    assert "SECRET_ONE=\0\0\0\0\0\0\0\0" in result["block"] and "AFTER=kept\0" in result["block"]
    assert result["env"] == "hunter2"  # Python's own copy still has it
