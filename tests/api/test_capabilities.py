"""``CapabilitySet`` as policy text and IR; ``compile_profile``; ``load_bundle`` and inspection."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nonoc import AccessMode, Bundle, CapabilitySet, apply, compile_profile, ir, load_bundle
from nonoc.errors import NonoError


def test_grants_denies_and_settings_become_statements(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    caps = (
        CapabilitySet("agent", compat="hard_requirement")
        .use_group("system", "system_write")
        .allow_path("/srv/data", AccessMode.READ)
        .allow_path("out", AccessMode.READ_WRITE)
        .allow_path("~/.cache/tool", AccessMode.WRITE, required=True)
        .allow_path("/opt/tool", AccessMode.READ | AccessMode.EXECUTE)
        .allow_file("$HOME/.toolrc")
        .deny_path("/srv/data/private")
        .deny_file("~/.netrc")
        .block_network()
    )
    assert caps.to_policy_text() == (
        "profile agent {\n"
        "  use system, system_write\n"
        '  read "/srv/data"\n'
        f'  allow "{tmp_path}/out"\n'  # relative to the directory at the time of the call
        '  require write "$HOME/.cache/tool"\n'
        '  read "/opt/tool"\n'
        '  exec "/opt/tool"\n'
        '  read file "$HOME/.toolrc"\n'
        '  deny "/srv/data/private"\n'
        '  deny file "$HOME/.netrc"\n'
        "  compat hard_requirement\n"
        "  network block\n"
        "}\n"
    )


def test_ports_restrict_the_network_to_tcp_on_them() -> None:
    caps = CapabilitySet().block_network().allow_port(443).allow_port(8080, "bind")
    text = caps.to_policy_text()
    assert "  network proxy\n  port connect 443\n  port bind 8080\n" in text
    policy = caps.to_policy()
    assert policy.network.mode is ir.NetworkMode.PROXY
    assert [(p.port, p.direction) for p in policy.network.ports] == [
        (443, "connect"),
        (8080, "bind"),
    ]


def test_bad_input_is_refused_when_given() -> None:
    caps = CapabilitySet()
    with pytest.raises(ValueError, match="unknown variable"):
        caps.allow_path("$NOPE/x")
    with pytest.raises(ValueError, match="at least one access"):
        caps.allow_path("/x", AccessMode(0))
    with pytest.raises(ValueError, match="from 0 to 65535"):
        caps.allow_port(70000)
    with pytest.raises(ValueError, match="'connect' or 'bind'"):
        caps.allow_port(1, "listen")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="compat"):
        CapabilitySet(compat="sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="CapabilitySet or a Bundle"):
        apply("default")  # type: ignore[arg-type]


def test_to_policy_includes_the_mandatory_groups() -> None:
    policy = CapabilitySet().allow_path("/srv/data", AccessMode.READ_WRITE).to_policy()
    access = {a for g in policy.grants if g.path == "/srv/data" for a in g.access}
    assert access == {ir.Access.READ, ir.Access.WRITE}
    assert "$HOME/.ssh" in {d.path for d in policy.denies}
    assert "protect_secrets" in policy.mandatory_groups


def test_use_profile_by_name_and_by_file(tmp_path: Path) -> None:
    policy = CapabilitySet().use_profile("default").to_policy()
    assert any(g.path == "$CWD" for g in policy.grants)  # default reads the working directory
    own = tmp_path / "mine.nono"
    own.write_text('profile mine {\n  read "/srv/mine"\n}\n')
    caps = CapabilitySet().use_profile(str(own))
    assert caps.to_policy_text().startswith(f'import "{own}"\nprofile capabilities extends mine {{')
    assert any(g.path == "/srv/mine" for g in caps.to_policy().grants)


def test_compiler_errors_name_the_capabilities() -> None:
    caps = CapabilitySet().allow_path("~/.ssh", AccessMode.READ)
    with pytest.raises(NonoError, match=r"\$HOME/\.ssh is both granted"):
        caps.to_policy()


def test_compile_profile_takes_a_capability_set_or_a_source(tmp_path: Path) -> None:
    compilation = compile_profile(
        CapabilitySet("lib").allow_path("/srv", AccessMode.READ), unsigned=True
    )
    assert compilation.profile == "lib" and not compilation.cached
    envelope = json.loads(compilation.data)
    assert envelope["signatures"] == []
    assert compile_profile("default", unsigned=True, use_cache=False).profile == "default"


@pytest.fixture
def signed_bundle(tmp_path: Path) -> Path:
    caps = CapabilitySet("inspectable").allow_path("/srv/data", AccessMode.READ).allow_port(443)
    path = tmp_path / "inspectable.bundle"
    path.write_bytes(caps.compile().data)  # signed with the (new, trusted) default key
    return path


def test_load_bundle_verifies_and_exposes_the_rules(signed_bundle: Path) -> None:
    bundle = load_bundle(signed_bundle)
    assert isinstance(bundle, Bundle)
    assert bundle.profile == "inspectable" and bundle.targets == ("linux",)
    grant = next(g for g in bundle.grants if g.path == "/srv/data")
    assert set(grant.access) == {"READ_FILE", "READ_DIR"} and grant.kind == "tree"
    assert grant.source.startswith("<capabilities>:2:")
    assert "$HOME/.ssh" in {d.path for d in bundle.denies}
    assert [(p.port, p.access) for p in bundle.ports] == [(443, ("CONNECT_TCP",))]
    assert bundle.network == "proxy" and bundle.has_seccomp
    assert bundle.landlock["handled_net"] == ["BIND_TCP", "CONNECT_TCP"]
    assert load_bundle(signed_bundle.read_bytes()).profile == "inspectable"
    assert "inspectable" in repr(bundle)


def test_load_bundle_refuses_unsigned_and_tampered_bundles(
    tmp_path: Path, signed_bundle: Path
) -> None:
    unsigned = tmp_path / "unsigned.bundle"
    unsigned.write_bytes(compile_profile(CapabilitySet(), unsigned=True).data)
    with pytest.raises(NonoError, match="unsigned"):
        load_bundle(unsigned)
    envelope = json.loads(signed_bundle.read_bytes())
    payload = envelope["payload"]
    envelope["payload"] = payload[:-8] + ("A" if payload[-8] != "A" else "B") + payload[-7:]
    tampered = tmp_path / "tampered.bundle"
    tampered.write_text(json.dumps(envelope))
    with pytest.raises(NonoError):
        load_bundle(tampered)
    with pytest.raises(NonoError, match="cannot read bundle"):
        load_bundle(tmp_path / "absent.bundle")
    assert not os.path.exists(tmp_path / "absent.bundle")
