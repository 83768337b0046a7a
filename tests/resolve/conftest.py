"""Helpers for resolver tests: files in a scratch directory, policies from text."""

from __future__ import annotations

from pathlib import Path

import pytest

from nonoc import ir
from nonoc.errors import NonoError
from nonoc.resolve import Resolution, resolve


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run each test in its own directory, with a private HOME and config dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def write(name: str, text: str) -> Path:
    """Write ``text`` to ``name`` (relative to the test's directory)."""
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def resolution(
    text: str, target: ir.Target = "linux", profile: str | None = None, name: str = "p.nono"
) -> Resolution:
    """Resolve ``text`` written to ``name``."""
    write(name, text)
    return resolve(name, target, profile=profile)


def policy(
    text: str, target: ir.Target = "linux", profile: str | None = None, name: str = "p.nono"
) -> ir.Policy:
    """The policy of ``text``, asserting no warnings."""
    result = resolution(text, target, profile, name)
    assert [d.render() for d in result.diagnostics] == []
    return result.policy


def error(
    text: str, target: ir.Target = "linux", profile: str | None = None, name: str = "p.nono"
) -> NonoError:
    """The error resolving ``text`` raises."""
    with pytest.raises(NonoError) as info:
        resolution(text, target, profile, name)
    return info.value


def grants(p: ir.Policy) -> set[tuple[str, str, str, bool]]:
    """(path, kind, access, optional) of every grant, mandatory-group grants included."""
    return {(g.path, g.kind.value, a.value, g.optional) for g in p.grants for a in g.access}


def own_grants(p: ir.Policy) -> set[tuple[str, str, str]]:
    """(path, kind, access) of the grants not from the standard library."""
    return {
        (g.path, g.kind.value, a.value)
        for g in p.grants
        for a in g.access
        if not g.provenance.file.startswith("stdlib/")
    }


def semantics(p: ir.Policy) -> dict[str, object]:
    """The policy without provenance and source digests: what it *means*."""

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("provenance", "sources")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(p.model_dump(mode="json"))  # type: ignore[return-value]


DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def hermetic_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the small stdlib and profiles of tests/resolve/data instead of the shipped ones."""
    from nonoc.resolve import sources

    real = sources.data_dir

    def fake(folder: str) -> Path:
        if folder in ("stdlib", "profiles"):
            return DATA / folder
        return real(folder)

    monkeypatch.setattr(sources, "data_dir", fake)
