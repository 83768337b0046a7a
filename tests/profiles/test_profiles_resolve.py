"""The built-in profiles and the standard library, as the front end resolves them.

What every profile must have (the mandatory groups, every credential deny), what each
grants of its own, what none may grant, and how a user overrides a built-in profile.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest
from profile_helpers import AGENT_PROFILES, PROFILES, REPO, REQUIRED_DENIES, private_root

from nonoc import ir
from nonoc.errors import NonoError
from nonoc.paths import normalize
from nonoc.resolve import find_profile, resolve
from nonoc.resources import data_dir
from nonoc.syntax.parser import parse

TARGETS: tuple[ir.Target, ...] = ("linux", "macos")
LINUX_ONLY = {"~/.local/share/keyrings", "~/.mozilla", "~/.config/google-chrome"}
MACOS_DENIES = (
    "/Library/Keychains",
    "~/Library/Application Support/Google/Chrome",
    "~/Library/Safari",
    "~/Library/Messages",
    "~/Library/Mail",
    "~/Library/Cookies",
)
#: Runtime trees that hold a credential the mandatory deny carves out (split at launch).
NESTED_SECRETS: set[tuple[str, str]] = set()
MANDATORY = {"protect_secrets", "nono_self", "syscall_hardening"}

#: Each agent's own state: (path, kind) that must be granted read and write.
OWN_STATE: dict[str, tuple[tuple[str, ir.PathKind], ...]] = {
    "claude-code": (
        ("$HOME/.claude", ir.PathKind.TREE),
        ("$HOME/.claude.json", ir.PathKind.FILE),
        ("$HOME/.claude.json.lock", ir.PathKind.TREE),
    ),
    "codex": (("$HOME/.codex", ir.PathKind.TREE),),
    "opencode": (
        ("$XDG_CONFIG_HOME/opencode", ir.PathKind.TREE),
        ("$XDG_DATA_HOME/opencode", ir.PathKind.TREE),
        ("$XDG_STATE_HOME/opencode", ir.PathKind.TREE),
        ("$XDG_CACHE_HOME/opencode", ir.PathKind.TREE),
    ),
    "openclaw": (("$HOME/.openclaw", ir.PathKind.TREE),),
}
#: The runtime group each profile must bring in.
RUNTIME = {
    "claude-code": "node_runtime",
    "codex": "node_runtime",
    "opencode": "node_runtime",
    "openclaw": "node_runtime",
    "python-dev": "python_runtime",
    "node-dev": "node_runtime",
    "go-dev": "go_runtime",
    "rust-dev": "rust_runtime",
}


def policy(profile: str, target: ir.Target = "linux") -> ir.Policy:
    """The resolved profile, asserting no warnings (user profiles included in the lookup)."""
    result = resolve(profile, target)
    assert [d.render() for d in result.diagnostics] == []
    return result.policy


@functools.cache
def builtin(profile: str, target: ir.Target = "linux") -> ir.Policy:
    """A shipped profile, resolved once per test session (no user profile in reach)."""
    return policy(str(REPO / "profiles" / f"{profile}.nono"), target)


def access_of(p: ir.Policy, path: str, kind: ir.PathKind | None = None) -> set[ir.Access]:
    """Accesses granted on exactly ``path``."""
    return {
        a for g in p.grants if g.path == path and (kind is None or g.kind == kind) for a in g.access
    }


def groups_in(p: ir.Policy) -> set[str]:
    return {
        link.name
        for g in [*p.grants, *p.denies]
        for link in g.provenance.chain
        if link.kind == "group"
    }


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def test_the_nine_profiles_ship() -> None:
    expected = {
        "default",
        "claude-code",
        "codex",
        "opencode",
        "openclaw",
        "python-dev",
        "node-dev",
        "go-dev",
        "rust-dev",
    }
    assert expected <= set(PROFILES)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("profile", PROFILES)
def test_profile_resolves_cleanly_with_mandatory_groups(profile: str, target: ir.Target) -> None:
    p = builtin(profile, target)
    assert p.name == profile
    assert p.description
    assert MANDATORY <= set(p.mandatory_groups)
    assert p.compat is ir.Compat.BEST_EFFORT


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("profile", PROFILES)
def test_every_credential_path_is_denied(profile: str, target: ir.Target) -> None:
    denies = {d.path for d in builtin(profile, target).denies}
    wanted = [c for c in REQUIRED_DENIES if target == "linux" or c not in LINUX_ONLY]
    if target == "macos":
        wanted += MACOS_DENIES
    missing = [c for c in wanted if normalize(c) not in denies]
    assert missing == []


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("profile", PROFILES)
def test_no_grant_reaches_a_credential(profile: str, target: ir.Target) -> None:
    """No grant equals, lies inside, or covers a credential deny (bar $CWD, judged at launch)."""
    p = builtin(profile, target)
    secrets = [
        d.path for d in p.denies if "protect_secrets" in {c.name for c in d.provenance.chain}
    ]
    assert secrets
    for grant in p.grants:
        for secret in secrets:
            assert not inside(grant.path, secret), (grant.path, secret)
            if grant.path != "$CWD" and (grant.path, secret) not in NESTED_SECRETS:
                assert not inside(secret, grant.path), (grant.path, secret)


@pytest.mark.parametrize("profile", PROFILES)
def test_no_broad_write(profile: str) -> None:
    """Write never covers the home directory, the root or a system tree."""
    for target in TARGETS:
        writes = {g.path for g in builtin(profile, target).grants if ir.Access.WRITE in g.access}
        assert not writes & {"/", "$HOME", "/usr", "/etc", "/bin", "/System", "/Library"}
        assert not any(w.startswith(("/usr/", "/etc/", "/bin/")) for w in writes)


@pytest.mark.parametrize("profile", sorted(OWN_STATE))
def test_agent_profile_grants_its_own_state(profile: str) -> None:
    for target in TARGETS:
        p = builtin(profile, target)
        for path, kind in OWN_STATE[profile]:
            assert access_of(p, path, kind) >= {ir.Access.READ, ir.Access.WRITE}, path


@pytest.mark.parametrize("profile", AGENT_PROFILES)
def test_agents_do_not_grant_each_other_state(profile: str) -> None:
    p = builtin(profile)
    granted = {g.path for g in p.grants}
    for other, state in OWN_STATE.items():
        if other != profile:
            assert not granted & {path for path, _ in state}, other


@pytest.mark.parametrize("profile", PROFILES)
def test_working_directory(profile: str) -> None:
    p = builtin(profile)
    cwd = access_of(p, "$CWD")
    if profile in ("default", "openclaw"):
        assert cwd == {ir.Access.READ}
    else:
        assert cwd == {ir.Access.READ, ir.Access.WRITE, ir.Access.EXECUTE}


@pytest.mark.parametrize("profile", sorted(RUNTIME))
def test_profile_brings_its_runtime(profile: str) -> None:
    assert RUNTIME[profile] in groups_in(builtin(profile))


def test_keychain_deny_only_where_no_agent_logs_in_through_it() -> None:
    keychains = normalize("~/Library/Keychains")
    for profile in PROFILES:
        denied = keychains in {d.path for d in builtin(profile, "macos").denies}
        assert denied is (profile not in ("claude-code", "codex")), profile
    assert keychains not in {d.path for d in builtin("default", "linux").denies}


def test_dangerous_commands_and_dev_exceptions() -> None:
    default = builtin("default")
    assert {"rm", "sudo", "dd", "npm", "pip"} <= set(default.blocked_commands)
    assert "npm" not in builtin("node-dev").blocked_commands
    assert "pip" not in builtin("python-dev").blocked_commands
    assert "mkfs" in default.blocked_commands
    assert "mkfs" not in builtin("default", "macos").blocked_commands
    assert "launchctl" in builtin("default", "macos").blocked_commands


def test_provenance_names_the_stdlib_group() -> None:
    p = builtin("claude-code")
    ssh = next(d for d in p.denies if d.path == "$HOME/.ssh")
    assert ssh.provenance.file == "stdlib/credentials.nono"
    assert [link.name for link in ssh.provenance.chain][-2:] == [
        "protect_secrets",
        "deny_credentials",
    ]


# --------------------------------------------------------------------------- the stdlib


def stdlib_files() -> list[Path]:
    return sorted(data_dir("stdlib").glob("*.nono"))


def test_every_stdlib_group_has_a_description() -> None:
    for path in stdlib_files():
        for group in parse(path.read_text(encoding="utf-8"), path.name).groups:
            assert group.description, f"{path.name}: group {group.name.text}"


def test_stdlib_groups_the_issue_names_exist() -> None:
    names = {
        g.name.text for path in stdlib_files() for g in parse(path.read_text(), path.name).groups
    }
    wanted = {
        "deny_credentials", "deny_password_stores", "deny_keychains_macos", "deny_browser_data",
        "deny_shell_history", "deny_shell_configs", "protect_secrets", "system", "system_write",
        "user_caches", "node_runtime", "python_runtime", "rust_runtime", "go_runtime",
        "java_runtime", "nix_runtime", "git_config", "homebrew", "editors", "unlink_protection",
        "dangerous_commands", "baseline",
    }  # fmt: skip
    assert wanted <= names


def test_protect_secrets_is_mandatory() -> None:
    groups = {
        g.name.text: g
        for g in parse((data_dir("stdlib") / "credentials.nono").read_text(), "c").groups
    }
    assert groups["protect_secrets"].mandatory
    assert not groups["deny_keychains_macos"].mandatory


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    "group", ["editors", "java_runtime", "nix_runtime", "unlink_protection", "user_caches"]
)
def test_unused_groups_resolve_cleanly(group: str, target: ir.Target, tmp_path: Path) -> None:
    """Groups no built-in profile uses still resolve for both targets."""
    (tmp_path / "p.nono").write_text(f"profile p extends default {{ use {group} }}\n")
    result = resolve(str(tmp_path / "p.nono"), target)
    assert [d.render() for d in result.diagnostics] == []


# --------------------------------------------------------------------------- overrides


def user_profile(home: Path, name: str, text: str) -> Path:
    folder = home / ".config" / "nono" / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.nono"
    path.write_text(text)
    return path


def test_user_profile_extends_a_built_in(private_home: Path) -> None:
    user_profile(
        private_home,
        "my-claude",
        'profile my-claude extends claude-code, python-dev {\n  read "~/notes"\n  network block\n}\n',
    )
    p = policy("my-claude")
    assert access_of(p, "$HOME/notes") == {ir.Access.READ}
    assert access_of(p, "$HOME/.claude") >= {ir.Access.READ, ir.Access.WRITE}
    assert "python_runtime" in groups_in(p)
    assert p.network.mode is ir.NetworkMode.BLOCKED
    assert "$HOME/.ssh" in {d.path for d in p.denies}


def test_user_profile_shadows_a_built_in(private_home: Path) -> None:
    path = user_profile(private_home, "default", 'profile default "mine" { read "/opt/tools" }\n')
    assert find_profile("default") == path
    assert (
        find_profile("codex") == REPO / "profiles" / "codex.nono"
        or find_profile("codex").name == "codex.nono"
    )
    # A built-in extending `default` now gets the user's: lookup goes user first.
    p = policy("opencode")
    assert access_of(p, "/opt/tools") == {ir.Access.READ}


def test_mandatory_groups_cannot_be_escaped(private_home: Path) -> None:
    user_profile(private_home, "leaky", 'profile leaky extends default {\n  read "~/.ssh"\n}\n')
    with pytest.raises(NonoError) as info:
        resolve("leaky", "linux")
    assert "$HOME/.ssh is both granted" in str(info.value)


def test_a_grant_of_home_keeps_every_deny(private_home: Path) -> None:
    user_profile(private_home, "wide", 'profile wide extends default {\n  allow "~"\n}\n')
    p = policy("wide")
    assert access_of(p, "$HOME") == {ir.Access.READ, ir.Access.WRITE}
    assert {normalize(c) for c in REQUIRED_DENIES} <= {d.path for d in p.denies}


# --------------------------------------------------------------------------- lint


def test_shipped_files_pass_nonoc_check_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nonoc check --strict` finds nothing in profiles/ and stdlib/ (host paths aside)."""
    from nonoc.cli.nonoc import main

    # The check judges denies against grants on this host: the home must lie outside the
    # trees every profile grants (/tmp), and the working directory must not contain it.
    root = private_root("check")
    try:
        monkeypatch.setenv("HOME", str(root / "home"))
        monkeypatch.setenv("XDG_CONFIG_HOME", str(root / "home" / ".config"))
        monkeypatch.setenv("XDG_CACHE_HOME", str(root / "home" / ".cache"))
        monkeypatch.chdir(tmp_path)
        shipped = [str(REPO / "profiles"), str(REPO / "stdlib")]
        code = main(["check", "--strict", "--disable", "missing-path", *shipped])
        assert code == 0, capsys.readouterr().out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_override_example_of_the_docs_resolves(private_home: Path) -> None:
    """docs/profiles.md's user profile, copied from the page, resolves as the page says."""
    text = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    start = text.index("# ~/.config/nono/profiles/my-claude.nono")
    example = text[start : text.index("\n}\n", start) + 3]
    user_profile(private_home, "my-claude", example)
    p = policy("my-claude")
    assert p.network.mode is ir.NetworkMode.PROXY
    assert "api.anthropic.com" in {h.pattern for h in p.network.proxy_hosts}
    assert access_of(p, "$HOME/notes") == {ir.Access.READ}
    assert "rm" not in p.blocked_commands
    assert "python_runtime" in groups_in(p)
