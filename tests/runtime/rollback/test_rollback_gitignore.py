"""The .gitignore matcher against git's documented semantics."""

from __future__ import annotations

import pytest

from nonoc.runtime.rollback import gitignore


def ignored(text: str, path: str, is_dir: bool = False) -> bool:
    return gitignore.is_ignored((gitignore.parse(text),), path, is_dir)


@pytest.mark.parametrize(
    ("pattern", "path", "is_dir", "expected"),
    [
        # a name without a slash matches at any depth
        ("*.log", "a.log", False, True),
        ("*.log", "deep/er/a.log", False, True),
        ("*.log", "a.log.txt", False, False),
        ("foo", "x/foo", True, True),
        # a slash anchors to the .gitignore's directory
        ("/foo", "foo", False, True),
        ("/foo", "x/foo", False, False),
        ("doc/frotz", "doc/frotz", False, True),
        ("doc/frotz", "a/doc/frotz", False, False),
        # trailing slash: directories only
        ("build/", "build", True, True),
        ("build/", "build", False, False),
        ("build/", "src/build", True, True),
        # * and ? never match a slash
        ("doc/*.txt", "doc/a.txt", False, True),
        ("doc/*.txt", "doc/sub/a.txt", False, False),
        ("a?c", "abc", False, True),
        ("a?c", "a/c", False, False),
        # ** forms
        ("**/foo", "foo", False, True),
        ("**/foo", "a/b/foo", False, True),
        ("**/foo/bar", "x/foo/bar", False, True),
        ("abc/**", "abc/x", False, True),
        ("abc/**", "abc/x/y", False, True),
        ("abc/**", "abc", True, False),
        ("a/**/b", "a/b", False, True),
        ("a/**/b", "a/x/y/b", False, True),
        ("a/**/b", "a/xb", False, False),
        ("a**b", "axxb", False, True),  # not a ** component: ordinary stars
        # character classes
        ("[abc].txt", "b.txt", False, True),
        ("[abc].txt", "d.txt", False, False),
        ("[!abc].txt", "d.txt", False, True),
        ("[a-c]x", "bx", False, True),
        ("[a-c]x", "dx", False, False),
        # escapes and spaces
        ("\\#hash", "#hash", False, True),
        ("\\!bang", "!bang", False, True),
        ("trail   ", "trail", False, True),
        ("space\\ ", "space ", False, True),
        ("# comment", "# comment", False, False),
    ],
)
def test_pattern(pattern: str, path: str, is_dir: bool, expected: bool) -> None:
    assert ignored(pattern, path, is_dir) is expected


def test_last_match_wins_and_negation() -> None:
    text = "*.log\n!keep.log\n"
    assert ignored(text, "a.log")
    assert not ignored(text, "keep.log")
    assert ignored("!keep.log\n*.log\n", "keep.log")


def test_deeper_file_overrides_shallower() -> None:
    top = gitignore.parse("*.tmp\n", "")
    sub = gitignore.parse("!important.tmp\n", "sub")
    assert gitignore.is_ignored((top, sub), "sub/x.tmp", False)
    assert not gitignore.is_ignored((top, sub), "sub/important.tmp", False)
    assert gitignore.is_ignored((top,), "important.tmp", False)


def test_nested_file_patterns_are_relative_to_its_directory() -> None:
    sub = gitignore.parse("/only-here\nlocal/*.o\n", "sub")
    assert gitignore.is_ignored((sub,), "sub/only-here", False)
    assert gitignore.is_ignored((sub,), "sub/local/a.o", False)
    assert not gitignore.is_ignored((sub,), "sub/deeper/only-here", False)


def test_unclosed_bracket_is_literal() -> None:
    assert ignored("a[b", "a[b")


def test_pattern_list_may_match_below() -> None:
    includes = gitignore.PatternList(["node_modules/keep/", "*.lock"])
    assert includes.may_match_below("node_modules")
    assert not includes.may_match_below("target")
    assert includes.matches("node_modules/keep", True)
