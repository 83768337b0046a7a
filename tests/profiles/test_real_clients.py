"""Live, slow: the four real agents, installed from npm, run under their own profiles.

``npm install`` puts Node.js 24 (the ``node`` package; OpenClaw needs it) and then
``@anthropic-ai/claude-code``, ``@openai/codex``, ``opencode-ai`` and ``openclaw`` into one
prefix, cached between runs in pytest's cache directory (or ``$XDG_CACHE_HOME``). Each
agent's profile is extended by a user profile that adds only the prefix (read and
execute), compiled with ``nonoc compile``, and run with ``nono exec``: ``--version`` and
``--help`` must work, and ``node -e`` under the same bundle must be refused the fake
``~/.ssh`` key with EACCES. The test skips, with npm's own words, when npm or the
registry is unavailable.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from profile_helpers import BINDIR, REPO, Sandbox, private_root, require_tools

pytestmark = [pytest.mark.slow, pytest.mark.kernel]

#: profile -> (npm package, command, what --version prints)
AGENTS = {
    "claude-code": ("@anthropic-ai/claude-code", "claude", "Claude Code"),
    "codex": ("@openai/codex", "codex", "codex-cli"),
    "opencode": ("opencode-ai", "opencode", ""),
    "openclaw": ("openclaw", "openclaw", "OpenClaw"),
}
NODE = "node@24"
INSTALL_TIMEOUT = 900
#: The environment npm runs in: the real user's (its cache and registry settings), taken
#: before any fixture points HOME at a fake home.
NPM_ENV = dict(os.environ)
#: Each agent's state, as it is after the user installed and first ran it.
STATE_DIRS = (
    "~/.claude", "~/.codex", "$XDG_CONFIG_HOME/opencode", "$XDG_DATA_HOME/opencode",
    "$XDG_STATE_HOME/opencode", "$XDG_CACHE_HOME/opencode", "~/.openclaw",
)  # fmt: skip
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----\n"


def cache_dir(config: pytest.Config) -> Path:
    """Where the npm prefix is kept between runs."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("nono-npm-clients"))
    base = NPM_ENV.get("XDG_CACHE_HOME") or os.path.join(NPM_ENV.get("HOME", "/root"), ".cache")
    path = Path(base) / "nono-tests" / "npm-clients"
    path.mkdir(parents=True, exist_ok=True)
    return path


def npm(prefix: Path, *packages: str, path: str) -> None:
    """``npm install`` into ``prefix``; skip with npm's words if it fails."""
    done = subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error", *packages],
        env={**NPM_ENV, "PATH": path}, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        pytest.skip(f"npm could not install {' '.join(packages)}: {tail}")


def broken(prefix: Path) -> str | None:
    """Why the prefix cannot serve (a missing command, one failing ``--version``), or None."""
    bindir = prefix / "node_modules" / ".bin"
    path = f"{bindir}:/usr/bin:/bin"
    for command in ["node", *(cmd for _, cmd, _ in AGENTS.values())]:
        if not (bindir / command).exists():
            return f"{command} is missing"
        try:
            done = subprocess.run(
                [str(bindir / command), "--version"], env={**NPM_ENV, "PATH": path},
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return f"{command} --version did not finish"
        if done.returncode != 0:
            return f"{command} --version fails: {' '.join(done.stderr.splitlines()[-2:])}"
    return None


@pytest.fixture(scope="module")
def prefix(pytestconfig: pytest.Config) -> Path:
    """The npm prefix holding Node.js 24 and the four agents."""
    require_tools()
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    cache = cache_dir(pytestconfig)
    # Two test runs on one machine must not install into one prefix at the same time.
    with open(cache / "install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return install(cache / "prefix")


def install(root: Path) -> Path:
    """Install (or reuse) the prefix; the caller holds the install lock."""
    stamp = root / "nono-test-packages.json"
    wanted = [NODE, *(package for package, _, _ in AGENTS.values())]
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted and broken(root) is None:
        return root
    # From scratch: an interrupted or raced install leaves a prefix npm cannot repair.
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    system_path = "/usr/local/bin:/usr/bin:/bin"
    npm(root, NODE, path=system_path)
    # npm picks each package's version by the running node: with node 24 first on PATH,
    # openclaw resolves to its real releases rather than a placeholder for older engines.
    npm(root, *wanted[1:], path=f"{root / 'node_modules' / '.bin'}:{system_path}")
    problem = broken(root)
    if problem is not None:
        pytest.skip(f"npm installed the agents, but outside any sandbox {problem}")
    stamp.write_text(json.dumps(wanted))
    return root


@pytest.fixture(scope="module")
def sandbox(prefix: Path) -> Iterator[Sandbox]:
    """A fake home (outside /tmp) with the agents' state, a fake SSH key, and user profiles."""
    root = private_root("real-clients")
    try:
        sandbox = Sandbox(root)
        sandbox.make_dirs(STATE_DIRS)
        sandbox.make_files(["~/.claude.json"])
        sandbox.make_files(["~/.ssh/id_ed25519"], KEY)
        for profile in AGENTS:
            sandbox.user_profile(
                f"test-{profile}",
                f'profile test-{profile} extends {profile} "{profile} and the npm prefix" {{\n'
                f'  read "{prefix}"\n  exec "{prefix}"\n}}\n',
            )
        sandbox.env["PATH"] = f"{prefix / 'node_modules' / '.bin'}:/usr/bin:/bin"
        yield sandbox
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("profile", sorted(AGENTS))
def test_agent_runs_under_its_profile_and_is_denied_ssh(
    profile: str, prefix: Path, sandbox: Sandbox
) -> None:
    _, command, banner = AGENTS[profile]
    bundle = sandbox.compile(f"test-{profile}")
    program = str(prefix / "node_modules" / ".bin" / command)

    version = sandbox.exec(bundle, [program, "--version"], timeout=120)
    assert version.returncode == 0, version.stdout + version.stderr
    assert banner in version.stdout
    assert any(ch.isdigit() for ch in version.stdout)

    usage = sandbox.exec(bundle, [program, "--help"], timeout=120)
    assert usage.returncode == 0, usage.stdout + usage.stderr
    assert "usage" in (usage.stdout + usage.stderr).lower()

    key = sandbox.path("~/.ssh/id_ed25519")
    script = (
        "const fs = require('fs');"
        f"try {{ fs.readFileSync({json.dumps(str(key))}); console.log('READ'); }}"
        "catch (e) { console.log(e.code); }"
        f"try {{ fs.readdirSync({json.dumps(str(key.parent))}); console.log('LISTED'); }}"
        "catch (e) { console.log(e.code); }"
    )
    node = sandbox.exec(bundle, [str(prefix / "node_modules" / ".bin" / "node"), "-e", script])
    assert node.returncode == 0, node.stderr
    assert node.stdout.split() == ["EACCES", "EACCES"]


@pytest.mark.parametrize("profile", sorted(AGENTS))
def test_agent_under_nono_run(profile: str, prefix: Path, sandbox: Sandbox) -> None:
    """``nono run --profile``: compile on the fly (cached), keep a parent, run the agent."""
    _, command, banner = AGENTS[profile]
    done = subprocess.run(
        [str(BINDIR / "nono"), "run", "--profile", f"test-{profile}", "--", command, "--version"],
        env=sandbox.env, cwd=sandbox.work, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode == 126 and "sandbox" in done.stderr.lower():
        pytest.skip(f"the sandbox could not be applied here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert banner in done.stdout


def test_prefix_lives_outside_the_repository_tree_it_tests(prefix: Path) -> None:
    """The cached prefix is kept out of the sources (under .pytest_cache or a cache dir)."""
    assert not prefix.resolve().is_relative_to(REPO / "nonoc")
