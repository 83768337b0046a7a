"""The canonical form ``nonoc fmt`` prints: layout, comments kept, idempotent, meaning kept."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from nonoc import format as fmt
from nonoc.errors import NonoError
from nonoc.format import format_text

ROOT = Path(__file__).resolve().parents[2]


def canon(text: str) -> str:
    out = format_text(text, "t.nono")
    assert format_text(out, "t.nono") == out, "not idempotent"
    return out


def test_messy_input_becomes_canonical() -> None:
    messy = (
        'import   "lib.nono"\n\n\n\nprofile  p   extends a,b  "A \\"quoted\\" d"{use x,y read file "/a" ,"/b"\n'
        'deny "/c"\n\tsyscall socket deny errno EAFNOSUPPORT if arg0!=AF_UNIX and arg2 & 0xFF==0x6\n'
        'on linux{read "/proc/self"}port connect 443,0x50 network proxy{allow "a.com" }}\n'
    )
    assert canon(messy) == (
        'import "lib.nono"\n'
        "\n"
        'profile p extends a, b "A \\"quoted\\" d" {\n'
        "  use x, y\n"
        '  read file "/a", "/b"\n'
        '  deny "/c"\n'
        "  syscall socket deny errno EAFNOSUPPORT if arg0 != AF_UNIX and arg2 & 0xFF == 0x6\n"
        "  on linux {\n"
        '    read "/proc/self"\n'
        "  }\n"
        "  port connect 443, 0x50\n"
        '  network proxy { allow "a.com" }\n'
        "}\n"
    )


def test_every_statement_kind_prints_back() -> None:
    text = (
        'import stdlib "system"\nimport "stdlib:hosts"\nabi 4\n\n'
        'mandatory group g "d" {\n  require readwrite "~/x"\n  allow "$CWD"\n  exec "/bin"\n'
        '  write file "/tmp/y"\n  deny file "~/.netrc"\n  assert never write "~/.ssh"\n'
        "  network block\n  port bind 8080\n  scope signal off\n  compat hard_requirement\n"
        '  deny_inside_allow refuse\n  rollback on\n  protect metadata\n  env keep "A", "B"\n'
        '  env set "NO_COLOR" "1"\n  command block "rm"\n  command allow "rm"\n'
        '  unix_socket "$XDG_RUNTIME_DIR/bus"\n  abi 5\n  syscall ptrace kill\n'
        "  syscall clone deny if arg0 & CLONE_NEWUSER == CLONE_NEWUSER\n}\n"
    )
    assert canon(text) == text


def test_strings_are_requoted_with_the_languages_escapes() -> None:
    assert canon('profile p {\n  env set "T" "a\tb\\\\c"\n}\n') == (
        'profile p {\n  env set "T" "a\\tb\\\\c"\n}\n'
    )


def test_comments_everywhere_are_kept() -> None:
    text = (
        "#!first line\n"
        "# about the file\n"
        "\n"
        'import "x.nono"   # the import\n'
        "# leads into g\n"
        "group g {   # on the header\n"
        '  read "/a",   # after a\n'
        '       "/b"    # after b\n'
        "  # between two items\n"
        '       , "/c"\n'
        "  syscall ioctl   # inside a statement\n"
        "     deny if arg1 == 1\n"
        "  network proxy {\n"
        "    # the hosts\n"
        '    allow "a.com"   # one\n'
        '    allow "b.com", "c.com"\n'
        "  }\n"
        "  # before the brace\n"
        "}  # after the brace\n"
        "# at the end\n"
    )
    assert canon(text) == (
        "#!first line\n"
        "# about the file\n"
        "\n"
        'import "x.nono"  # the import\n'
        "\n"
        "# leads into g\n"
        "group g {  # on the header\n"
        '  read "/a",  # after a\n'
        '      "/b",  # after b\n'
        "      # between two items\n"
        '      "/c"\n'
        "  syscall ioctl deny if arg1 == 1  # inside a statement\n"
        "  network proxy {\n"
        "    # the hosts\n"
        '    allow "a.com"  # one\n'
        '    allow "b.com", "c.com"\n'
        "  }\n"
        "  # before the brace\n"
        "}  # after the brace\n"
        "# at the end\n"
    )


def test_trailing_comments_of_neighbouring_lines_align() -> None:
    text = 'profile p {\n  use system  # a\n  read "$CWD"   # b\n  write "$TMPDIR"\n  deny "$CWD/private" # c\n\n  read "/x" # d\n}\n'
    assert canon(text) == (
        "profile p {\n"
        "  use system           # a\n"
        '  read "$CWD"          # b\n'
        '  write "$TMPDIR"\n'
        '  deny "$CWD/private"  # c\n'
        "\n"
        '  read "/x"  # d\n'
        "}\n"
    )


def test_two_comments_ending_on_one_line() -> None:
    text = "profile p {\n  syscall ioctl  # one\n    deny  # two\n}\n"
    assert canon(text) == "profile p {\n  # one\n  syscall ioctl deny  # two\n}\n"


def test_blank_lines() -> None:
    text = (
        'import "a.nono"\n\n\n\nimport "b.nono"\ngroup g {\n\n  read "/a"\n\n\n  read "/b"\n\n}\n'
        "profile p {\n  use g\n}\n"
    )
    assert canon(text) == (
        'import "a.nono"\n\nimport "b.nono"\n\ngroup g {\n  read "/a"\n\n  read "/b"\n}\n\n'
        "profile p {\n  use g\n}\n"
    )


def test_long_lists_fill_to_the_width() -> None:
    paths = ", ".join(f'"/opt/tool-{n:02d}/lib"' for n in range(12))
    out = canon(f"profile p {{\n  read {paths}\n}}\n")
    lines = out.splitlines()
    assert all(len(line) <= fmt.WIDTH for line in lines)
    assert lines[1].startswith('  read "/opt/tool-00/lib", ') and lines[1].endswith(",")
    assert lines[2].startswith('      "/opt/tool-')  # continuation: four more spaces
    assert re.findall(r'"/opt/tool-\d\d/lib"', out) == re.findall(r'"/opt/tool-\d\d/lib"', paths)


def test_a_long_proxy_list_becomes_a_block() -> None:
    hosts = ", ".join(f'"host-{n}.example.com"' for n in range(6))
    out = canon(f"profile p {{ network proxy {{ allow {hosts} }} }}\n")
    lines = out.splitlines()
    assert lines[1] == "  network proxy {" and lines[-2] == "  }"
    assert lines[2].startswith('    allow "host-0.example.com", ') and lines[2].endswith(",")
    assert lines[3].startswith('        "host-')


def test_empty_file_and_comment_only_file() -> None:
    assert canon("") == ""
    assert canon("\n\n# only a comment\n\n") == "# only a comment\n"


def test_syntax_errors_are_reported_not_formatted() -> None:
    with pytest.raises(NonoError) as info:
        format_text("profile p { raed }\n", "bad.nono")
    assert info.value.render().startswith("bad.nono:1:13: error: unknown statement 'raed'")


def test_a_result_that_would_change_the_meaning_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fmt._simple

    def drops_files(stmt: Any) -> tuple[str, list[tuple[str, tuple[int, int]]]]:
        head, items = real(stmt)
        return head.replace(" file", ""), items

    monkeypatch.setattr(fmt, "_simple", drops_files)
    with pytest.raises(NonoError, match=r"would change the meaning or the comments of t\.nono"):
        format_text('profile p {\n  read file "/a"\n}\n', "t.nono")


# --------------------------------------------------------------------------- shipped files

SHIPPED = sorted(
    path
    for folder in ("examples", "stdlib", "profiles")
    for path in (ROOT / folder).rglob("*.nono")
)


def _semantics(policy: Any) -> Any:
    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("provenance", "sources")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(policy.model_dump(mode="json"))


def _outcome(build: Any) -> Any:
    """What resolving means, or the error without its positions (lines move)."""
    try:
        return ("ok", _semantics(build()))
    except NonoError as exc:
        return ("error", re.sub(r"\d+", "#", str(exc)))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_files_are_kept_in_meaning_and_idempotent(path: Path) -> None:
    from nonoc.resolve.sources import SourceSet
    from nonoc.syntax.parser import parse

    text = path.read_text(encoding="utf-8")
    formatted = format_text(text, str(path))
    assert format_text(formatted, str(path)) == formatted
    syntax = parse(text, str(path))
    for target in ("linux", "macos"):
        for profile in syntax.profiles:
            name = profile.name.text
            before = _outcome(partial(_resolve_text, path, target, name, text))
            after = _outcome(partial(_resolve_text, path, target, name, formatted))
            assert before == after, f"profile {name} ({target})"
        if not syntax.groups:
            continue
        original, changed = SourceSet(), SourceSet()
        file_before = original.load_text(text, str(path))
        file_after = changed.load_text(formatted, str(path))
        for group, group_after in zip(
            file_before.syntax.groups, file_after.syntax.groups, strict=True
        ):
            before = _outcome(partial(_group_policy, original, file_before, group, target))
            after = _outcome(partial(_group_policy, changed, file_after, group_after, target))
            assert before == after, f"group {group.name.text} ({target})"


def _resolve_text(path: Path, target: Any, name: str, text: str) -> Any:
    from nonoc.resolve import resolve

    return resolve(str(path), target, profile=name, text=text).policy


def _group_policy(sources: Any, file: Any, group: Any, target: Any) -> Any:
    from nonoc.lint.subject import resolve_group

    return resolve_group(sources, file, group, target).policy
