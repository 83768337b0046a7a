"""``nonoc import``: nono's JSON profiles, policy files and network policies → policy text.

The two real inputs are the policy and network policy of nono v0.66, read from the shared
data folder beside the repository (the tests skip, saying so, when it is absent). Every
result must parse and resolve with the real front end for both targets, and everything the
importer cannot express must come back as a warning naming its JSON path.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nonoc import ir
from nonoc.cli.nonoc import main
from nonoc.errors import NonoError
from nonoc.importer import document_kind, import_document, import_file
from nonoc.importer.check import check_text
from nonoc.importer.context import render_path
from nonoc.resolve import resolve
from nonoc.syntax.parser import parse

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
POLICY = DATA / "nono-policy-v0.66.json"
NETWORK = DATA / "nono-network-policy-v0.66.json"
TARGETS: tuple[ir.Target, ...] = ("linux", "macos")


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user profile of the real home can shadow a built-in during these tests."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.chdir(tmp_path)


def real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared reference data is not beside this checkout")
    return path


def messages(imported: object) -> list[str]:
    return [w.message for w in imported.warnings]  # type: ignore[attr-defined]


def written(tmp_path: Path, text: str, name: str = "imported.nono") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the policy file


@pytest.fixture(scope="module")
def policy_import() -> object:
    return import_file(real(POLICY))


def test_policy_file_kind_and_every_group_and_profile(policy_import: object) -> None:
    source = json.loads(POLICY.read_text())
    syntax = parse(policy_import.text, "imported.nono")  # type: ignore[attr-defined]
    assert policy_import.kind == "policy"  # type: ignore[attr-defined]
    assert [g.name.text for g in syntax.groups] == list(source["groups"])
    assert [p.name.text for p in syntax.profiles] == list(source["profiles"])
    mandatory = {g.name.text for g in syntax.groups if g.mandatory}
    assert mandatory == {name for name, g in source["groups"].items() if g.get("required")}


def test_policy_file_resolves_for_both_targets(policy_import: object, tmp_path: Path) -> None:
    text = policy_import.text  # type: ignore[attr-defined]
    check_text(text, "imported.nono")  # every profile and every group, both targets
    path = written(tmp_path, text)
    for target in TARGETS:
        result = resolve(str(path), target, profile="swival")
        assert result.diagnostics == []


def test_policy_file_semantics(policy_import: object, tmp_path: Path) -> None:
    path = written(tmp_path, policy_import.text)  # type: ignore[attr-defined]
    default = resolve(str(path), "linux", profile="default").policy
    grants = {(g.path, a) for g in default.grants for a in g.access}
    assert ("/usr/bin", ir.Access.READ) in grants
    assert ("/usr/bin", ir.Access.EXECUTE) in grants  # nono's read includes execute
    assert ("/tmp", ir.Access.WRITE) in grants
    assert ("/tmp", ir.Access.READ) not in grants  # write stays write
    denies = {d.path for d in default.denies}
    source = json.loads(POLICY.read_text())
    for raw in source["groups"]["deny_credentials"]["deny"]["access"]:
        assert raw.replace("~", "$HOME", 1) in denies
    assert "rm" in default.blocked_commands and "apt-get" in default.blocked_commands
    assert default.scopes.signal is True
    assert default.network.mode is ir.NetworkMode.OPEN
    macos = resolve(str(path), "macos", profile="default").policy
    assert "$HOME/Library/Keychains" in {d.path for d in macos.denies}
    assert "apt-get" not in macos.blocked_commands and "launchctl" in macos.blocked_commands
    openclaw = resolve(str(path), "linux", profile="openclaw").policy
    access = {a for g in openclaw.grants if g.path == "$HOME/.openclaw" for a in g.access}
    assert access == {ir.Access.READ, ir.Access.WRITE, ir.Access.EXECUTE}
    cwd = {a for g in openclaw.grants if g.path == "$CWD" for a in g.access}
    assert cwd == {ir.Access.READ, ir.Access.EXECUTE}


def test_policy_file_warnings_name_json_paths(policy_import: object) -> None:
    found = messages(policy_import)
    expected_prefixes = [
        "$.groups.system_read_macos.symlink_pairs: ",
        "$.groups.unlink_protection.deny.unlink: ",
        "$.groups.claude_code_macos.allow.readwrite[0]: ",
        "$.groups.codex_macos.allow.readwrite[1]: ",
        "$.profiles.openclaw.filesystem.allow[2]: ",
        "$.profiles.openclaw.undo: ",
        "$.profiles['python-dev'].security.ipc_mode: ",
        "$.profiles['python-dev'].network.network_profile: ",
        "$.profiles['java-dev'].unsafe_macos_seatbelt_rules: ",
        "$.profiles.default.interactive: ",
    ]
    for prefix in expected_prefixes:
        assert any(m.startswith(prefix) for m in found), prefix
    uid = next(m for m in found if m.startswith("$.profiles.openclaw.filesystem.allow[2]"))
    assert "$TMPDIR/openclaw-$UID" in uid
    keychain = next(
        m for m in found if m.startswith("$.groups.claude_code_macos.allow.readwrite[0]")
    )
    assert "deny_keychains_macos" in keychain
    # Every warning is also a comment at its place in the output.
    for message in found:
        assert message.split(":", 1)[0] in policy_import.text  # type: ignore[attr-defined]


def test_one_profile_with_its_parents(tmp_path: Path) -> None:
    imported = import_file(real(POLICY), profile="python-dev")
    syntax = parse(imported.text, "imported.nono")
    assert sorted(p.name.text for p in syntax.profiles) == ["default", "python-dev"]
    check_text(imported.text, "imported.nono")


def test_unknown_profile_is_an_error() -> None:
    with pytest.raises(NonoError) as info:
        import_file(real(POLICY), profile="pyhton-dev")
    assert "no profile 'pyhton-dev' (did you mean 'python-dev'?)" in str(info.value)


# --------------------------------------------------------------------------- the network policy


def test_network_policy(tmp_path: Path) -> None:
    imported = import_file(real(NETWORK))
    assert imported.kind == "network"
    source = json.loads(NETWORK.read_text())
    syntax = parse(imported.text, "net.nono")
    names = [g.name.text for g in syntax.groups]
    assert names == [*source["groups"], *(f"network_{p}" for p in source["profiles"])]
    check_text(imported.text, "net.nono")
    path = written(tmp_path, imported.text + "profile p { use network_enterprise }\n", "net.nono")
    policy = resolve(str(path), "linux", profile="p").policy
    assert policy.network.mode is ir.NetworkMode.PROXY
    hosts = {h.pattern for h in policy.network.proxy_hosts}
    assert {"api.anthropic.com", "*.googleapis.com", "*.bedrock-runtime.amazonaws.com"} <= hosts
    assert {
        f"$.credentials.{name}" if name.isidentifier() else f"$.credentials['{name}']"
        for name in source["credentials"]
    } == {m.split(":", 1)[0] for m in messages(imported)}


# --------------------------------------------------------------------------- single profiles


PROFILE = {
    "extends": "default",
    "meta": {"name": "my agent", "description": "An agent of mine", "version": "2.0"},
    "groups": {"include": ["node_runtime"], "exclude": ["dangerous_commands"]},
    "filesystem": {
        "allow": ["$WORKDIR/build", "~/.myagent"],
        "read_file": ["~/.gitconfig"],
        "write": ["/run/user/$UID/agent"],
        "deny": ["$WORKDIR/.env"],
        "read": 5,
        "teleport": ["/x"],
    },
    "network": {"block": True},
    "workdir": {"access": "read"},
    "security": {"signal_mode": "isolated", "capability_elevation": False},
    "colour": "blue",
}


def test_single_profile(tmp_path: Path) -> None:
    imported = import_document(PROFILE, "mine.json")
    assert imported.kind == "profile"
    found = messages(imported)
    for prefix in (
        "$.meta.name: ",
        "$.groups.exclude: ",
        "$.filesystem.write[0]: ",
        "$.filesystem.read: ",
        "$.filesystem.teleport: ",
        "$.colour: ",
    ):
        assert any(m.startswith(prefix) for m in found), (prefix, found)
    assert "cannot exclude dangerous_commands" in " ".join(found)
    path = written(tmp_path, imported.text)
    for target in TARGETS:
        assert resolve(str(path), target).diagnostics == []
    policy = resolve(str(path), "linux").policy
    assert policy.name == "my_agent"
    assert policy.description == "An agent of mine"
    grants = {(g.path, g.kind, a) for g in policy.grants for a in g.access}
    assert ("$CWD/build", ir.PathKind.TREE, ir.Access.WRITE) in grants
    assert ("$CWD/build", ir.PathKind.TREE, ir.Access.EXECUTE) in grants
    assert ("$HOME/.gitconfig", ir.PathKind.FILE, ir.Access.READ) in grants
    assert ("$CWD", ir.PathKind.TREE, ir.Access.READ) in grants
    assert ("$CWD", ir.PathKind.TREE, ir.Access.WRITE) not in grants
    assert "$CWD/.env" in {d.path for d in policy.denies}
    assert policy.network.mode is ir.NetworkMode.BLOCKED
    assert "node_runtime" in {link.name for g in policy.grants for link in g.provenance.chain}


def test_single_profile_names() -> None:
    body = {"filesystem": {"read": ["/opt"]}}
    assert "profile chosen " in import_document(body, "x.json", profile="chosen").text
    assert "profile from-stem " in import_document(body, "x.json", default_name="from-stem").text
    named = import_document({**body, "meta": {"name": "meta-name"}}, "x.json")
    assert "profile meta-name " in named.text and not named.warnings


def test_allowed_hosts_make_a_proxy(tmp_path: Path) -> None:
    imported = import_document(
        {"network": {"block": False, "allow_domain": ["api.example.com"]}}, "n.json"
    )
    policy = resolve(str(written(tmp_path, imported.text)), "linux").policy
    assert policy.network.mode is ir.NetworkMode.PROXY
    assert [h.pattern for h in policy.network.proxy_hosts] == ["api.example.com"]


def test_document_kinds() -> None:
    assert document_kind({"filesystem": {}}) == "profile"
    assert document_kind({"groups": ["a"]}) == "profile"
    assert document_kind({"groups": {"include": ["a"]}}) == "profile"
    assert document_kind({"groups": {"g": {"allow": {}}}}) == "policy"
    assert document_kind({"groups": {"g": {"hosts": []}}}) == "network"
    assert document_kind({"profiles": {}}) == "policy"


def test_json_path_rendering() -> None:
    assert render_path(()) == "$"
    assert (
        render_path(("profiles", "claude-code", "groups", 0))
        == "$.profiles['claude-code'].groups[0]"
    )
    assert render_path(("a", "it's")) == "$.a['it\\'s']"


def test_output_is_deterministic() -> None:
    first = import_document(PROFILE, "mine.json")
    second = import_document(json.loads(json.dumps(PROFILE)), "mine.json")
    assert first.text == second.text


def test_strings_are_escaped(tmp_path: Path) -> None:
    imported = import_document(
        {"meta": {"description": 'say "hi" \\ bye'}, "filesystem": {"read": ['/opt/we"ird']}},
        "q.json",
    )
    policy = resolve(str(written(tmp_path, imported.text)), "linux").policy
    assert policy.description == 'say "hi" \\ bye'
    assert '/opt/we"ird' in {g.path for g in policy.grants}


# --------------------------------------------------------------------------- the command line


def test_cli_writes_the_file_and_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "mine.json"
    source.write_text(json.dumps(PROFILE))
    out = tmp_path / "out" / "mine.nono"
    assert main(["import", str(source), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "mine.json: warning: $.colour: unknown key; not imported" in err
    assert f"wrote {out}" in err
    assert out.read_text() == import_file(source).text
    assert not list(out.parent.glob(".*.tmp"))


def test_cli_prints_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "p.json"
    source.write_text('{"filesystem": {"read": ["/opt"]}}')
    assert main(["import", str(source), "--profile", "named"]) == 0
    assert capsys.readouterr().out.startswith("# Imported by `nonoc import` from p.json")


def test_cli_bad_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.json"
    source.write_text('{\n  "filesystem": {"read": [,]}\n}\n')
    assert main(["import", str(source)]) == 1
    err = capsys.readouterr().err
    assert f"{source}:2:27: error: not valid JSON: Expecting value" in err
    assert "Traceback" not in err


def test_cli_missing_file_and_non_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(tmp_path / "absent.json")]) == 1
    assert "cannot read" in capsys.readouterr().err
    source = tmp_path / "list.json"
    source.write_text("[1, 2]")
    assert main(["import", str(source)]) == 1
    assert "expected a JSON object" in capsys.readouterr().err


def test_cli_refuses_a_result_that_does_not_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A grant of exactly a path the stdlib denies: the front end's error, before writing."""
    source = tmp_path / "leaky.json"
    source.write_text('{"filesystem": {"read": ["~/.ssh"]}}')
    out = tmp_path / "leaky.nono"
    assert main(["import", str(source), "-o", str(out)]) == 1
    assert "$HOME/.ssh is both granted" in capsys.readouterr().err
    assert not out.exists()
    assert main(["import", str(source), "-o", str(out), "--no-check"]) == 0
    assert out.exists()


def test_nono_group_and_profile_names_map_to_the_stdlib(tmp_path: Path) -> None:
    """A lone profile that names nono's own groups and profiles still resolves."""
    document = {
        "extends": ["java-dev", "no-such-profile"],
        "groups": {
            "include": ["node_runtime", "system_read_linux_core", "vscode_linux", "made_up"]
        },
        "filesystem": {"read": ["/opt/tools"]},
    }
    imported = import_document(document, "mine.json")
    found = messages(imported)
    assert any(
        m.startswith("$.extends[0]: profile java-dev is imported as `extends default`")
        for m in found
    )
    assert any(m.startswith("$.extends[1]: unknown profile no-such-profile") for m in found)
    assert any(
        m.startswith(
            "$.groups.include[1]: group system_read_linux_core is imported as the standard library's system"
        )
        for m in found
    )
    assert any(m.startswith("$.groups.include[3]: unknown group made_up") for m in found)
    assert not any("node_runtime" in m for m in found)
    policy = resolve(str(written(tmp_path, imported.text)), "linux").policy
    used = {link.name for g in policy.grants for link in g.provenance.chain}
    assert {"default", "java_runtime", "java_caches", "node_runtime", "system", "editors"} <= used


def test_policy_file_names_stay_its_own(policy_import: object) -> None:
    """Inside a policy file, `use` names the file's own groups: nothing is mapped."""
    assert not any("is imported as the standard library" in m for m in messages(policy_import))
