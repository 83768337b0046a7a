"""``nono why``: the decision, the reason and the provenance chain, from a profile or a bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nonoc.cli.nono import main
from tests.lint.lint_helpers import write

GROUPS = '# groups\ngroup inner "innermost" {\n  read "$CWD/data"\n}\n'
GRAND = 'import "groups.nono"\n\nprofile grand {\n  use inner\n  deny "$CWD/data/secret"\n}\n'
PARENT = 'import "lib/grand.nono"\nprofile parent extends grand {\n  write "$CWD/out"\n}\n'
CHILD = (
    'import "parent.nono"\n\n\nprofile child extends parent {\n'
    '  exec "/usr/bin"\n'
    '  network proxy { allow "api.example.com", "*.example.org" }\n'
    "  port connect 443\n"
    "}\n"
)
#: The chain of a rule written in group `inner`: two levels of `extends`, then the group.
INNER_CHAIN = [
    {"kind": "profile", "name": "child", "file": "child.nono", "line": 4},
    {"kind": "extends", "name": "parent", "file": "parent.nono", "line": 2},
    {"kind": "extends", "name": "grand", "file": "lib/grand.nono", "line": 3},
    {"kind": "group", "name": "inner", "file": "lib/groups.nono", "line": 2},
]


@pytest.fixture(autouse=True)
def project(hermetic: Path) -> Path:
    write("lib/groups.nono", GROUPS)
    write("lib/grand.nono", GRAND)
    write("parent.nono", PARENT)
    write("child.nono", CHILD)
    write("data/a.txt", "a")
    write("data/secret/key", "k")
    (hermetic / "out").mkdir()
    (hermetic / "link").symlink_to("data/secret")
    return hermetic


def why(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """``nono why … --json``, parsed."""
    code = main(["why", *argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0
    result: dict[str, Any] = json.loads(out)
    return result


def bundle() -> str:
    from nonoc.compile import compile_profile

    data = compile_profile("child.nono", "linux", use_cache=False).data
    Path("child.bundle").write_bytes(data)
    return "child.bundle"


def sources(answer: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [
        (r["role"], r["provenance"]["file"], r["provenance"]["line"], r["provenance"]["column"])
        for r in answer["rules"]
        if r["provenance"]
    ]


# --------------------------------------------------------------------------- provenance


@pytest.mark.parametrize("origin", ["profile", "bundle"])
def test_grant_through_two_extends_and_a_group(
    capsys: pytest.CaptureFixture[str], origin: str
) -> None:
    source = ["--profile", "child.nono"] if origin == "profile" else ["--bundle", bundle()]
    answer = why(capsys, *source, "--path", "data/a.txt")
    assert answer["decision"] == "ALLOWED" and answer["allowed"] is True
    grant = answer["rules"][0]
    assert grant["role"] == "grant" and grant["summary"] == "read of tree $CWD/data"
    assert grant["provenance"] == {
        "file": "lib/groups.nono",
        "line": 3,
        "column": 3,
        "chain": INNER_CHAIN,
    }
    # data/ holds a denied directory: the tree was split, and the answer says so.
    assert "split around $CWD/data/secret" in answer["reason"]
    assert ("split", "lib/grand.nono", 5, 3) in sources(answer)


@pytest.mark.parametrize("origin", ["profile", "bundle"])
def test_deny_through_two_extends(capsys: pytest.CaptureFixture[str], origin: str) -> None:
    source = ["--profile", "child.nono"] if origin == "profile" else ["--bundle", bundle()]
    answer = why(capsys, *source, "--path", "data/secret/key")
    assert answer["decision"] == "DENIED"
    assert "lies inside the deny of $CWD/data/secret" in answer["reason"]
    deny = answer["rules"][0]
    assert (deny["role"], deny["id"][0]) == ("deny", "d")
    assert deny["provenance"]["chain"] == INNER_CHAIN[:3]
    assert (deny["provenance"]["file"], deny["provenance"]["line"]) == ("lib/grand.nono", 5)


def test_text_output_names_file_line_and_chain(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    assert main(["why", "--profile", "child.nono", "--path", "data/a.txt"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"ALLOWED: read {project / 'data' / 'a.txt'} (linux)"
    assert out[1].startswith(
        f"  because read (READ_FILE) of {project / 'data' / 'a.txt'} is granted by g"
    )
    assert out[2].endswith(": read of tree $CWD/data")
    assert out[3] == "    at lib/groups.nono:3:3"
    assert out[4] == (
        "    via profile child (child.nono:4) > extends parent (parent.nono:2) > "
        "extends grand (lib/grand.nono:3) > group inner (lib/groups.nono:2)"
    )


def test_mandatory_group_deny_is_marked(capsys: pytest.CaptureFixture[str]) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "~/.ssh/id_rsa")
    assert answer["decision"] == "DENIED"
    (deny,) = answer["rules"]
    assert deny["provenance"]["file"] == "stdlib/mini.nono"
    group = deny["provenance"]["chain"][1]
    assert group == {
        "kind": "group",
        "name": "keep_out",
        "file": "stdlib/mini.nono",
        "line": 3,
        "mandatory": True,
    }


# --------------------------------------------------------------------------- reasons


def test_directory_on_the_way_to_a_deny_gets_nothing(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "data")
    assert answer["decision"] == "DENIED"
    assert answer["question"]["right"] == "READ_DIR"
    assert "split it around $CWD/data/secret" in answer["reason"]
    assert "lies on the way to a denied path" in answer["reason"]
    assert [r["role"] for r in answer["rules"]] == ["split", "deny"]


def test_not_granted(capsys: pytest.CaptureFixture[str]) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "/srv/nothing/here")
    assert answer["decision"] == "DENIED"
    assert answer["reason"] == (
        "not granted: no rule covers /srv/nothing/here, and Landlock denies what is not granted"
    )
    assert answer["rules"] == []


def test_granted_without_the_right_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "data/a.txt", "--op", "write")
    assert answer["decision"] == "DENIED"
    assert answer["question"]["right"] == "WRITE_FILE"
    assert answer["reason"].endswith("but with READ_FILE: not WRITE_FILE")


def test_write_creates_a_file_in_a_granted_directory(capsys: pytest.CaptureFixture[str]) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "out/new.txt", "--op", "write")
    assert answer["decision"] == "ALLOWED" and answer["question"]["right"] == "MAKE_REG"
    assert sources(answer) == [("grant", "parent.nono", 3, 3)]


def test_exec(capsys: pytest.CaptureFixture[str]) -> None:
    target = os.path.realpath("/usr/bin/env")
    answer = why(capsys, "--profile", "child.nono", "--path", target, "--op", "exec")
    assert answer["decision"] == "ALLOWED"
    assert sources(answer)[0] == ("grant", "child.nono", 5, 3)


def test_symlinks_are_resolved_like_the_launcher(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "link/key")
    assert answer["decision"] == "DENIED"
    assert answer["question"]["resolved"] == str(project / "data" / "secret" / "key")
    assert any("resolves to" in note for note in answer["notes"])


def test_macos_target_from_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    allowed = why(capsys, "--profile", "child.nono", "--target", "macos", "--path", "data/a.txt")
    assert (allowed["decision"], allowed["target"]) == ("ALLOWED", "macos")
    assert allowed["rules"][0]["provenance"]["chain"] == INNER_CHAIN
    denied = why(
        capsys, "--profile", "child.nono", "--target", "macos", "--path", "data/secret/key"
    )
    assert denied["decision"] == "DENIED"


# --------------------------------------------------------------------------- network


@pytest.mark.parametrize(
    ("host", "port", "allowed", "reason"),
    [
        ("api.example.com", None, True, "matches 'api.example.com'"),
        ("cdn.example.org", None, True, "matches '*.example.org'"),
        ("example.org", None, False, "matches none of the proxy's 2 allowed host patterns"),
        ("metadata.google.internal", None, False, "cloud metadata"),
        (None, 443, True, "allowed by p0"),
        (None, 80, False, "only the local proxy is reachable"),
    ],
)
def test_proxy_network(
    capsys: pytest.CaptureFixture[str],
    host: str | None,
    port: int | None,
    allowed: bool,
    reason: str,
) -> None:
    argv = ["--profile", "child.nono"]
    argv += ["--host", host] if host else []
    argv += ["--port", str(port)] if port is not None else []
    answer = why(capsys, *argv)
    assert answer["allowed"] is allowed
    assert reason in answer["reason"]
    assert answer["rules"][0]["summary"] == "network proxy"
    assert answer["rules"][0]["provenance"]["line"] == 6


def test_blocked_and_open_networks(capsys: pytest.CaptureFixture[str]) -> None:
    write("blocked.nono", "profile b {\n  network block\n  port connect 443\n}\n")
    write("open.nono", "profile o {\n}\n")
    blocked = why(capsys, "--profile", "blocked.nono", "--port", "443")
    assert blocked["decision"] == "DENIED"
    assert any("has no effect" in note for note in blocked["notes"])
    opened = why(capsys, "--profile", "open.nono", "--host", "anything.example", "--port", "22")
    assert opened["decision"] == "ALLOWED"
    assert opened["rules"][0]["summary"] == "network open (the default: no profile sets it)"


def test_network_from_a_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    answer = why(capsys, "--bundle", bundle(), "--host", "cdn.example.org", "--port", "443")
    assert answer["decision"] == "ALLOWED"
    assert [r["id"] for r in answer["rules"]] == ["network", "h0", "p0"]
    assert answer["rules"][1]["provenance"]["file"] == "child.nono"


# --------------------------------------------------------------------------- JSON and errors


def test_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    answer = why(capsys, "--profile", "child.nono", "--path", "data/a.txt")
    assert set(answer) == {
        "decision",
        "allowed",
        "question",
        "target",
        "source",
        "reason",
        "rules",
        "notes",
    }
    assert set(answer["question"]) == {"kind", "path", "resolved", "op", "right"}
    assert answer["source"] == {"profile": "child.nono"}
    for rule in answer["rules"]:
        assert set(rule) == {"id", "role", "summary", "provenance"}
        assert set(rule["provenance"]) == {"file", "line", "column", "chain"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--profile", "child.nono"],
        ["--profile", "child.nono", "--path", "x", "--host", "h"],
        ["--bundle", "b.bundle", "--target", "linux", "--path", "x"],
        ["--profile", "child.nono", "--port", "70000"],
    ],
)
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    assert main(["why", *argv]) == 2


def test_unsigned_bundle_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    from nonoc.compile import compile_profile

    Path("u.bundle").write_bytes(
        compile_profile("child.nono", "linux", unsigned=True, use_cache=False).data
    )
    assert main(["why", "--bundle", "u.bundle", "--path", "data/a.txt"]) == 1
    assert "unsigned" in capsys.readouterr().err


# --------------------------------------------------------------------------- the kernel agrees


@pytest.mark.kernel
def test_answers_match_what_the_kernel_enforces(
    capsys: pytest.CaptureFixture[str], project: Path
) -> None:
    from nonoc.launch import landlock

    if sys.platform != "linux" or landlock.abi_version() < 1:
        pytest.skip("needs Linux with Landlock")
    write(
        "run.nono",
        'import "child.nono"\nprofile run extends child {\n'
        '  read "/usr", "/lib", "/lib64", "/etc"\n  exec "/usr/lib", "/lib", "/lib64"\n}\n',
    )
    from nonoc.compile import compile_profile

    Path("run.bundle").write_bytes(compile_profile("run.nono", "linux", use_cache=False).data)
    questions = [
        ("data/a.txt", "read"),
        ("data/secret/key", "read"),
        ("link/key", "read"),
        ("out", "read"),
        ("/srv", "read"),
        ("parent.nono", "read"),
        ("out/new.txt", "write"),
        ("data/new.txt", "write"),
    ]
    for path, op in questions:
        answer = why(capsys, "--bundle", "run.bundle", "--path", path, "--op", op)
        command = [sys.executable, "-m", "nonoc.cli.nono", "exec", "run.bundle", "--"]
        if op == "write":
            command += ["/usr/bin/touch", path]
        else:
            command += ["/bin/ls", path] if os.path.isdir(path) else ["/bin/cat", path]
        result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=30)
        assert (result.returncode == 0) is answer["allowed"], (
            path,
            answer["reason"],
            result.stderr,
        )
        if not answer["allowed"]:
            assert "Permission denied" in result.stderr, (path, result.stderr)


def test_without_a_profile_nono_runs_choice_is_used(
    capsys: pytest.CaptureFixture[str], hermetic: Path
) -> None:
    user = hermetic.parent / "home" / ".config" / "nono" / "profiles"
    user.mkdir(parents=True)
    (user / "default.nono").write_text('profile default {\n  read "$CWD/data"\n}\n')
    answer = why(capsys, "--path", "data/a.txt")
    assert answer["decision"] == "ALLOWED"
    assert answer["rules"][0]["provenance"]["chain"][0]["name"] == "default"
    assert answer["notes"][0] == (
        "profile default: the installed profile 'default', as nono run would"
    )
