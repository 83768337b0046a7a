"""Every error the front end reports: message, `file:line:col`, and the CLI's exit code 1."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nonoc.errors import NonoError
from nonoc.resolve import find_profile, load_policy
from tests.resolve.conftest import write

# (files, profile, expected "file:line:col", message fragment)
CASES: list[tuple[dict[str, str], str | None, str, str]] = [
    (
        {"p.nono": 'profile p {\n  raed "/x"\n}'},
        None,
        "p.nono:2:3",
        "unknown statement 'raed' (did you mean 'read'?)",
    ),
    (
        {"p.nono": "profile p {\n  use toolz\n}"},
        None,
        "p.nono:2:7",
        "unknown group 'toolz' (did you mean 'tools'?)",
    ),
    (
        {"p.nono": "profile p extends bse { }"},
        None,
        "p.nono:1:19",
        "unknown profile 'bse' (did you mean 'base'?)",
    ),
    (
        {"p.nono": "profile p { use base }"},
        None,
        "p.nono:1:17",
        "'base' is a profile, not a group; inherit it with 'extends'",
    ),
    (
        {"p.nono": "profile q { }\nprofile p { use q }"},
        "p",
        "p.nono:2:17",
        "'q' is a profile (p.nono:1), not a group",
    ),
    (
        {"p.nono": "group g { }\nprofile p extends g { }"},
        "p",
        "p.nono:2:19",
        "'g' is a group (p.nono:1), not a profile",
    ),
    (
        {"p.nono": "profile a extends b { }\nprofile b extends a { }"},
        "a",
        "p.nono:2:19",
        "extends cycle: a -> b -> a",
    ),
    (
        {"p.nono": "group g { }\n\ngroup g { }\nprofile p { }"},
        None,
        "p.nono:3:7",
        "duplicate name 'g': already defined as a group at line 1",
    ),
    (
        {"p.nono": "profile p { }\nprofile p { }"},
        "p",
        "p.nono:2:9",
        "duplicate name 'p': already defined as a profile at line 1",
    ),
    (
        {"lib.nono": "group g { }", "p.nono": 'group g { }\nimport "lib.nono"\nprofile p { }'},
        None,
        "p.nono:2:1",
        "import of 'lib.nono' brings 'g' (lib.nono:1), already defined at p.nono:1",
    ),
    (
        {"p.nono": 'profile p {\n  read "$NOPE/x"\n}'},
        None,
        "p.nono:2:9",
        'bad path "$NOPE/x": unknown variable $NOPE',
    ),
    (
        {"p.nono": 'profile p { read "/a/../b" }'},
        None,
        "p.nono:1:22",
        "'..' is not allowed in a policy path",
    ),
    (
        {"p.nono": 'profile p { read "~bob/x" }'},
        None,
        "p.nono:1:19",
        "'~user' paths are not supported",
    ),
    (
        {"p.nono": 'profile p { read "/a/$HOME" }'},
        None,
        "p.nono:1:22",
        "a variable may only start a path",
    ),
    (
        {"p.nono": 'import "missing.nono"\nprofile p { }'},
        None,
        "p.nono:1:8",
        "import not found: 'missing.nono'",
    ),
    (
        {"p.nono": 'import stdlib "cred"\nprofile p { }'},
        None,
        "p.nono:1:15",
        "the standard library has no 'cred' (did you mean 'creds'?)",
    ),
    (
        {"p.nono": "profile p { syscall socket deny if arg0 == AF_UNX }"},
        None,
        "p.nono:1:44",
        "unknown constant 'AF_UNX' (did you mean 'AF_UNIX'?)",
    ),
    (
        {"p.nono": "profile p { syscall socket deny errno EPRM }"},
        None,
        "p.nono:1:39",
        "unknown errno 'EPRM' (did you mean 'EPERM'?)",
    ),
    (
        {"p.nono": "profile p { syscall socket block }"},
        None,
        "p.nono:1:28",
        "unknown syscall action 'block'",
    ),
    (
        {"p.nono": "profile p { syscall socket dney }"},
        None,
        "p.nono:1:28",
        "unknown syscall action 'dney' (did you mean 'deny'?)",
    ),
    (
        {"p.nono": "profile p { syscall socket kill errno EPERM }"},
        None,
        "p.nono:1:39",
        "'errno' only follows 'deny'",
    ),
    (
        {"p.nono": "profile p { syscall socket deny if arg6 == 1 }"},
        None,
        "p.nono:1:36",
        "unknown argument 'arg6'",
    ),
    (
        {"p.nono": "profile p { network blok }"},
        None,
        "p.nono:1:21",
        "unknown network mode 'blok' (did you mean 'block'?)",
    ),
    ({"p.nono": "profile p { compat hard }"}, None, "p.nono:1:20", "unknown compat setting 'hard'"),
    (
        {"p.nono": "profile p { on linx { } }"},
        None,
        "p.nono:1:16",
        "unknown platform 'linx' (did you mean 'linux'?)",
    ),
    ({"p.nono": "profile p { abi 9 }"}, None, "p.nono:1:17", "Landlock ABI 9 is unknown"),
    (
        {"p.nono": "profile p { port connect 70000 }"},
        None,
        "p.nono:1:26",
        "port 70000 is out of range",
    ),
    (
        {"p.nono": 'profile p { network block { allow "x" } }'},
        None,
        "p.nono:1:21",
        "needs 'network proxy'",
    ),
    (
        {"p.nono": 'profile p {\n  read "/a"\n  deny "/a"\n}'},
        None,
        "p.nono:2:3",
        "/a is both granted (read, p.nono:2:3) and denied (p.nono:3:3)",
    ),
    (
        {"p.nono": 'profile p {\n  deny_inside_allow refuse\n  read "/a"\n  deny "/a/b"\n}'},
        None,
        "p.nono:4:3",
        "deny of /a/b (p.nono:4:3) lies inside the grant of /a (p.nono:3:3)",
    ),
    ({"p.nono": "profile a { }\nprofile b { }"}, None, "p.nono", "defines several profiles (a, b)"),
    ({"p.nono": "profile a { }"}, "z", "p.nono", "defines no profile 'z'"),
]


@pytest.mark.parametrize(("files", "profile", "where", "message"), CASES)
def test_error(files: dict[str, str], profile: str | None, where: str, message: str) -> None:
    for name, text in files.items():
        write(name, text)
    with pytest.raises(NonoError) as info:
        load_policy("p.nono", "linux", profile=profile)
    diagnostic = info.value.diagnostic
    assert diagnostic.span is not None
    assert diagnostic.headline().startswith(f"{where}: error: ")
    assert message in diagnostic.message
    assert info.value.exit_code == 1


def test_import_not_found_names_the_importing_file_and_line() -> None:
    write("sub/p.nono", 'profile p { }\nimport "../lib/x.nono"')
    with pytest.raises(NonoError) as info:
        load_policy("sub/p.nono", "linux")
    rendered = info.value.render()
    assert rendered.startswith("sub/p.nono:2:8: error: import not found: '../lib/x.nono'")
    assert "imported by sub/p.nono at line 2" in rendered


def test_rendered_error_has_the_source_line_and_a_caret() -> None:
    write("p.nono", "profile p {\n  use toolz\n}")
    with pytest.raises(NonoError) as info:
        load_policy("p.nono", "linux")
    assert info.value.render().splitlines()[1:] == ["      use toolz", "          ^~~~~"]


def test_unknown_profile_by_name() -> None:
    with pytest.raises(NonoError) as info:
        find_profile("bsae")
    assert "unknown profile 'bsae' (did you mean 'base'?)" in info.value.diagnostic.message


# --- through the command line -------------------------------------------------------------

needs_compile = pytest.mark.skipif(
    importlib.util.find_spec("nonoc.cli.compile_cmd") is None,
    reason="nonoc compile is not built yet",
)


@needs_compile
@pytest.mark.parametrize(("files", "profile", "where", "message"), CASES)
def test_cli_exit_code(
    files: dict[str, str],
    profile: str | None,
    where: str,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from nonoc.cli.nonoc import main

    for name, text in files.items():
        write(name, text)
    argv = [
        "compile",
        "p.nono",
        "--target",
        "linux",
        "--unsigned",
        "--no-cache",
        "-o",
        "out.bundle",
    ]
    if profile:
        argv += ["--profile", profile]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{where}: error: ")
    assert message in err
    assert "Traceback" not in err
    assert not Path("out.bundle").exists()


def test_an_unreadable_file_is_an_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    write("p.nono", 'import "lib.nono"\nprofile p { }')
    write("lib.nono", "group g { }")
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        # Tests run as root, where file modes do not stop reads: refuse this one read.
        if self.name == "lib.nono":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(NonoError, match=r"cannot read lib\.nono: Permission denied"):
        load_policy("p.nono", "linux")


def test_a_file_that_is_not_utf8() -> None:
    Path("p.nono").write_bytes(b'profile p { read "/\xff" }')
    with pytest.raises(NonoError, match="is not UTF-8 text"):
        load_policy("p.nono", "linux")
