"""Live: every built-in profile, compiled and run under the real kernel, in a fake home.

The home holds a fake secret at every credential path the profiles deny. Each profile is
compiled with ``nonoc compile`` and a probe runs under ``nono exec``: every secret must
answer EACCES to a read and to a write, while the profile's own paths (its state, the
working directory, its caches) must work. A second run starts in the home directory
itself, so that ``$CWD`` covers the whole home and the launcher must carve every deny
out of that grant.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from profile_helpers import (
    AGENT_PROFILES,
    PROFILES,
    REQUIRED_DENIES,
    Sandbox,
    home_denies,
    private_root,
    require_tools,
    system_python,
)

pytestmark = pytest.mark.kernel

#: Per profile: paths that must be readable and writable, readable only, and neither.
READ_WRITE: dict[str, tuple[str, ...]] = {
    "default": ("$TMPDIR", "/tmp"),
    "claude-code": (
        "~/.claude",
        "~/.claude.json",
        "$CWD",
        "$XDG_CACHE_HOME/pip",
        "~/.npm",
        "$TMPDIR",
    ),
    "codex": ("~/.codex", "$CWD", "$XDG_CACHE_HOME/go-build", "~/.cargo/registry"),
    "opencode": (
        "$XDG_CONFIG_HOME/opencode",
        "$XDG_DATA_HOME/opencode",
        "$XDG_STATE_HOME/opencode",
        "$XDG_CACHE_HOME/opencode",
        "$CWD",
    ),
    "openclaw": ("~/.openclaw", "$XDG_CONFIG_HOME/openclaw", "$TMPDIR"),
    "python-dev": ("$CWD", "$XDG_CACHE_HOME/pip", "$XDG_CACHE_HOME/uv"),
    "node-dev": ("$CWD", "~/.npm"),
    "go-dev": ("$CWD", "~/go/pkg/mod", "$XDG_CACHE_HOME/go-build"),
    "rust-dev": ("$CWD", "~/.cargo/registry", "~/.cargo/git"),
}
READ_ONLY: dict[str, tuple[str, ...]] = {
    "default": ("$CWD", "/etc/passwd", "/usr/bin"),
    "openclaw": ("$CWD", "~/.nvm"),
    "python-dev": ("~/.pyenv",),
    "node-dev": ("~/.nvm", "~/.gitconfig"),
    "go-dev": ("~/sdk", "~/go/bin"),
    "rust-dev": ("~/.rustup", "~/.cargo/bin"),
    "claude-code": ("~/.gitconfig", "~/.nvm"),
}
#: Per profile: paths that must be neither readable nor writable (besides the secrets).
CLOSED: dict[str, tuple[str, ...]] = {
    "default": ("$XDG_CACHE_HOME/other-tool", "~/Documents", "~/.config/other"),
    "claude-code": ("$XDG_CACHE_HOME/other-tool", "~/Documents", "~/.config/other"),
    "codex": ("$XDG_CACHE_HOME/other-tool", "~/Documents"),
    "opencode": ("$XDG_CACHE_HOME/other-tool", "~/Documents"),
    "openclaw": ("~/Documents", "~/.npm"),
}
#: Every agent's state, which no other profile may read.
AGENT_STATE = {
    "claude-code": "~/.claude",
    "codex": "~/.codex",
    "opencode": "$XDG_DATA_HOME/opencode",
    "openclaw": "~/.openclaw",
}


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[Sandbox, dict[str, Path], list[Path]]]:
    """One fake home with every secret planted, and every profile compiled into it."""
    require_tools()
    root = private_root("profiles-live")
    try:
        yield from _live(Sandbox(root))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _live(sandbox: Sandbox) -> Iterator[tuple[Sandbox, dict[str, Path], list[Path]]]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
            patch.setenv(name, sandbox.env[name])
        secrets = sorted(
            {d for p in PROFILES for d in home_denies(p)}
            | {s.replace("~", "$HOME", 1) for s in REQUIRED_DENIES}
        )
    planted = sandbox.plant(secrets)
    dirs = {
        p for table in (READ_WRITE, READ_ONLY, CLOSED) for paths in table.values() for p in paths
    }
    dirs |= set(AGENT_STATE.values())
    sandbox.make_dirs(
        sorted(d for d in dirs if d.startswith(("~", "$")) and not d.endswith((".json", "config")))
    )
    sandbox.make_files(["~/.claude.json"])
    sandbox.make_files(["~/.gitconfig"], "[init]\n\tdefaultBranch = main\n")
    (sandbox.work / "README").write_text("project\n")
    # One compile through the command line, the rest through the same pipeline in-process.
    bundles = {"default": sandbox.compile("default")}
    bundles.update(sandbox.compile_in_process([p for p in PROFILES if p != "default"]))
    yield sandbox, bundles, planted


def secret_ops(planted: list[Path]) -> list[tuple[str, Path]]:
    return [(op, path) for path in planted for op in ("read_secret", "write")]


@pytest.mark.parametrize("profile", PROFILES)
def test_secrets_denied_own_paths_work(
    profile: str, live: tuple[Sandbox, dict[str, Path], list[Path]]
) -> None:
    sandbox, bundles, planted = live
    rw = [sandbox.path(p) for p in READ_WRITE.get(profile, ())]
    ro = [sandbox.path(p) for p in READ_ONLY.get(profile, ())]
    closed = [sandbox.path(p) for p in CLOSED.get(profile, ())]
    ops = [*secret_ops(planted)]
    ops += [(op, p) for p in closed for op in ("read", "write")]
    ops += [(op, p) for p in rw for op in ("read", "write")]
    ops += [(op, p) for p in ro for op in ("read", "write")]
    answers = sandbox.probe(bundles[profile], ops)
    leaked = {
        f"{op} {path}": answer
        for (op, path), answer in answers.items()
        if path in planted and answer != "EACCES"
    }
    assert leaked == {}
    broken = {
        f"{op} {path}": answer
        for (op, path), answer in answers.items()
        if path in rw and answer != "OK"
    }
    assert broken == {}
    opened = {
        f"{op} {path}": answer
        for (op, path), answer in answers.items()
        if path in closed and answer != "EACCES"
    }
    assert opened == {}
    for path in ro:
        assert answers[("read", path)] == "OK", path
        assert answers[("write", path)] in ("EACCES", "EROFS"), path


@pytest.mark.parametrize("profile", ["default", "claude-code", "rust-dev"])
def test_started_in_home_the_denies_are_carved_out(
    profile: str, live: tuple[Sandbox, dict[str, Path], list[Path]]
) -> None:
    """$CWD is the home directory: the grant covers every secret, and still none is readable."""
    sandbox, bundles, planted = live
    own = [sandbox.path("~/.claude.json"), sandbox.path("$CWD/README")]
    answers = sandbox.probe(
        bundles[profile], [*secret_ops(planted), *(("read", p) for p in own)], cwd=sandbox.home
    )
    leaked = {
        f"{op} {path}": answer
        for (op, path), answer in answers.items()
        if path in planted and answer != "EACCES"
    }
    assert leaked == {}
    assert all(answers[("read", p)] == "OK" for p in own)


@pytest.mark.parametrize("profile", AGENT_PROFILES)
def test_agents_cannot_read_each_other(
    profile: str, live: tuple[Sandbox, dict[str, Path], list[Path]]
) -> None:
    sandbox, bundles, _ = live
    others = [sandbox.path(path) for agent, path in AGENT_STATE.items() if agent != profile]
    answers = sandbox.probe(bundles[profile], [("read", p) for p in others])
    assert set(answers.values()) == {"EACCES"}


def test_nono_keys_stay_out_of_reach(live: tuple[Sandbox, dict[str, Path], list[Path]]) -> None:
    """The signing key nonoc made in this home is not readable under any agent profile."""
    sandbox, bundles, _ = live
    keys = sandbox.path("$XDG_CONFIG_HOME/nono/keys")
    assert keys.is_dir()
    for profile in AGENT_PROFILES:
        assert sandbox.probe(bundles[profile], [("read", keys)]) == {("read", keys): "EACCES"}


@pytest.mark.parametrize("profile", ["default", "claude-code", "python-dev"])
def test_git_works_in_the_project(
    profile: str, live: tuple[Sandbox, dict[str, Path], list[Path]]
) -> None:
    """git stops on a configuration file it may not read: /etc/gitconfig must be readable."""
    git = shutil.which("git", path="/usr/bin:/bin")
    if git is None:
        pytest.skip("no git in /usr/bin or /bin")
    sandbox, bundles, _ = live
    repo = sandbox.work / f"repo-{profile}"
    repo.mkdir(exist_ok=True)
    env = {
        "GIT_AUTHOR_NAME": "n",
        "GIT_AUTHOR_EMAIL": "n@example.invalid",
        "GIT_COMMITTER_NAME": "n",
        "GIT_COMMITTER_EMAIL": "n@example.invalid",
    }
    setup = subprocess.run(
        ["sh", "-c", "git init -q . && echo a > a && git add a && git commit -qm first"],
        cwd=repo, env={**sandbox.env, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    script = "git log --oneline && git status --short"
    if profile != "default":  # default reads the project; the others may commit to it
        script += (
            " && echo b > b && git add b && git commit -qm second && git log --oneline | wc -l"
        )
    done = sandbox.exec(
        bundles[profile], [git.replace("git", "sh"), "-c", script], cwd=repo, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "first" in done.stdout
    if profile != "default":
        assert done.stdout.split()[-1] == "2"


@pytest.mark.parametrize("profile", ["claude-code", "python-dev"])
def test_python_venv_with_pip_in_the_project(
    profile: str, live: tuple[Sandbox, dict[str, Path], list[Path]]
) -> None:
    """`python3 -m venv` runs pip offline (ensurepip): pip reads the distribution's files."""
    python = system_python()
    sandbox, bundles, _ = live
    probe = subprocess.run(
        [python, "-c", "import ensurepip, venv"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip("the system python3 has no venv/ensurepip module")
    target = sandbox.work / f"venv-{profile}"
    done = sandbox.exec(bundles[profile], [python, "-m", "venv", str(target)], timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    pip = sandbox.exec(bundles[profile], [str(target / "bin" / "python"), "-m", "pip", "--version"])
    assert pip.returncode == 0, pip.stderr
    assert str(target) in pip.stdout


def test_other_processes_environment_stays_closed(
    live: tuple[Sandbox, dict[str, Path], list[Path]],
) -> None:
    """The agent reads its own /proc entries, never another process's environment or maps.

    Landlock does not refuse read-mode ptrace access towards processes outside the sandbox,
    so a grant of all of /proc would expose every same-user process's /proc/PID/environ:
    the system group grants /proc/self (the agent's own process) and no other PID.
    """
    sandbox, bundles, _ = live
    neighbour = subprocess.Popen(["sleep", "30"], env={**sandbox.env, "NEIGHBOUR_TOKEN": "s3cret"})
    try:
        pid = neighbour.pid
        probe = (
            f"import os\n"
            f"print(open('/proc/self/status').readline().strip())\n"
            f"for name in ('environ', 'maps', 'cmdline'):\n"
            f"    try:\n"
            f"        open('/proc/{pid}/' + name, 'rb').read(); print(name, 'open')\n"
            f"    except PermissionError:\n"
            f"        print(name, 'closed')\n"
        )
        done = sandbox.exec(bundles["default"], [system_python(), "-I", "-S", "-c", probe])
    finally:
        neighbour.kill()
        neighbour.wait()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Name:")
    assert lines[1:] == ["environ closed", "maps closed", "cmdline closed"]
