"""Syntax errors: plain words (no token names), the right line and column, a caret."""

from __future__ import annotations

import pytest

from nonoc.errors import NonoError
from nonoc.syntax.parser import parse

CASES = [
    # (text, position, message fragment)
    ('profile a {\n  raed "/x"\n}', "2:3", "unknown statement 'raed' (did you mean 'read'?)"),
    ("profle a { }", "1:1", "unknown top-level item 'profle' (did you mean 'profile'?)"),
    ("profile a {\n  read\n}", "3:1", "unexpected '}'; expected 'file' or a quoted string"),
    ('profile a { read "/x"', "1:22", "unexpected end of file; expected a statement"),
    ('profile a { read "/x }', "1:18", "unterminated string"),
    ('profile a { read "/x", }', "1:24", "unexpected '}'; expected a quoted string"),
    ('profile a { env put "X" }', "1:17", "unexpected 'put'; expected 'keep' or 'set'"),
    ('profile a { read file file "x" }', "1:23", "unexpected 'file'; expected a quoted string"),
    ("profile a { syscall x deny if arg0 = 3 }", "1:36", "unexpected character '='"),
    ("profile a { @ }", "1:13", "unexpected character '@'"),
    ('profile a { read "\\q" }', "1:19", "unknown escape '\\q'"),
    ("abi 3\nabi 4", "2:1", "already pins 'abi' at line 1"),
    ("profile { }", "1:9", "unexpected '{'; expected a name"),
    ('profile a { port connect "x" }', "1:26", 'unexpected string "x"; expected a number'),
    ("profile a { syscall x }", "1:23", "unexpected '}'; expected ',' or a name"),
]


@pytest.mark.parametrize(("text", "position", "message"), CASES)
def test_syntax_error(text: str, position: str, message: str) -> None:
    with pytest.raises(NonoError) as info:
        parse(text, "bad.nono")
    diagnostic = info.value.diagnostic
    assert diagnostic.span is not None
    assert diagnostic.headline().startswith(f"bad.nono:{position}: error: ")
    assert message in diagnostic.message
    assert info.value.exit_code == 1


@pytest.mark.parametrize(("text", "position", "message"), CASES)
def test_no_lark_token_names_leak(text: str, position: str, message: str) -> None:
    with pytest.raises(NonoError) as info:
        parse(text, "bad.nono")
    rendered = info.value.render()
    for name in ("LBRACE", "RBRACE", "STRING", "NAME", "__ANON", "$END", "COMMA", "Token("):
        assert name not in rendered


def test_caret_under_the_offending_token() -> None:
    with pytest.raises(NonoError) as info:
        parse('profile a {\n  raed "/x"\n}', "bad.nono")
    lines = info.value.render().splitlines()
    assert lines[1] == '      raed "/x"'
    assert lines[2] == "      ^~~~"


def test_nesting_is_bounded() -> None:
    depth = 200
    text = "profile p {" + "on linux {" * depth + "}" * depth + "}"
    with pytest.raises(NonoError) as info:
        parse(text, "deep.nono")
    assert "'on' blocks nested deeper than 16" in info.value.diagnostic.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("profile a { read /usr }", "(paths are written in double quotes)"),
        ("profile a { deny ~/.ssh }", "(paths are written in double quotes)"),
        ('profile a { use "system" }', "(names are written without quotes)"),
        (
            'profile a { read "/a" "/b" }',
            "expected a statement (read, write, deny, use, network, syscall, ...), ',' or '}'",
        ),
    ],
)
def test_hints_for_common_mistakes(text: str, message: str) -> None:
    with pytest.raises(NonoError) as info:
        parse(text, "bad.nono")
    assert message in info.value.diagnostic.message
