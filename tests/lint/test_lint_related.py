"""``nonoc check`` takes other rules' positions and error kinds from the diagnostics' structure
(``code`` and ``related``), never from their wording."""

from __future__ import annotations

import pytest

from nonoc.errors import NonoError, Span
from nonoc.lint import Finding
from tests.lint.lint_helpers import check, found, hermetic, where, write  # noqa: F401


def places(item: Finding) -> list[tuple[str, int, int]]:
    return [(s.file, s.line, s.column) for s in item.related]


def test_an_assertion_is_classified_by_its_code_not_its_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = write("p.nono", 'profile p {\n  read "/x"\n}\n')
    grant = Span("p.nono", 2, 3)

    def refuse(path: str, profile: str, target: str) -> None:
        raise NonoError(
            "reworded: this never holds",
            Span("p.nono", 1, 9),
            code="assertion-failed",
            related=(grant,),
        )

    monkeypatch.setattr("nonoc.lint.run.resolve_profile", refuse)
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "assertion-failed"
    assert places(error) == [("p.nono", 2, 3)]
    assert error.related[0].source_line == '  read "/x"'  # filled in for the caret


def test_words_alone_do_not_make_an_assertion(monkeypatch: pytest.MonkeyPatch) -> None:
    name = write("p.nono", 'profile p {\n  read "/x"\n}\n')

    def refuse(path: str, profile: str, target: str) -> None:
        raise NonoError("assertion failed: p.nono:2:3", Span("p.nono", 1, 9))

    monkeypatch.setattr("nonoc.lint.run.resolve_profile", refuse)
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "policy-error" and error.related == ()


def test_front_end_errors_bring_the_other_rule() -> None:
    name = write("eq.nono", 'profile p {\n  read "/a"\n  deny "/a"\n}\n')
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert error.rule == "policy-error" and where(error) == ("eq.nono", 2, 3)
    assert places(error) == [("eq.nono", 3, 3)]
    name = write("conflict.nono", "profile p {\n  network block\n  network open\n}\n")
    (error,) = [f for f in check(name).findings if f.severity == "error"]
    assert places(error) == [("conflict.nono", 2, 3)]


def test_a_grant_inside_a_deny_names_the_deny() -> None:
    name = write("inside.nono", 'profile p {\n  deny "/srv"\n  read "/srv/a"\n}\n')
    (warning,) = found(check(name), "resolver-warning")
    assert where(warning) == ("inside.nono", 3, 3)
    assert places(warning) == [("inside.nono", 2, 3)]


def test_lint_rules_name_the_rules_they_compare() -> None:
    name = write(
        "rules.nono",
        'profile p {\n  read "$CWD"\n  write "$CWD"\n  deny "$CWD/private"\n'
        '  read "/usr"\n  read "/usr/lib"\n}\n',
    )
    report = check(name)
    (split,) = found(report, "unenforceable-deny")
    assert where(split) == ("rules.nono", 4, 8)
    assert places(split) == [("rules.nono", 2, 3), ("rules.nono", 3, 3)]
    (shadowed,) = found(report, "shadowed-rule")
    assert where(shadowed)[:2] == ("rules.nono", 6)
    assert places(shadowed) == [("rules.nono", 5, 3)]
