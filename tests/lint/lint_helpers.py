"""Helpers for the ``nonoc check`` tests: a private HOME, a tiny stdlib, files in a scratch dir.

The shipped standard library changes as it grows; these tests use ``data/stdlib`` instead
(one mandatory deny of ``~/.ssh`` and two groups), so that what they expect does not.
Test modules elsewhere (``tests/cli``) import the ``hermetic`` fixture from here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nonoc.lint import Finding, Report, check_files

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a scratch directory, with a private HOME and the test standard library."""
    from nonoc.resources import data_dir as real

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    def data_dir(folder: str) -> Path:
        return DATA / folder if folder in ("stdlib", "profiles") else real(folder)

    monkeypatch.setattr("nonoc.resolve.sources.data_dir", data_dir)
    return work


def write(name: str, text: str) -> str:
    """Write ``text`` to ``name`` (relative to the scratch directory); return the name."""
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return name


def check(*files: str, disabled: tuple[str, ...] = ()) -> Report:
    """``nonoc check`` of ``files``."""
    return check_files(list(files), disabled=disabled)


def found(report: Report, rule: str) -> list[Finding]:
    """The findings of one rule."""
    return [f for f in report.findings if f.rule == rule]


def where(finding: Finding) -> tuple[str, int, int]:
    """``(file, line, column)`` of a finding."""
    span = finding.span
    assert span is not None
    return (span.file, span.line, span.column)
