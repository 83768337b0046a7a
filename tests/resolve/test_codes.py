"""Front-end diagnostics carry a stable ``code`` and the other rule's span in ``related``."""

from __future__ import annotations

import pytest

from nonoc.errors import Diagnostic, NonoError, Span
from nonoc.resolve import merge
from nonoc.resolve.layer import CONFLICTING_SETTINGS
from tests.resolve.conftest import error, resolution


def _places(spans: tuple[Span, ...]) -> list[str]:
    return [span.location() for span in spans]


@pytest.mark.parametrize(
    ("text", "code", "at", "related", "related_line"),
    [
        (
            'profile p {\n  allow "~"\n  assert never write "~/.ssh"\n}',
            merge.ASSERTION_FAILED,
            "p.nono:3:3",
            ["p.nono:2:3"],
            '  allow "~"',
        ),
        (
            'profile p {\n  read "/a"\n  deny "/a"\n}',
            merge.GRANT_EQUALS_DENY,
            "p.nono:2:3",
            ["p.nono:3:3"],
            '  deny "/a"',
        ),
        (
            'profile p {\n  deny_inside_allow refuse\n  read "/a"\n  deny "/a/b"\n}',
            merge.DENY_INSIDE_ALLOW,
            "p.nono:4:3",
            ["p.nono:3:3"],
            '  read "/a"',
        ),
        (
            "profile p {\n  network block\n  network open\n}",
            CONFLICTING_SETTINGS,
            "p.nono:3:3",
            ["p.nono:2:3"],
            "  network block",
        ),
    ],
)
def test_errors_name_their_code_and_the_other_rule(
    text: str, code: str, at: str, related: list[str], related_line: str
) -> None:
    diagnostic = error(text).diagnostic
    assert diagnostic.code == code
    assert diagnostic.span is not None and diagnostic.span.location() == at
    assert _places(diagnostic.related) == related
    assert diagnostic.related[0].source_line == related_line


def test_an_assertion_names_the_grant_even_through_a_group() -> None:
    e = error(
        'group tools {\n  write "~/.config/tool"\n}\n'
        'profile p {\n  use tools\n  assert never write "~/.config"\n}\n'
    )
    assert e.diagnostic.code == "assertion-failed"
    assert _places(e.diagnostic.related) == ["p.nono:2:3"]


def test_a_grant_inside_a_deny_warns_with_the_deny() -> None:
    result = resolution('profile p {\n  deny "/a"\n  read "/a/b"\n}')
    (warning,) = [d for d in result.diagnostics if d.code == merge.DENY_COVERS_GRANT]
    assert warning.span is not None and warning.span.location() == "p.nono:3:3"
    assert _places(warning.related) == ["p.nono:2:3"]


def test_render_shows_each_related_rule_as_a_note_with_its_line() -> None:
    grant = Span("p.nono", 2, 3, source_line='  allow "~"')
    diagnostic = Diagnostic(
        "error",
        "assertion failed: never write $HOME/.ssh, but p.nono:2:3 grants write on $HOME",
        Span("p.nono", 3, 3, source_line='  assert never write "~/.ssh"'),
        code="assertion-failed",
        related=(grant, Span("other.nono", 7)),
    )
    assert diagnostic.render().splitlines() == [
        "p.nono:3:3: error: assertion failed: never write $HOME/.ssh, but p.nono:2:3 grants "
        "write on $HOME",
        '      assert never write "~/.ssh"',
        "      ^",
        "p.nono:2:3: note: the rule the error above names",
        '      allow "~"',
        "      ^",
        "other.nono:7: note: the rule the error above names",
    ]


def test_nono_error_carries_code_and_related() -> None:
    span = Span("p.nono", 1, 1)
    e = NonoError("x", code="c", related=(span,))
    assert (e.diagnostic.code, e.diagnostic.related) == ("c", (span,))
    assert NonoError("x").diagnostic.related == ()
