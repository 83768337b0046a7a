"""Where names come from: the file, its imports, the stdlib, the profile folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nonoc.errors import NonoError
from nonoc.resolve import find_profile, load_policy, load_policy_text, resolve
from tests.resolve.conftest import DATA, own_grants, policy, write


def test_stdlib_groups_need_no_import() -> None:
    p = policy("profile p { use deny_credentials }")
    assert {"$HOME/.ssh", "$HOME/.netrc"} <= {d.path for d in p.denies}


@pytest.mark.parametrize(
    "spelling", ['import stdlib "creds"', 'import "stdlib:creds"', 'import stdlib "creds.nono"']
)
def test_stdlib_import_spellings(spelling: str) -> None:
    p = policy(f"{spelling}\nprofile p {{ use deny_credentials }}")
    assert "$HOME/.ssh" in {d.path for d in p.denies}


def test_relative_imports_follow_the_importing_file() -> None:
    write("a/lib/x.nono", 'group gx { read "/x" }')
    write("a/lib/y.nono", 'import "x.nono"\ngroup gy { use gx }')
    write("a/p.nono", 'import "lib/y.nono"\nprofile p { use gy }')
    p = load_policy("a/p.nono", "linux")
    (grant,) = [g for g in p.grants if g.path == "/x"]
    assert grant.provenance.file == "a/lib/x.nono"


def test_imports_are_not_transitive() -> None:
    write("x.nono", "group gx { }")
    write("y.nono", 'import "x.nono"\ngroup gy { }')
    write("p.nono", 'import "y.nono"\nprofile p { use gx }')
    with pytest.raises(NonoError, match="unknown group 'gx'"):
        load_policy("p.nono", "linux")


def test_import_cycles_are_harmless() -> None:
    write("x.nono", 'import "p.nono"\ngroup gx { read "/x" }')
    write("p.nono", 'import "x.nono"\nprofile p { use gx }')
    assert ("/x", "tree", "read") in own_grants(load_policy("p.nono", "linux"))


def test_a_local_group_shadows_the_stdlib() -> None:
    p = policy('group tools { read "/mine" }\nprofile p { use tools }')
    assert {g.path for g in p.grants} == {"/mine"}


def test_absolute_import() -> None:
    lib = write("elsewhere/lib.nono", 'group g { read "/abs" }').resolve()
    p = policy(f'import "{lib}"\nprofile p {{ use g }}')
    assert [g.provenance.file for g in p.grants if g.path == "/abs"] == [str(lib)]


def test_find_profile_order(workdir: Path) -> None:
    assert find_profile("base") == DATA / "profiles" / "base.nono"
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "nono" / "profiles"
    user.mkdir(parents=True)
    (user / "base.nono").write_text("profile base { }")
    assert find_profile("base") == user / "base.nono"
    write("mine.nono", "profile mine { }")
    assert find_profile("mine.nono") == Path("mine.nono")
    assert find_profile("./mine.nono") == Path("./mine.nono")


def test_find_profile_missing_path() -> None:
    with pytest.raises(NonoError, match=r"no such policy file: nope\.nono"):
        find_profile("nope.nono")


def test_load_policy_by_profile_name() -> None:
    p = load_policy("base", "linux")
    assert p.name == "base" and p.description == "A shipped base profile"
    assert "profiles/base.nono" in dict(p.sources)


def test_load_policy_text() -> None:
    write("lib.nono", 'group g { read "/lib" }')
    p = load_policy_text('import "lib.nono"\nprofile t { use g }', "t.nono", "macos")
    assert p.target == "macos"
    assert [g.provenance.file for g in p.grants if g.path == "/lib"] == ["lib.nono"]
    assert "t.nono" in dict(p.sources)


def test_resolve_returns_warnings() -> None:
    write("p.nono", 'profile p { deny "/a" read "/a/b" }')
    result = resolve("p.nono", "linux")
    assert [d.severity for d in result.diagnostics] == ["warning"]
    assert result.policy.name == "p"


def test_unknown_target() -> None:
    write("p.nono", "profile p { }")
    with pytest.raises(NonoError, match="unknown target 'linx'"):
        resolve("p.nono", "linx")  # type: ignore[arg-type]


def test_a_profile_file_that_does_not_define_its_name() -> None:
    write("p.nono", "profile p extends other { }")
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "nono" / "profiles"
    user.mkdir(parents=True)
    (user / "other.nono").write_text("profile another { }")
    with pytest.raises(NonoError, match="does not define profile 'other'"):
        load_policy("p.nono", "linux")
