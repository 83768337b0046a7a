"""stdlib/hosts.nono: every group resolves, switches to proxy mode, and holds valid patterns."""

from __future__ import annotations

import pytest

from nonoc.runtime.proxy import HostAllowlist, parse_host

resolve = pytest.importorskip("nonoc.resolve", reason="the front end is not available")

GROUPS = {
    "llm_apis": ["api.openai.com", "api.anthropic.com", "generativelanguage.googleapis.com"],
    "npm_registry": ["registry.npmjs.org"],
    "pypi": ["pypi.org", "files.pythonhosted.org"],
    "crates_io": ["index.crates.io", "static.crates.io"],
    "go_proxy": ["proxy.golang.org", "sum.golang.org"],
    "rubygems": ["rubygems.org"],
    "maven_central": ["repo.maven.apache.org", "repo1.maven.org"],
    "package_registries": ["registry.npmjs.org", "pypi.org", "proxy.golang.org", "repo1.maven.org"],
    "github": ["github.com", "api.github.com", "raw.githubusercontent.com"],
    "gitlab": ["gitlab.com"],
    "sigstore": ["fulcio.sigstore.dev", "rekor.sigstore.dev", "tuf-repo-cdn.sigstore.dev"],
}


def policy_using(group: str):
    text = f'import stdlib "hosts"\nprofile t "test" {{ use {group} }}\n'
    return resolve.load_policy_text(text, "t.nono", "linux", profile="t")


@pytest.mark.parametrize(("group", "expected"), sorted(GROUPS.items()))
def test_group_allows_its_hosts(group: str, expected: list[str]) -> None:
    policy = policy_using(group)
    assert policy.network.mode.value == "proxy"
    patterns = [rule.pattern for rule in policy.network.proxy_hosts]
    allowlist = HostAllowlist.from_patterns(patterns)  # every pattern is one the proxy takes
    for host in expected:
        assert allowlist.match(parse_host(host)) is not None, host
    assert allowlist.match(parse_host("metadata.google.internal")) is None
    assert all(rule.provenance.file.endswith("hosts.nono") for rule in policy.network.proxy_hosts)
