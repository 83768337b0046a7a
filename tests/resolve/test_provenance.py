"""Every rule knows its file:line:col and the chain that brought it in."""

from __future__ import annotations

from nonoc import ir
from nonoc.resolve import load_policy
from tests.resolve.conftest import write


def link(kind: str, name: str, file: str, line: int) -> ir.ChainLink:
    return ir.ChainLink(kind=kind, name=name, file=file, line=line)  # type: ignore[arg-type]


def test_two_levels_of_extends_and_a_group() -> None:
    write(
        "lib/groups.nono",
        '# groups\ngroup inner "innermost" {\n  read "/srv/inner"\n}\n',
    )
    write(
        "lib/grand.nono",
        'import "groups.nono"\n\nprofile grand {\n  use inner\n  deny "/srv/grand-deny"\n}\n',
    )
    write(
        "parent.nono",
        'import "lib/grand.nono"\nprofile parent extends grand {\n  write "/srv/parent"\n}\n',
    )
    write(
        "child.nono",
        'import "parent.nono"\n\n\nprofile child extends parent {\n    exec "/srv/child"\n}\n',
    )
    p = load_policy("child.nono", "linux")
    by_path = {g.path: g.provenance for g in p.grants}
    child = link("profile", "child", "child.nono", 4)
    parent = link("extends", "parent", "parent.nono", 2)
    grand = link("extends", "grand", "lib/grand.nono", 3)

    assert by_path["/srv/child"] == ir.Provenance(
        file="child.nono", line=5, column=5, chain=(child,)
    )
    assert by_path["/srv/parent"] == ir.Provenance(
        file="parent.nono", line=3, column=3, chain=(child, parent)
    )
    assert by_path["/srv/inner"] == ir.Provenance(
        file="lib/groups.nono",
        line=3,
        column=3,
        chain=(child, parent, grand, link("group", "inner", "lib/groups.nono", 2)),
    )
    (deny,) = [d for d in p.denies if d.path == "/srv/grand-deny"]
    assert deny.provenance == ir.Provenance(
        file="lib/grand.nono", line=5, column=3, chain=(child, parent, grand)
    )
    assert deny.provenance.location() == "lib/grand.nono:5:3"


def test_stdlib_and_shipped_profiles_have_stable_names() -> None:
    write("p.nono", "profile p extends base { use nested }")
    p = load_policy("p.nono", "linux")
    files = {g.provenance.file for g in p.grants}
    assert files == {"stdlib/basics.nono", "profiles/base.nono"}
    (nested,) = [g for g in p.grants if g.path == "/opt/nested"]
    assert [c.kind for c in nested.provenance.chain] == ["profile", "group"]
    assert nested.provenance.chain[1] == link("group", "nested", "stdlib/basics.nono", 8)
    (tools,) = [g for g in p.grants if g.path == "/usr/bin"]
    # Reached twice (base -> tools, nested -> tools): the provenance that sorts first is kept.
    assert tools.provenance.file == "stdlib/basics.nono"


def test_mandatory_group_provenance() -> None:
    write("p.nono", "profile p { }")
    p = load_policy("p.nono", "linux")
    (deny,) = p.denies
    assert deny.provenance.chain == (
        link("profile", "p", "p.nono", 1),
        link("group", "hardening", "stdlib/basics.nono", 13),
    )


def test_user_files_keep_the_path_as_given(workdir) -> None:  # type: ignore[no-untyped-def]
    write("deep/p.nono", 'profile p { read "/x" }')
    relative = load_policy("deep/p.nono", "linux")
    absolute = load_policy(str(workdir / "deep/p.nono"), "linux")
    assert [g.provenance.file for g in relative.grants if g.path == "/x"] == ["deep/p.nono"]
    assert [g.provenance.file for g in absolute.grants if g.path == "/x"] == [
        str(workdir / "deep/p.nono")
    ]


def test_network_provenance_is_the_winning_setting() -> None:
    write(
        "p.nono", "profile parent { network block }\nprofile p extends parent {\n  network open\n}"
    )
    p = load_policy("p.nono", "linux", profile="p")
    assert p.network.provenance is not None and p.network.provenance.location() == "p.nono:3:3"
