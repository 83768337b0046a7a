"""Secret references (keyring://, env://, file://), env-mode injection, the file keyring."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest

from nonoc.runtime.credentials import (
    KEYRING_FILE_ENV,
    CredentialError,
    FileKeyring,
    env_credentials,
    resolve_secret,
)


@pytest.fixture
def test_keyring(tmp_path: Path):
    """A FileKeyring selected for this test, restoring the previous backend after."""
    previous = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring.json")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_keyring_reference(test_keyring) -> None:
    test_keyring.set_password("nono", "openai", "sk-from-keyring")
    assert resolve_secret("keyring://openai") == "sk-from-keyring"
    assert resolve_secret("openai") == "sk-from-keyring"  # a bare name means the keyring
    assert (test_keyring.path.stat().st_mode & 0o777) == 0o600


def test_missing_keyring_entry_says_how_to_add_it(test_keyring) -> None:
    with pytest.raises(CredentialError) as info:
        resolve_secret("keyring://absent")
    assert "keyring set nono absent" in info.value.render()


def test_keyring_delete(test_keyring) -> None:
    test_keyring.set_password("nono", "x", "1")
    test_keyring.delete_password("nono", "x")
    assert test_keyring.get_password("nono", "x") is None
    with pytest.raises(keyring.errors.PasswordDeleteError):
        test_keyring.delete_password("nono", "x")


def test_env_reference() -> None:
    assert resolve_secret("env://TOKEN", {"TOKEN": "t0k"}) == "t0k"
    with pytest.raises(CredentialError):
        resolve_secret("env://TOKEN", {})
    with pytest.raises(CredentialError):
        resolve_secret("env://not a name", {})


def secret_file(tmp_path: Path, mode: int, text: str = "s3cret\n") -> Path:
    path = tmp_path / "secret"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_file_reference(tmp_path: Path) -> None:
    path = secret_file(tmp_path, 0o600)
    assert resolve_secret(f"file://{path}") == "s3cret"
    assert resolve_secret(f"file://localhost{path}") == "s3cret"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660])
def test_file_readable_or_writable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = secret_file(tmp_path, mode)
    with pytest.raises(CredentialError) as info:
        resolve_secret(f"file://{path}")
    assert "chmod 600" in info.value.render()


def test_file_reference_errors(tmp_path: Path) -> None:
    with pytest.raises(CredentialError):
        resolve_secret("file://relative/path")
    with pytest.raises(CredentialError):
        resolve_secret(f"file://{tmp_path}/absent")
    tmp_path.joinpath("dir").mkdir(mode=0o700)
    with pytest.raises(CredentialError):
        resolve_secret(f"file://{tmp_path}/dir")
    with pytest.raises(CredentialError):
        resolve_secret(f"file://{secret_file(tmp_path, 0o600, '')}")


def test_file_symlink_is_judged_by_its_target(tmp_path: Path) -> None:
    target = secret_file(tmp_path, 0o644)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(CredentialError):
        resolve_secret(f"file://{link}")


def test_unknown_scheme() -> None:
    with pytest.raises(CredentialError):
        resolve_secret("vault://x")


def test_env_credentials(test_keyring) -> None:
    test_keyring.set_password("nono", "openai", "sk-o")
    test_keyring.set_password("nono", "MY_TOKEN", "mine")
    result = env_credentials(["openai", "MY_TOKEN"], [("env://SRC", "DEST")], {"SRC": "v"})
    assert result == {"DEST": "v", "MY_TOKEN": "mine", "OPENAI_API_KEY": "sk-o"}
    with pytest.raises(CredentialError):
        env_credentials(["not-a-var"], [])
    with pytest.raises(CredentialError):
        env_credentials([], [("env://SRC", "1BAD")], {"SRC": "v"})


def test_file_keyring_selected_by_environment(tmp_path: Path) -> None:
    """What a subprocess (say, `nono run` under test) gets with PYTHON_KEYRING_BACKEND."""
    store = tmp_path / "kr.json"
    FileKeyring(store).set_password("nono", "github", "ghp_secret")
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="nonoc.runtime.credentials.FileKeyring")
    env[KEYRING_FILE_ENV] = str(store)
    code = (
        "import json, keyring; from nonoc.runtime.credentials import resolve_secret;"
        "print(json.dumps([type(keyring.get_keyring()).__name__,"
        " resolve_secret('keyring://github')]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == ["FileKeyring", "ghp_secret"]


def test_file_keyring_is_not_chosen_without_its_variable(monkeypatch) -> None:
    monkeypatch.delenv(KEYRING_FILE_ENV, raising=False)
    assert not FileKeyring.viable
    with pytest.raises(RuntimeError):
        FileKeyring()
