"""Run real children under compiled built-in profiles and read the kernel's answers.

A ``Sandbox`` is a private home directory (``HOME`` and the XDG directories inside it, the
OS keyring replaced) holding fake credentials, with a project directory to start in. It
compiles profiles with the real ``nonoc compile`` and runs commands with ``nono exec``: the
launcher verifies the bundle, applies Landlock and seccomp to itself and execs the command.

The probe is the system's ``python3`` started with ``-I -S`` (it reads nothing outside
``/usr``, which every profile grants); it attempts each operation and prints ``OK`` or the
errno name the kernel answered.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINDIR = Path(sys.executable).parent
PROFILES = tuple(sorted(p.stem for p in (REPO / "profiles").glob("*.nono")))
AGENT_PROFILES = ("claude-code", "codex", "opencode", "openclaw")

#: The credential paths the issue names, every one of which every profile must deny.
REQUIRED_DENIES = (
    "~/.ssh", "~/.gnupg", "~/.aws", "~/.azure", "~/.config/gcloud", "~/.kube", "~/.docker",
    "~/.git-credentials", "~/.netrc", "~/.npmrc", "~/.vault-token", "~/.config/op",
    "~/.password-store", "~/.local/share/keyrings", "~/.mozilla", "~/.config/google-chrome",
    "~/.bash_history", "~/.zsh_history", "~/.bashrc", "~/.zshrc", "~/.profile",
)  # fmt: skip

#: Deny paths that name one file (the rest are made as directories holding a secret).
FILE_NAMES = frozenset({
    ".git-credentials", ".netrc", ".npmrc", ".pypirc", ".vault-token", "credentials.toml",
    "credentials", ".bash_history", ".zsh_history", ".history", ".sh_history",
    ".python_history", ".node_repl_history", ".psql_history", ".mysql_history", "fish_history",
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile", ".zshrc",
    ".zprofile", ".zshenv", ".zlogin", ".zlogout", ".env", ".envrc", "token", "stored_tokens",
    "auth.json", "credentials.json", ".terraformrc", ".s3cfg", ".boto", ".databrickscfg",
})  # fmt: skip

PROBE = r"""
import errno, json, os, sys

def attempt(op, path):
    try:
        if op == "read":
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as handle:
                    handle.read(1)
        elif op == "read_secret":
            with open(os.path.join(path, "secret") if os.path.isdir(path) else path, "rb") as handle:
                handle.read(1)
        elif op == "write":
            if os.path.isdir(path):
                target = os.path.join(path, "probe-%d" % os.getpid())
                with open(target, "w") as handle:
                    handle.write("x")
                os.unlink(target)
            else:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                os.close(fd)
        else:
            return "unknown op " + op
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return "OK"

ops = json.loads(sys.argv[1])
print(json.dumps([attempt(op, path) for op, path in ops]))
"""


#: Trees every profile grants read and write: a fake home inside one would be writable.
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")


def private_root(name: str) -> Path:
    """A fresh directory outside the shared temporary trees every profile may write.

    pytest's ``tmp_path`` lives under /tmp, which the profiles grant: a fake home there
    would sit inside a granted tree. The repository's ``.pytest_cache`` or the user's cache
    directory are used instead.
    """
    for base in (REPO / ".pytest_cache", Path(os.path.expanduser("~")) / ".cache"):
        real = os.path.realpath(base)
        if any(real == t or real.startswith(t + "/") for t in SHARED_SCRATCH):
            continue
        try:
            base.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"nono-{name}-", dir=base)).resolve()
        except OSError:
            continue
    pytest.skip("no writable directory outside /tmp for a fake home (the profiles grant /tmp)")


def system_python() -> str:
    """The system's python3 (under /usr, which every profile grants), or skip."""
    found = shutil.which("python3", path="/usr/bin:/bin")
    if found is None:
        pytest.skip("no system python3 in /usr/bin or /bin")
    return found


def require_tools() -> None:
    """Skip unless Landlock can run here and the console scripts are installed."""
    if sys.platform != "linux":
        pytest.skip("Landlock needs Linux")
    if not (BINDIR / "nonoc").exists() or not (BINDIR / "nono").exists():
        pytest.skip("the nonoc/nono console scripts are not installed in this venv")
    from nonoc.launch import landlock

    if landlock.abi_version() <= 0:
        pytest.skip("this kernel has no Landlock (absent or not enabled at boot)")


class Sandbox:
    """A private home with fake credentials, a project directory, and compiled bundles."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.work = self.home / "project"
        self.bundles = root / "bundles"
        for folder in (self.home, self.work, self.bundles):
            folder.mkdir(parents=True, exist_ok=True)
        self.tmp = root / "tmp"
        self.tmp.mkdir(exist_ok=True)
        self.env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "TMPDIR": str(self.tmp),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
            "LANG": "C.UTF-8",
        }

    def path(self, template: str) -> Path:
        """A ``~``/``$HOME``/``$CWD``/``$TMPDIR``/``$XDG_*`` path on this sandbox's host."""
        for name in (
            "XDG_CONFIG_HOME",
            "XDG_CACHE_HOME",
            "XDG_DATA_HOME",
            "XDG_STATE_HOME",
            "HOME",
            "TMPDIR",
        ):
            prefix = "$" + name
            if template == prefix or template.startswith(prefix + "/"):
                return Path(self.env[name] + template[len(prefix) :])
        if template == "$CWD" or template.startswith("$CWD/"):
            return Path(str(self.work) + template[4:])
        if template == "~" or template.startswith("~/"):
            return Path(str(self.home) + template[1:])
        return Path(template)

    def plant(self, templates: Iterable[str]) -> list[Path]:
        """Create a fake secret at each path: a file, or a directory holding ``secret``."""
        planted = []
        for template in templates:
            path = self.path(template)
            if path.name in FILE_NAMES:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("secret\n")
            else:
                path.mkdir(parents=True, exist_ok=True)
                (path / "secret").write_text("secret\n")
            planted.append(path)
        return planted

    def make_dirs(self, templates: Iterable[str]) -> None:
        """Create directories (an agent's state, caches) that must exist at launch."""
        for template in templates:
            self.path(template).mkdir(parents=True, exist_ok=True)

    def make_files(self, templates: Iterable[str], text: str = "{}\n") -> None:
        """Create files that must exist at launch."""
        for template in templates:
            path = self.path(template)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def compile(self, source: str, name: str | None = None, timeout: float = 120) -> Path:
        """``nonoc compile SOURCE`` (a profile name or file) to a signed Linux bundle."""
        bundle = self.bundles / f"{name or Path(source).stem}.bundle"
        done = subprocess.run(
            [str(BINDIR / "nonoc"), "compile", source, "--target", "linux", "-o", str(bundle)],
            env=self.env, cwd=self.work, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return bundle

    def compile_in_process(self, sources: Iterable[str]) -> dict[str, Path]:
        """Compile several profiles with ``nonoc.compile`` in this process (the CLI's own
        pipeline, without a Python start-up per profile), signed with this home's key."""
        from nonoc.bundle import keys
        from nonoc.bundle.keys import write_atomic
        from nonoc.compile import compile_profile

        bundles = {}
        with pytest.MonkeyPatch.context() as patch:
            for name in (
                "HOME",
                "XDG_CONFIG_HOME",
                "XDG_CACHE_HOME",
                "XDG_DATA_HOME",
                "XDG_STATE_HOME",
            ):
                patch.setenv(name, self.env[name])
            patch.setattr(keys, "_usable_keyring", lambda: None)
            patch.chdir(self.work)
            for source in sources:
                result = compile_profile(source, "linux", use_cache=False)
                bundle = self.bundles / f"{Path(source).stem}.bundle"
                write_atomic(bundle, result.data, mode=0o644)
                bundles[source] = bundle
        return bundles

    def user_profile(self, name: str, text: str) -> None:
        """Write a user profile where ``find_profile`` looks first."""
        folder = self.home / ".config" / "nono" / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.nono").write_text(text)

    def exec(
        self,
        bundle: Path,
        argv: Sequence[str],
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """``nono exec BUNDLE -- ARGV`` in the project directory (or ``cwd``)."""
        done = subprocess.run(
            [str(BINDIR / "nono"), "exec", str(bundle), "--", *argv],
            env={**self.env, **(env or {})}, cwd=cwd or self.work,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if done.returncode == 126:
            pytest.skip(f"the sandbox could not be applied here: {done.stderr.strip()}")
        return done

    def probe(
        self, bundle: Path, ops: Sequence[tuple[str, Path]], *, cwd: Path | None = None
    ) -> dict[tuple[str, Path], str]:
        """Run the probe under ``bundle``; ``{(op, path): "OK" | errno name}``."""
        argv = [
            system_python(),
            "-I",
            "-S",
            "-c",
            PROBE,
            json.dumps([(op, str(p)) for op, p in ops]),
        ]
        done = self.exec(bundle, argv, cwd=cwd)
        assert done.returncode == 0, done.stderr
        answers = json.loads(done.stdout.splitlines()[-1])
        return dict(zip(ops, answers, strict=True))


def home_denies(profile: str) -> list[str]:
    """The profile's deny paths in the home directory (``$HOME`` and the XDG directories):
    the credential groups and nono's own state."""
    from nonoc.resolve import resolve

    policy = resolve(profile, "linux").policy
    return sorted(d.path for d in policy.denies if d.path.startswith(("$HOME/", "$XDG_")))


def env_without_user_profiles(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Point HOME and XDG_CONFIG_HOME at ``root`` so the user's own profiles cannot shadow."""
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(root / ".config"))
    os.makedirs(root / ".config", exist_ok=True)
