"""config.yaml: round trip keeping comments and order, validation, the memo, trusted keys."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nonoc.errors import NonoError, UsageError
from nonoc.launch.verify import public_key_to_pem, trusted_keys_dir
from nonoc.runtime import config
from nonoc.runtime.config import ConfigFile, Settings, load_settings, parse_size

USER_FILE = """\
# My nono settings. Keep this comment.
default_profile: claude-code   # the agent I use most

# Keys my team signs bundles with
trusted_keys:
  - ~/keys/team.pub   # team key

future_option: kept   # unknown to this nono
cache_size: 500M
"""


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME with the XDG directories inside it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    yield home


def write_config(text: str) -> Path:
    path = Path(config.config_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def public_key(path: Path, seed: int) -> Path:
    """Write a PEM public key (any 32 bytes make a well-formed Ed25519 key file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(public_key_to_pem(bytes([seed]) * 32))
    return path


def test_set_keeps_comments_order_and_unknown_keys() -> None:
    path = write_config(USER_FILE)
    document = ConfigFile()
    document.set("default_profile", ["codex"])
    document.set("cache_size", ["2G"])
    document.set("signing_key", ["work"])
    document.save()
    text = path.read_text()
    assert (
        text
        == USER_FILE.replace("claude-code  ", "codex        ").replace("500M", "2G")
        + "signing_key: work\n"
    )


def test_unset_removes_only_that_key() -> None:
    path = write_config(USER_FILE)
    document = ConfigFile()
    assert document.unset("cache_size") is True
    assert document.unset("signing_key") is False
    document.save()
    assert path.read_text() == USER_FILE.replace("cache_size: 500M\n", "")


def test_list_values_replace_in_place() -> None:
    path = write_config(USER_FILE)
    document = ConfigFile()
    document.set("trusted_keys", ["~/a.pub", "~/b.pub"])
    document.save()
    text = path.read_text()
    assert "# Keys my team signs bundles with\ntrusted_keys:\n  - ~/a.pub\n  - ~/b.pub\n" in text
    assert text.startswith("# My nono settings. Keep this comment.\n")
    assert ConfigFile().get("trusted_keys") == ["~/a.pub", "~/b.pub"]


def test_write_is_atomic_and_keeps_the_mode(tmp_path: Path) -> None:
    path = write_config("default_profile: a\n")
    os.chmod(path, 0o640)
    before = os.stat(path).st_ino
    document = ConfigFile()
    document.set("default_profile", ["b"])
    document.save()
    info = os.stat(path)
    assert info.st_ino != before  # replaced by rename, never rewritten in place
    assert info.st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temporary left


def test_settings_and_sizes() -> None:
    write_config(USER_FILE)
    settings = ConfigFile().settings()
    assert settings == Settings(
        default_profile="claude-code", trusted_keys=("~/keys/team.pub",), cache_size=500 << 20
    )
    assert parse_size("1048576") == 1 << 20
    assert parse_size("2G") == 2 << 30
    assert parse_size("10k") == 10 << 10
    assert parse_size("3MiB") == 3 << 20
    with pytest.raises(ValueError):
        parse_size("lots")


def test_a_bad_value_names_its_line() -> None:
    write_config("default_profile: a\ncache_size: lots\n")
    with pytest.raises(NonoError) as caught:
        ConfigFile().settings()
    assert caught.value.diagnostic.headline().endswith(
        "config.yaml:2:13: error: not a size: 'lots' (write e.g. 500M, 2G or a number of bytes)"
    )


def test_broken_yaml_is_an_error_with_a_position() -> None:
    write_config("default_profile: [a\n")
    with pytest.raises(NonoError) as caught:
        ConfigFile()
    assert "config.yaml:2:" in caught.value.diagnostic.headline()


def test_unknown_keys_and_bad_values_on_set() -> None:
    write_config("")
    document = ConfigFile()
    with pytest.raises(
        UsageError, match=r"unknown setting 'default_profil'.*did you mean 'default_profile'"
    ):
        document.set("default_profil", ["x"])
    with pytest.raises(UsageError, match="takes exactly one value"):
        document.set("default_profile", ["a", "b"])
    with pytest.raises(UsageError, match="not a size"):
        document.set("cache_size", ["big"])


def test_load_settings_uses_the_memo_and_notices_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings() == Settings()  # no file: defaults, nothing parsed
    path = write_config("default_profile: a\n")
    assert load_settings().default_profile == "a"
    assert os.path.exists(os.path.join(config.state_dir(), "config-memo.json"))

    # An unchanged file is not parsed again.
    def refuse(*args: object) -> None:
        raise AssertionError("parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(config, "ConfigFile", refuse)
        assert load_settings().default_profile == "a"
    # A change (size, mtime, inode) is noticed.
    path.write_text("default_profile: bbb\n")
    assert load_settings().default_profile == "bbb"


def test_trusted_keys_are_synced_into_the_launchers_directory(home: Path) -> None:
    first = public_key(home / "keys" / "one.pub", 1)
    second = public_key(home / "keys" / "two.pub", 2)
    (Path(trusted_keys_dir())).mkdir(parents=True)
    own = Path(trusted_keys_dir()) / "default.pub"
    own.write_text(public_key_to_pem(bytes([9]) * 32))
    assert config.sync_trusted_keys([str(first), "~/keys/two.pub"]) == []
    import hashlib

    names = sorted(p.name for p in Path(trusted_keys_dir()).iterdir())
    first_id = hashlib.sha256(bytes([1]) * 32).hexdigest()[:16]
    assert len(names) == 3 and "default.pub" in names and f"config-{first_id}.pub" in names
    problems = config.sync_trusted_keys([str(second), str(home / "missing.pub")])
    assert problems == [
        f"trusted key {home / 'missing.pub'} is not trusted: No such file or directory"
    ]
    names = sorted(p.name for p in Path(trusted_keys_dir()).iterdir())
    assert (
        len(names) == 2 and "default.pub" in names
    )  # the first key's copy is gone, nono's own stays
    from nonoc.launch.verify import trusted_keys

    assert (
        bytes([2]) * 32 in trusted_keys().values()
        and bytes([1]) * 32 not in trusted_keys().values()
    )


def nono_config(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nonoc.cli.nono", "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


def test_nono_config_command_round_trip(home: Path) -> None:
    path = write_config(
        USER_FILE.replace("  - ~/keys/team.pub   # team key\n", "  - ~/keys/team.pub\n")
    )
    public_key(home / "keys" / "team.pub", 3)
    result = nono_config("set", "default_profile", "codex")
    assert result.returncode == 0, result.stderr
    assert nono_config("get", "default_profile").stdout == "codex\n"
    assert nono_config("get", "cache_size").stdout == "500M\n"
    assert nono_config("get", "signing_key").returncode == 1  # unset
    listing = nono_config("list").stdout
    assert "default_profile: codex" in listing and "future_option: ...    # unknown" in listing
    text = path.read_text()
    assert text.startswith(
        "# My nono settings. Keep this comment.\ndefault_profile: codex         # the agent I use most\n"
    )
    assert "future_option: kept   # unknown to this nono\n" in text
    assert any(p.name.startswith("config-") for p in Path(trusted_keys_dir()).iterdir())
    assert nono_config("path").stdout.strip() == str(path)


def test_nono_config_refuses_bad_input(home: Path) -> None:
    write_config("default_profile: a\n")
    result = nono_config("set", "trusted_keys", str(home / "nope.pub"))
    assert result.returncode == 2
    assert "trusted_keys:" in result.stderr and "No such file or directory" in result.stderr
    result = nono_config("set", "colour", "blue")
    assert result.returncode == 2 and "unknown setting 'colour'" in result.stderr
    assert "Traceback" not in result.stderr
    assert Path(config.config_path()).read_text() == "default_profile: a\n"
