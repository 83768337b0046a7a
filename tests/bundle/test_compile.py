"""Compiling to a bundle with a hand-built policy and a fake backend: payload, determinism, cache."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from bundle_helpers import FakeBackend, loader_for

from nonoc import compile as nonoc_compile
from nonoc.bundle import cache, keys
from nonoc.bundle.canonical import canonical_json
from nonoc.errors import NonoError, UsageError
from nonoc.launch import verify


def payload_of(data: bytes) -> dict[str, Any]:
    return json.loads(base64.b64decode(json.loads(data)["payload"]))


def build(source_file: Path, backend: FakeBackend, **options: Any) -> nonoc_compile.Compilation:
    options.setdefault("loader", loader_for(source_file))
    options.setdefault("use_cache", False)
    return nonoc_compile.compile_profile(
        str(source_file), options.pop("targets", "linux"), backends=[backend], **options
    )


# --------------------------------------------------------------------------- canonical form


def test_canonical_json_sorts_and_compacts() -> None:
    assert (
        canonical_json({"b": [1, "é"], "a": None, "c": True})
        == '{"a":null,"b":[1,"é"],"c":true}'.encode()
    )


@pytest.mark.parametrize("bad", [{"x": 1.5}, {"x": {1, 2}}, {1: "a"}, {"x": [b"raw"]}])
def test_canonical_json_refuses_what_has_no_stable_form(bad: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)


# --------------------------------------------------------------------------- payload


def test_first_compile_creates_and_trusts_the_default_key(
    source_file: Path, backend: FakeBackend, isolated_home: Path
) -> None:
    result = build(source_file, backend)
    assert len(result.notes) == 1 and result.notes[0].startswith(
        "created signing key 'default' (id "
    )
    assert (isolated_home / ".config/nono/trusted_keys/default.pub").exists()
    assert build(source_file, backend).notes == ()


def test_payload_shape(tmp_path: Path, source_file: Path, backend: FakeBackend) -> None:
    result = build(source_file, backend)
    assert result.profile == "demo"
    assert result.warnings == ("profile.nono:2:3: warning: fake backend warning",)
    envelope = json.loads(result.data)
    assert envelope["payloadType"] == "application/vnd.nono.bundle+json"
    assert envelope["signatures"][0]["keyid"] == keys.load_key("default").keyid
    payload = payload_of(result.data)
    assert payload["format"] == "nono-bundle/1"
    manifest = payload["manifest"]
    assert manifest["compiler"] == "nonoc 0.1.0"
    assert manifest["targets"] == ["linux"]
    assert manifest["arch"] == "any"  # nothing in the fake artifact depends on the CPU
    assert manifest["sources"] == {str(source_file): cache.file_digest(source_file)}
    assert manifest["variables"] == ["CWD", "HOME"]
    assert manifest["assumptions"] == {"compat": "best_effort", "landlock_abi": 7, "min_abi": 1}
    assert payload["linux"]["fake"]["rules"][0] == {
        "id": "g0",
        "path": "/usr",
        "access": ["execute", "read"],
    }
    assert payload["linux"]["launch"]["network"] == "open"
    assert payload["provenance"]["linux"]["d0"]["line"] == 4
    assert payload["provenance"]["linux"]["g1"]["chain"] == [
        {"kind": "profile", "name": "demo", "file": "profile.nono", "line": 1}
    ]
    # The payload is stored in its canonical form, so re-encoding it changes nothing.
    assert canonical_json(payload) == base64.b64decode(envelope["payload"])
    # And what nonoc writes, nono exec accepts.
    path = tmp_path / "demo.bundle"
    path.write_bytes(result.data)
    assert verify.load_verified(str(path)) == payload


def test_arch_comes_from_arch_dependent_artifacts(source_file: Path) -> None:
    result = build(source_file, FakeBackend(arch=True), arch="aarch64")
    assert payload_of(result.data)["manifest"]["arch"] == "aarch64"


def test_all_targets(source_file: Path, backend: FakeBackend) -> None:
    payload = payload_of(build(source_file, backend, targets="all").data)
    assert payload["manifest"]["targets"] == ["linux", "macos"]
    assert set(payload["provenance"]) == {"linux", "macos"}
    assert "fake" in payload["linux"] and "fake" in payload["macos"]


def test_target_without_a_backend_is_an_error(source_file: Path) -> None:
    linux_only = FakeBackend(targets=frozenset({"linux"}))
    with pytest.raises(NonoError, match="no backend for target macos"):
        build(source_file, linux_only, targets="macos")


def test_unknown_target_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        nonoc_compile.parse_targets("windows")
    assert nonoc_compile.parse_targets(["macos", "linux", "linux"]) == ("linux", "macos")


def test_unsigned(
    tmp_path: Path, source_file: Path, backend: FakeBackend, isolated_home: Path
) -> None:
    result = build(source_file, backend, unsigned=True)
    assert json.loads(result.data)["signatures"] == []
    assert not (isolated_home / ".config/nono/trusted_keys").exists()  # no key was needed
    path = tmp_path / "u.bundle"
    path.write_bytes(result.data)
    with pytest.raises(NonoError, match="unsigned"):
        verify.load_verified(str(path))


# --------------------------------------------------------------------------- determinism


def test_same_inputs_same_bytes(source_file: Path, backend: FakeBackend) -> None:
    assert build(source_file, backend).data == build(source_file, backend).data
    assert (
        build(source_file, backend, targets="all").data
        == build(source_file, backend, targets="all").data
    )


def test_rule_order_in_the_ir_does_not_leak_through_sets(
    source_file: Path, backend: FakeBackend
) -> None:
    from bundle_helpers import provenance

    from nonoc.ir import Access, PathGrant

    one = PathGrant(
        path="/opt",
        access=frozenset({Access.WRITE, Access.READ, Access.EXECUTE}),
        provenance=provenance(),
    )
    two = PathGrant(
        path="/opt",
        access=frozenset({Access.EXECUTE, Access.READ, Access.WRITE}),
        provenance=provenance(),
    )
    first = build(source_file, backend, loader=loader_for(source_file, grants=(one,)))
    second = build(source_file, backend, loader=loader_for(source_file, grants=(two,)))
    assert first.data == second.data


def test_different_key_changes_only_the_signature(
    tmp_path: Path, source_file: Path, backend: FakeBackend
) -> None:
    keys.generate_key("other", file=str(tmp_path / "other.pem"))
    mine = json.loads(build(source_file, backend).data)
    theirs = json.loads(build(source_file, backend, key=str(tmp_path / "other.pem")).data)
    assert mine["payload"] == theirs["payload"]
    assert mine["signatures"] != theirs["signatures"]


# --------------------------------------------------------------------------- cache


def cached_build(
    source_file: Path, backend: FakeBackend, **options: Any
) -> nonoc_compile.Compilation:
    return build(source_file, backend, use_cache=True, **options)


def test_cache_hit_does_not_recompile(source_file: Path, backend: FakeBackend) -> None:
    load = loader_for(source_file)
    cold = cached_build(source_file, backend, loader=load)
    warm = cached_build(source_file, backend, loader=load)
    assert (cold.cached, warm.cached) == (False, True)
    assert backend.calls == 1 and load.calls == ["linux"]
    assert warm.data == cold.data
    assert warm.warnings == cold.warnings  # a cached compile still reports its warnings
    assert warm.profile == "demo"


def test_changed_source_is_recompiled(source_file: Path, backend: FakeBackend) -> None:
    load = loader_for(source_file)
    cached_build(source_file, backend, loader=load)
    source_file.write_text('profile demo { read "/opt" }\n')
    assert not cached_build(source_file, backend, loader=load).cached
    assert backend.calls == 2
    assert cached_build(source_file, backend, loader=load).cached


@pytest.mark.parametrize(
    "change",
    [
        {"targets": "all"},
        {"arch": "aarch64"},
        {"unsigned": True},
        {"landlock_abi": 4},
        {"flags": [("--allow .", 'allow "."')]},
        {"profile": "other"},
    ],
)
def test_every_input_is_in_the_key(
    source_file: Path, backend: FakeBackend, change: dict[str, Any]
) -> None:
    load = loader_for(source_file)
    cached_build(source_file, backend, loader=load)
    assert not cached_build(source_file, backend, loader=load, **change).cached
    assert cached_build(source_file, backend, loader=load, **change).cached


def test_new_key_is_a_miss(source_file: Path, backend: FakeBackend) -> None:
    load = loader_for(source_file)
    cached_build(source_file, backend, loader=load)
    keys.generate_key("default", force=True)
    assert not cached_build(source_file, backend, loader=load).cached


def test_no_cache_flag(source_file: Path, backend: FakeBackend) -> None:
    cached_build(source_file, backend)
    assert not build(source_file, backend, use_cache=False).cached
    assert backend.calls == 2


def test_planted_index_entry_is_ignored(source_file: Path, backend: FakeBackend) -> None:
    load = loader_for(source_file)
    cached_build(source_file, backend, loader=load)
    (index,) = (Path(cache.bundles_dir()) / "index").iterdir()
    entry = json.loads(index.read_text())
    entry["warnings"] = ["planted"]
    index.write_text(json.dumps(entry))
    assert not cached_build(source_file, backend, loader=load).cached


def test_swapped_object_is_ignored(source_file: Path, backend: FakeBackend) -> None:
    load = loader_for(source_file)
    cached_build(source_file, backend, loader=load)
    (obj,) = (Path(cache.bundles_dir()) / "objects").iterdir()
    obj.write_bytes(obj.read_bytes().replace(b"payload", b"payload "))
    assert not cached_build(source_file, backend, loader=load).cached


def test_missing_secret_means_no_hit(source_file: Path, backend: FakeBackend) -> None:
    load = loader_for(source_file)
    cached_build(source_file, backend, loader=load)
    (Path(verify.config_dir()) / "local-secret").unlink()
    assert not cached_build(source_file, backend, loader=load).cached


def test_unlocatable_source_is_not_cached(
    tmp_path: Path, source_file: Path, backend: FakeBackend
) -> None:
    from bundle_helpers import make_policy

    def load(source: str, target: str) -> Any:
        return make_policy(target, sources={"nowhere/demo.nono": "0" * 64})

    cached_build(source_file, backend, loader=load)
    assert not cached_build(source_file, backend, loader=load).cached
    assert backend.calls == 2
