"""The run memo: a hit needs every input unchanged; anything else is a miss, never a stale bundle."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from nonoc.bundle import keys
from nonoc.compile import compile_profile
from nonoc.launch.verify import check_payload, parse_envelope
from nonoc.runtime.run import memo

FLAGS = [("--read .", 'read "$CWD"')]


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".state"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(keys, "_usable_keyring", lambda: None)
    monkeypatch.chdir(tmp_path)
    yield home


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "extra.nono").write_text('group extra { read "/etc/hostname" }\n')
    path = tmp_path / "p.nono"
    path.write_text(
        'import "lib/extra.nono"\nimport stdlib "system"\nprofile p { use system, extra }\n'
    )
    return path


def remember(source: Path) -> str:
    """Compile ``source`` with FLAGS and record it; return the memo's request name."""
    keys.ensure_key("default")
    request = memo.request_key(str(source), FLAGS, "default", "linux", "x86_64")
    before = memo.stamps("default")
    compilation = compile_profile(str(source), "linux", "x86_64", flags=FLAGS)
    payload = check_payload("t", parse_envelope("t", compilation.data)[0])
    assert memo.remember(request, before, compilation.data, payload, compilation.warnings)
    return request


def test_a_recorded_compile_is_found_again(profile: Path) -> None:
    request = remember(profile)
    hit = memo.lookup(request, "default")
    assert hit is not None and hit.profile == "p"
    assert "provenance" not in hit.view and "linux" in hit.view
    assert "linux" in hit.provenance()  # decoded from the remembered bundle on demand
    entry = read_entry(request)
    # Every file the compile read is re-checked: the profile, its import, the stdlib file.
    names = {os.path.basename(path) for path in entry["files"]}
    assert {"p.nono", "extra.nono", "system.nono"} <= names


def test_the_request_name_covers_flags_key_target_and_source(profile: Path) -> None:
    base = memo.request_key(str(profile), FLAGS, "default", "linux", "x86_64")
    assert (
        memo.request_key(str(profile), [("--read ..", 'read "/"')], "default", "linux", "x86_64")
        != base
    )
    assert memo.request_key(str(profile), FLAGS, "work", "linux", "x86_64") != base
    assert memo.request_key(str(profile), FLAGS, "default", "linux", "aarch64") != base
    assert memo.request_key("p2.nono", FLAGS, "default", "linux", "x86_64") != base


def test_an_edited_import_is_a_miss(profile: Path) -> None:
    request = remember(profile)
    (profile.parent / "lib" / "extra.nono").write_text('group extra { read "/etc" }\n')
    assert memo.lookup(request, "default") is None


def test_an_edited_profile_is_a_miss(profile: Path) -> None:
    request = remember(profile)
    profile.write_text(profile.read_text() + "# changed\n")
    assert memo.lookup(request, "default") is None


def test_a_new_user_profile_is_a_miss(profile: Path, home: Path) -> None:
    request = remember(profile)
    folder = home / ".config" / "nono" / "profiles"
    folder.mkdir(parents=True)
    (folder / "system.nono").write_text("profile system {}\n")
    assert memo.lookup(request, "default") is None


def test_another_signing_key_is_a_miss(profile: Path, home: Path) -> None:
    request = remember(profile)
    keys.generate_key("default", force=True)  # a new key under the same name
    assert memo.lookup(request, "default") is None


def read_entry(request: str) -> dict[str, object]:
    """The JSON body of a memo entry (after its tag line)."""
    data = Path(memo.memo_dir(), f"{request}.memo").read_bytes()
    return dict(json.loads(data.partition(b"\n")[2]))


def test_tampering_is_a_miss(profile: Path) -> None:
    request = remember(profile)
    path = Path(memo.memo_dir(), f"{request}.memo")
    tag, _, body = path.read_bytes().partition(b"\n")
    # A changed entry (say, dropping a file from the re-check list, or widening the view's
    # rules) fails its MAC.
    entry = json.loads(body)
    entry["files"] = {}
    path.write_bytes(
        tag + b"\n" + json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    )
    assert memo.lookup(request, "default") is None
    # A planted entry under another request name fails too: the tag binds the request.
    request = remember(profile)
    other = Path(memo.memo_dir(), "0" * 64 + ".memo")
    other.write_bytes(path.read_bytes())
    assert memo.lookup("0" * 64, "default") is None
    # Changed bundle bytes cannot lend a false provenance: the digest is checked.
    hit = memo.lookup(request, "default")
    assert hit is not None
    bundle = Path(hit.bundle_path)
    bundle.write_bytes(bundle.read_bytes() + b" ")
    assert hit.provenance() == {}


def test_code_stamp_changes_with_the_compilers_files(tmp_path: Path) -> None:
    root = tmp_path / "code"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("x = 1\n")
    first = memo.tree_stamp([str(root)])
    (root / "pkg" / "__pycache__").mkdir()
    (root / "pkg" / "__pycache__" / "a.pyc").write_bytes(b"\0")
    assert memo.tree_stamp([str(root)]) == first  # caches are not code
    (root / "pkg" / "a.py").write_text("x = 22\n")
    assert memo.tree_stamp([str(root)]) != first


def test_cache_size_removes_the_oldest_bundles_first(home: Path) -> None:
    import hashlib

    from nonoc.bundle.cache import bundles_dir
    from nonoc.runtime.run.cachelimit import prune

    objects = Path(bundles_dir(), "objects")
    index = Path(bundles_dir(), "index")
    objects.mkdir(parents=True)
    index.mkdir(parents=True)
    bundles = []
    for age in range(4):
        data = bytes([age]) * 1000
        name = hashlib.sha256(data).hexdigest()
        path = objects / f"{name}.bundle"
        path.write_bytes(data)
        os.utime(path, ns=(age * 10**9, age * 10**9))  # 0 is the oldest
        (index / f"request{age}.json").write_text(json.dumps({"bundle": name}))
        bundles.append((name, data))
    newest_kept = bundles[0][1]  # the oldest file, but the one just compiled: never removed
    freed = prune(2500, keep=newest_kept)
    left = sorted(p.stem for p in objects.iterdir())
    assert left == sorted([bundles[0][0], bundles[3][0]])
    assert sorted(p.name for p in index.iterdir()) == ["request0.json", "request3.json"]
    assert freed > 0
