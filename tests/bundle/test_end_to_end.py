"""``nonoc compile`` with the real front end and backends: files, warnings, determinism, cache."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nonoc.bundle.canonical import canonical_json
from nonoc.cli.nonoc import main
from nonoc.errors import NonoError
from nonoc.launch import verify

PROFILE = """\
profile demo "A small profile" {
  read "/usr", "/etc"
  allow "$CWD"
  deny "~/.ssh"
  exec "/usr/bin"
}
"""


def payload_of(data: bytes) -> dict[str, Any]:
    return json.loads(base64.b64decode(json.loads(data)["payload"]))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "demo.nono").write_text(PROFILE)
    monkeypatch.chdir(work)
    return work


def nonoc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_compile_writes_a_bundle_nono_exec_accepts(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = nonoc(capsys, "compile", "demo.nono")
    assert code == 0
    lines = err.splitlines()
    assert lines[0].startswith("note: created signing key 'default' (id ")
    assert lines[-1] == "wrote demo.bundle: signed"
    payload = verify.load_verified(str(workdir / "demo.bundle"))
    manifest = payload["manifest"]
    assert manifest["profile"] == "demo" and manifest["targets"] == ["linux"]
    assert manifest["arch"] == verify.native_arch()  # the seccomp program is per CPU
    assert "demo.nono" in manifest["sources"]
    assert payload["linux"]["landlock"]["abi"] == 7
    assert {"g0", "d0"} <= set(payload["provenance"]["linux"])
    assert (workdir / "demo.bundle").stat().st_mode & 0o777 == 0o644


def test_second_compile_comes_from_the_cache(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nonoc(capsys, "compile", "demo.nono")
    first = (workdir / "demo.bundle").read_bytes()
    (workdir / "demo.bundle").unlink()
    code, _, err = nonoc(capsys, "compile", "demo.nono")
    assert code == 0 and err.strip() == "wrote demo.bundle: signed (from cache)"
    assert (workdir / "demo.bundle").read_bytes() == first


def test_same_inputs_give_the_same_file(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nonoc(capsys, "compile", "demo.nono", "--no-cache", "-o", "one.bundle")
    nonoc(capsys, "compile", "demo.nono", "--no-cache", "-o", "two.bundle")
    assert (workdir / "one.bundle").read_bytes() == (workdir / "two.bundle").read_bytes()


SPELLING_A = """\
profile same {
  read "/usr", "/etc"
  allow "$CWD"
  deny "~/.ssh"
  port connect 443
  network block
}
"""
# The same policy: other path spellings, other order, `readwrite` for `allow`.
SPELLING_B = """\
profile same {
  read "/etc/", "/usr"
  readwrite "."
  deny "$HOME/.ssh/"
  port connect 443
  network block
}
"""


def test_two_spellings_of_one_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bundles = []
    for name, text in (("a", SPELLING_A), ("b", SPELLING_B)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "same.nono").write_text(text)
        monkeypatch.chdir(folder)
        assert nonoc(capsys, "compile", "same.nono", "--no-cache")[0] == 0
        bundles.append(payload_of((folder / "same.bundle").read_bytes()))
    one, two = bundles
    # What the kernel gets is byte-identical.
    assert canonical_json(one["linux"]) == canonical_json(two["linux"])
    # The manifest records each file's digest, so only that differs.
    assert one["manifest"]["sources"] != two["manifest"]["sources"]
    for payload in bundles:
        del payload["manifest"]["sources"]
    assert canonical_json(one) == canonical_json(two)


def test_warnings_are_printed_with_their_position(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "warn.nono").write_text('profile warn {\n  read "/usr"\n  port connect 443\n}\n')
    code, _, err = nonoc(capsys, "compile", "warn.nono")
    assert code == 0
    assert "warn.nono:3:3: warning: port rules have no effect while the network is open" in err
    # A cached compile says the same.
    code, _, err_cached = nonoc(capsys, "compile", "warn.nono")
    assert "(from cache)" in err_cached
    assert "warn.nono:3:3: warning: port rules have no effect" in err_cached


def test_errors_have_a_position_and_no_traceback(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "bad.nono").write_text('profile bad {\n  read "/usr"\n  use nothing_here\n}\n')
    code, _, err = nonoc(capsys, "compile", "bad.nono")
    assert code == 1
    assert err.startswith("bad.nono:3:")
    assert "error:" in err and "Traceback" not in err
    assert not (workdir / "bad.bundle").exists()


def test_output_options(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert nonoc(capsys, "compile", "demo.nono", "-o", "sub/dir/x.bundle")[0] == 0
    assert (workdir / "sub/dir/x.bundle").exists()


def test_stdout_output(workdir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nonoc.cli.nonoc", "compile", "demo.nono", "-o", "-"],
        capture_output=True,
        check=True,
        cwd=workdir,
    )
    assert json.loads(result.stdout)["payloadType"] == "application/vnd.nono.bundle+json"
    assert not (workdir / "demo.bundle").exists()


def test_unsigned_bundle_is_refused_by_exec(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        nonoc(capsys, "compile", "demo.nono", "--unsigned")[2].strip()
        == "wrote demo.bundle: unsigned"
    )
    with pytest.raises(NonoError, match="unsigned"):
        verify.load_verified(str(workdir / "demo.bundle"))


def test_named_key_must_exist(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = nonoc(capsys, "compile", "demo.nono", "--key", "release")
    assert code == 1
    assert err.splitlines() == [
        "error: no signing key named 'release'",
        "  note: create it with: nonoc keygen --name release",
    ]
    assert nonoc(capsys, "keygen", "--name", "release")[0] == 0
    assert nonoc(capsys, "compile", "demo.nono", "--key", "release")[0] == 0
    envelope = json.loads((workdir / "demo.bundle").read_bytes())
    from nonoc.bundle.keys import load_key

    assert envelope["signatures"][0]["keyid"] == load_key("release").keyid


def test_macos_bundle_is_foreign_here(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = nonoc(capsys, "compile", "demo.nono", "--target", "macos", "-o", "mac.bundle")
    assert code == 0, err
    payload = payload_of((workdir / "mac.bundle").read_bytes())
    assert payload["manifest"]["targets"] == ["macos"] and "seatbelt" in payload["macos"]
    with pytest.raises(NonoError, match="bundle is compiled for macos, not linux"):
        verify.load_verified(str(workdir / "mac.bundle"))


def test_foreign_arch_bundle_is_refused(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = "aarch64" if verify.native_arch() != "aarch64" else "x86_64"
    code, _, err = nonoc(capsys, "compile", "demo.nono", "--arch", other)
    assert code == 0, err
    payload = payload_of((workdir / "demo.bundle").read_bytes())
    assert payload["manifest"]["arch"] == payload["linux"]["seccomp"]["arch"] == other
    with pytest.raises(NonoError, match=f"bundle is compiled for {other}, this machine is"):
        verify.load_verified(str(workdir / "demo.bundle"))


def test_target_all(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert nonoc(capsys, "compile", "demo.nono", "--target", "all")[0] == 0
    payload = verify.load_verified(str(workdir / "demo.bundle"))
    assert payload["manifest"]["targets"] == ["linux", "macos"]
    assert "landlock" in payload["linux"] and "seatbelt" in payload["macos"]


# --------------------------------------------------------------------------- cache, for real


def test_changed_import_is_recompiled(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "lib").mkdir()
    (workdir / "lib/extra.nono").write_text('group extra "x" {\n  read "/opt"\n}\n')
    (workdir / "top.nono").write_text('import "lib/extra.nono"\nprofile top {\n  use extra\n}\n')
    nonoc(capsys, "compile", "top.nono")
    assert "(from cache)" in nonoc(capsys, "compile", "top.nono")[2]
    (workdir / "lib/extra.nono").write_text('group extra "x" {\n  read "/srv"\n}\n')
    assert "(from cache)" not in nonoc(capsys, "compile", "top.nono")[2]
    payload = payload_of((workdir / "top.bundle").read_bytes())
    assert [rule["path"] for rule in payload["linux"]["landlock"]["rules"]] == ["/srv"]


def test_profile_by_name_is_cached_and_shadowing_is_seen(
    workdir: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = isolated_home / ".config/nono/profiles"
    profiles.mkdir(parents=True)
    (profiles / "mine.nono").write_text('profile mine {\n  read "/usr"\n}\n')
    assert nonoc(capsys, "compile", "mine")[0] == 0
    assert "(from cache)" in nonoc(capsys, "compile", "mine")[2]
    (profiles / "mine.nono").write_text('profile mine {\n  read "/opt"\n}\n')
    assert "(from cache)" not in nonoc(capsys, "compile", "mine")[2]
    # Any change in the user's profile folder may change what a name means.
    (profiles / "other.nono").write_text('profile other {\n  read "/usr"\n}\n')
    assert "(from cache)" not in nonoc(capsys, "compile", "mine")[2]


def test_cache_hit_imports_no_heavy_library(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nonoc(capsys, "compile", "demo.nono")
    code = (
        "import sys; from nonoc.cli.nonoc import main; rc = main(['compile', 'demo.nono']); "
        "print(rc, sorted(m for m in ('lark', 'pydantic', 'jinja2', 'cryptography', 'keyring', 'nonoc.ir') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=workdir, check=True
    )
    assert result.stdout.strip() == "0 []", result.stderr
    assert "(from cache)" in result.stderr


def test_cache_survives_no_writable_cache(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = workdir / "blocker"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert nonoc(capsys, "compile", "demo.nono")[0] == 0
    assert nonoc(capsys, "compile", "demo.nono")[2].strip() == "wrote demo.bundle: signed"


def test_no_real_home_was_touched(isolated_home: Path) -> None:
    assert os.environ["HOME"] == str(isolated_home)


def test_output_to_a_device_writes_through_it(
    workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-o`` naming a FIFO (or /dev/null) writes into it; it must not be replaced by a file."""
    import os
    import stat
    import threading

    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert nonoc(capsys, "compile", "demo.nono", "-o", str(fifo))[0] == 0
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert received and received[0].startswith(b"{")
