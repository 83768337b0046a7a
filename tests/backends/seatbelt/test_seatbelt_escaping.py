"""SBPL strings: quotes and backslashes escaped, control characters refused at the rule's line."""

from __future__ import annotations

import pytest
from seatbelt_evaluate import Evaluator, Request
from seatbelt_policies import (
    HAND_POLICIES,
    R,
    W,
    compile_policy,
    deny,
    fake_parameters,
    grant,
    policy,
)
from seatbelt_sbpl import String, parse, walk

from nonoc.backends import seatbelt
from nonoc.errors import NonoError


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("/plain/path", '"/plain/path"'),
        ('/a"b', '"/a\\"b"'),
        ("/a\\b", '"/a\\\\b"'),
        ('/"\\"', '"/\\"\\\\\\""'),
        ("/caf\u00e9/\u65e5\u672c", '"/caf\u00e9/\u65e5\u672c"'),
        ("/with space/(parens);semi", '"/with space/(parens);semi"'),
    ],
)
def test_string_literal(text: str, literal: str) -> None:
    assert seatbelt.string_literal(text) == literal


@pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85"])
def test_control_characters_are_refused(char: str) -> None:
    with pytest.raises(NonoError, match="control character"):
        seatbelt.string_literal(f"/a{char}b")


def test_a_control_character_in_a_path_names_the_rule_line() -> None:
    p = policy(grants=(grant("/usr", R), grant("$HOME/evil\n(allow default)", R, line=42)))
    with pytest.raises(NonoError) as caught:
        compile_policy(p)
    diagnostic = caught.value.diagnostic
    assert (
        diagnostic.span is not None
        and diagnostic.span.line == 42
        and diagnostic.span.file == "hand.nono"
    )
    assert diagnostic.headline().startswith("hand.nono:42:3: error: path")
    assert "U+000A" in diagnostic.message


def test_a_control_character_in_a_deny_names_its_line() -> None:
    with pytest.raises(NonoError) as caught:
        compile_policy(policy(denies=(deny("/a\tb", line=7),)))
    assert caught.value.diagnostic.span.line == 7  # type: ignore[union-attr]


def test_quotes_and_backslashes_survive_into_the_profile_as_data() -> None:
    artifact, _ = compile_policy(HAND_POLICIES["odd_names"])
    strings = [node.value for node in walk(parse(artifact["sbpl"])) if isinstance(node, String)]
    assert '/we"ird\\dir' in strings
    assert '/we"ird\\dir/secret' in strings
    assert "/Volumes/My Disk (2)" in strings
    ev = Evaluator(artifact["sbpl"], fake_parameters(artifact))
    assert ev.decide(Request("file-read-data", path='/Users/alice/we"ird\\dir/a')) == "allow"
    assert ev.decide(Request("file-read-data", path='/Users/alice/we"ird\\dir/secret/a')) == "deny"
    assert ev.decide(Request("file-read-data", path="/Volumes/My Disk (2)/x")) == "allow"


def test_a_quote_cannot_inject_a_rule() -> None:
    attack = '/x") (allow default) ("'
    artifact, _ = compile_policy(policy(grants=(grant(attack, R, W),)))
    forms = parse(artifact["sbpl"])
    assert not any(
        f.items[1:2] and getattr(f.items[1], "name", None) == "default" and f.head == "allow"
        for f in forms
    )
    assert attack in [n.value for n in walk(forms) if isinstance(n, String)]


def test_comments_cannot_break_out_of_their_line() -> None:
    assert seatbelt.comment("name\n(allow default)") == "name?(allow default)"
    p = policy("evil\n(allow default)", description="also\revil")
    text = compile_policy(p)[0]["sbpl"]
    assert "\n(allow default)" not in text


def test_templates_may_print_only_escaped_fragments() -> None:
    env = seatbelt._environment()
    with pytest.raises(TypeError, match="unescaped str"):
        env.from_string("{{ value }}").render(value='/a"b')
    assert (
        env.from_string("{{ value }}").render(value=seatbelt.string_literal('/a"b')) == '"/a\\"b"'
    )
