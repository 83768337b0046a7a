"""The front end's parse cache: one parse per distinct file content, in memory only."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from nonoc.errors import NonoError
from nonoc.resolve import parsed, resolve
from nonoc.syntax import parser
from tests.resolve.conftest import write


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times the parser ran, by display name (starting from an empty cache)."""
    parsed.clear()
    counts: Counter[str] = Counter()

    def counting(text: str, filename: str):  # type: ignore[no-untyped-def]
        counts[filename] += 1
        return parser.parse(text, filename)

    monkeypatch.setattr(parsed, "parse", counting)
    return counts


def test_an_unchanged_file_is_parsed_once(parses: Counter[str]) -> None:
    write("p.nono", 'profile p {\n  read "/aa"\n}\n')
    first = resolve("p.nono", "linux")
    second = resolve("p.nono", "macos")
    assert parses["p.nono"] == 1
    stdlib = [name for name in parses if name.startswith("stdlib/")]
    assert stdlib and all(parses[name] == 1 for name in stdlib)  # the standard library too
    assert first.policy.sources == second.policy.sources


def test_an_edit_is_seen_even_with_the_same_size_and_mtime(parses: Counter[str]) -> None:
    path = write("p.nono", 'profile p {\n  read "/aa"\n}\n')
    before = os.stat(path)
    assert any(g.path == "/aa" for g in resolve("p.nono", "linux").policy.grants)
    path.write_text('profile p {\n  read "/bb"\n}\n', encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    grants = {g.path for g in resolve("p.nono", "linux").policy.grants}
    assert "/bb" in grants and "/aa" not in grants
    assert parses["p.nono"] == 2


def test_the_same_text_under_another_name_keeps_its_own_positions(parses: Counter[str]) -> None:
    text = 'profile p {\n  read "/aa"\n}\n'
    write("a.nono", text)
    write("b.nono", text)
    a = resolve("a.nono", "linux").policy
    b = resolve("b.nono", "linux").policy
    assert {g.provenance.file for g in a.grants if g.path == "/aa"} == {"a.nono"}
    assert {g.provenance.file for g in b.grants if g.path == "/aa"} == {"b.nono"}


def test_the_same_name_at_another_place_is_another_file(
    parses: Counter[str], tmp_path: Path
) -> None:
    # load_text names a file that may not exist: its key is still the resolved path.
    one = parsed.parse_file("profile p {}\n", "p.nono", str(tmp_path / "one" / "p.nono"))
    two = parsed.parse_file("profile p {}\n", "p.nono", str(tmp_path / "two" / "p.nono"))
    assert one == two and parses["p.nono"] == 2


def test_a_syntax_error_is_reported_every_time(parses: Counter[str]) -> None:
    write("bad.nono", "profile p {\n  raed\n}\n")
    for _ in range(2):
        with pytest.raises(NonoError, match="unknown statement 'raed'"):
            resolve("bad.nono", "linux")
    assert parses["bad.nono"] == 2


def test_the_cache_is_bounded(parses: Counter[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsed, "LIMIT", 2)
    for name in ("a", "b", "c"):
        parsed.parse_file(f"profile {name} {{}}\n", f"{name}.nono", f"/x/{name}.nono")
    parsed.parse_file("profile b {}\n", "b.nono", "/x/b.nono")
    parsed.parse_file("profile a {}\n", "a.nono", "/x/a.nono")
    assert parses == Counter({"a.nono": 2, "b.nono": 1, "c.nono": 1})


def test_nothing_is_written_to_disk(parses: Counter[str]) -> None:
    write("p.nono", 'profile p {\n  read "/aa"\n}\n')
    resolve("p.nono", "linux")
    home = Path(os.environ["HOME"])
    assert [p for p in home.rglob("*") if p.is_file()] == []
