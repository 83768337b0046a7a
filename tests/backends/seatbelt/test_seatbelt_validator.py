"""The offline SBPL validator: every generated profile passes it; it catches what it claims to."""

from __future__ import annotations

import pytest
from seatbelt_policies import HAND_POLICIES, compile_policy, declared, fake_parameters
from seatbelt_sbpl import Vocabulary, parse
from seatbelt_validate import ere_problems, validate

from nonoc.ir import Policy


def test_vocabulary_has_the_208_names_of_macos_14(vocabulary: Vocabulary) -> None:
    assert len(vocabulary) == 208
    assert len(vocabulary.canonical) == 196
    assert {"file-read*", "process-exec*", "network-outbound", "default"} <= vocabulary.canonical
    assert "process-exec" in vocabulary.aliases


@pytest.mark.parametrize("name", sorted(HAND_POLICIES))
def test_every_generated_profile_validates(name: str, vocabulary: Vocabulary) -> None:
    artifact, _ = compile_policy(HAND_POLICIES[name])
    report = validate(artifact["sbpl"], vocabulary, fake_parameters(artifact), declared(artifact))
    assert report.errors == []
    assert report.warnings == [], "generated profiles use only macOS 14's canonical operation names"


def validate_policy_text(text: str, vocabulary: Vocabulary) -> list[str]:
    return validate(text, vocabulary, {"HOME": "/Users/a"}).errors


BASE = "(version 1)\n(deny default)\n"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('(allow file-read* (subpath "/usr")', "never closed"),
        ("(allow file-read*))", "closes nothing"),
        ('(allow file-raed* (subpath "/usr"))', "unknown operation 'file-raed*'"),
        ('(allow file-read* (subdir "/usr"))', "unknown filter 'subdir'"),
        ('(allow file-read* (regex "^/a["))', "does not compile"),
        ('(allow file-read* (regex "^/a\\\\d+$"))', "not an ERE escape"),
        ('(allow file-read* (regex "^/a(?:b)$"))', "'(?' groups"),
        ('(allow file-read* (regex "^/a.*?$"))', "lazy quantifiers"),
        ('(allow file-read* (regex "^/a[\\\\.]$"))', "backslash inside [...]"),
        ('(allow file-read* (subpath "/a\\q"))', "escape '\\q'"),
        ('(allow file-read* (subpath "relative"))', "not absolute"),
        ('(allow file-read* (subpath (param "NOPE")))', "'NOPE' has no value"),
        ('(allow file-read* (subpath (getenv "HOME")))', "not a string expression"),
        (
            '(allow network-outbound (remote tcp "example.com:443"))',
            "HOST:PORT, HOST * or localhost",
        ),
        ('(allow network-outbound (remote tcp "*:70000"))', "out of range"),
        ('(allow network-outbound (remote sctp "*:1"))', "takes a protocol"),
        ("(allow signal (target everyone))", "target takes"),
        ('(allow file-read* "/usr")', "after the filters began"),
        ('(allow default (subpath "/"))', "'default' takes no filter"),
        ("(permit file-read*)", "not allow/deny"),
        ('(allow file-read* (literal "/a\tb"))', "control character"),
    ],
)
def test_validator_catches(body: str, expected: str, vocabulary: Vocabulary) -> None:
    errors = validate_policy_text(BASE + body + "\n", vocabulary)
    assert any(expected in error for error in errors), errors


def test_validator_requires_version_first(vocabulary: Vocabulary) -> None:
    assert "must start with (version 1)" in validate("(deny default)\n", vocabulary).errors[0]


def test_validator_flags_alias_operations_as_warnings(vocabulary: Vocabulary) -> None:
    report = validate(BASE + '(allow process-exec (subpath "/bin"))\n', vocabulary)
    assert report.ok and "alias" in report.warnings[0]


def test_validator_compares_parameters_with_the_declaration(vocabulary: Vocabulary) -> None:
    text = BASE + '(allow file-read* (subpath (param "A")))\n'
    errors = validate(text, vocabulary, {"A": "/a", "B": "/b"}, declared=["B"]).errors
    assert "(param 'A') is used but the artifact does not declare it" in errors
    assert "parameter 'B' is declared but never used" in errors


def test_validator_checks_regexes_built_from_parameters(vocabulary: Vocabulary) -> None:
    text = BASE + '(allow file-read* (regex (string-append "^" (param "P") "/x$")))\n'
    assert validate(text, vocabulary, {"P": "/a"}).ok
    assert not validate(text, vocabulary, {"P": "/a(?i)"}).ok


def test_unescaped_quote_cannot_pass(vocabulary: Vocabulary) -> None:
    # What an unescaped path would produce: the string ends early and the rest is garbage.
    text = BASE + '(allow file-read* (subpath "/Users/a"b"))\n'
    assert not validate(text, vocabulary).ok


def test_ere_lint_accepts_what_nonoc_writes() -> None:
    for pattern in (
        "^/dev/ttys[0-9]+$",
        "^/a/[^/]*\\.json$",
        "^/a/[^/](/.*)?$",
        "^(/|/Users|/Users/a\\.b)$",
    ):
        assert ere_problems(pattern) == []


def test_parse_reads_raw_regex_strings() -> None:
    forms = parse('(version 1)\n(allow file-read* (regex #"^/a\\.b$"))\n')
    assert len(forms) == 2


def test_policies_are_macos_policies() -> None:
    assert all(isinstance(p, Policy) and p.target == "macos" for p in HAND_POLICIES.values())
