"""The merge rules of `extends` and `use`: lists unite, deny wins, the child's scalars win."""

from __future__ import annotations

from nonoc import ir
from tests.resolve.conftest import error, own_grants, policy


def test_lists_unite_across_extends() -> None:
    p = policy(
        """
        profile parent { read "/p" port connect 1 env keep "P" }
        profile child extends parent { read "/c" port connect 2 env keep "C" }
        """,
        profile="child",
    )
    assert {g[0] for g in own_grants(p)} == {"/p", "/c"}
    assert [r.port for r in p.network.ports] == [1, 2]
    assert p.env.keep == ("C", "P")


def test_a_parents_deny_beats_a_childs_grant_inside_it() -> None:
    result_policy = policy(
        """
        profile parent { deny "/srv/secret" }
        profile child extends parent { read "/srv" }
        """,
        profile="child",
    )
    assert {d.path for d in result_policy.denies} >= {"/srv/secret"}
    assert ("/srv", "tree", "read") in own_grants(result_policy)


def test_a_childs_scalars_override_its_parents() -> None:
    p = policy(
        """
        profile parent { network block compat hard_requirement abi 2 deny_inside_allow refuse rollback on scope signal off env set "A" "parent" }
        profile child extends parent { network open compat best_effort abi 4 deny_inside_allow split rollback off scope signal on env set "A" "child" }
        """,
        profile="child",
    )
    assert p.network.mode is ir.NetworkMode.OPEN
    assert p.compat is ir.Compat.BEST_EFFORT
    assert p.min_abi == 4
    assert p.deny_strategy is ir.DenyStrategy.SPLIT
    assert p.rollback is False
    assert p.scopes.signal is True
    assert p.env.set == (("A", "child"),)


def test_unset_scalars_are_inherited() -> None:
    p = policy(
        "profile parent { network block abi 3 }\nprofile child extends parent { }", profile="child"
    )
    assert p.network.mode is ir.NetworkMode.BLOCKED and p.min_abi == 3


def test_a_later_parent_overrides_an_earlier_one() -> None:
    text = """
    profile a { network block }
    profile b { network open }
    profile ab extends a, b { }
    profile ba extends b, a { }
    """
    assert policy(text, profile="ab").network.mode is ir.NetworkMode.OPEN
    assert policy(text, profile="ba").network.mode is ir.NetworkMode.BLOCKED


def test_a_body_overrides_the_groups_it_uses() -> None:
    p = policy('group g { network block read "/g" }\nprofile p { use g network open }')
    assert p.network.mode is ir.NetworkMode.OPEN
    assert ("/g", "tree", "read") in own_grants(p)


def test_siblings_that_disagree_are_a_conflict() -> None:
    e = error("group a { network block }\ngroup b { network open }\nprofile p { use a, b }")
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:2:11"
    assert (
        "conflicting groups: 'network open' here, but 'network block' at p.nono:1:11"
        in e.diagnostic.message
    )


def test_two_statements_of_one_body_that_disagree_are_a_conflict() -> None:
    e = error("profile p {\n  network block\n  network open\n}")
    assert e.diagnostic.headline() == (
        "p.nono:3:3: error: conflicting settings: 'network open' here, but 'network block' at p.nono:2:3"
    )


def test_repeating_the_same_setting_is_fine() -> None:
    assert policy("profile p { network block network off }").network.mode is ir.NetworkMode.BLOCKED


def test_diamond_extends_contributes_once() -> None:
    p = policy(
        """
        profile root { read "/root" }
        profile left extends root { }
        profile right extends root { }
        profile both extends left, right { }
        """,
        profile="both",
    )
    assert [g.path for g in p.grants if g.path == "/root"] == ["/root"]


def test_ten_levels_of_extends_are_fine_eleven_are_not() -> None:
    levels = ['profile p0 { read "/0" }']
    levels += [f"profile p{i} extends p{i - 1} {{ }}" for i in range(1, 12)]
    text = "\n".join(levels)
    assert ("/0", "tree", "read") in own_grants(policy(text, profile="p10"))
    e = error(text, profile="p11")
    assert "extends chain deeper than 10: p11 -> p10 -> p9" in e.diagnostic.message
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:2:20"


def test_extends_cycle_prints_the_chain() -> None:
    e = error(
        "profile a extends b { }\nprofile b extends c { }\nprofile c extends a { }", profile="a"
    )
    assert e.diagnostic.message == "extends cycle: a -> b -> c -> a"
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:3:19"


def test_self_extends_is_a_cycle() -> None:
    assert error("profile a extends a { }").diagnostic.message == "extends cycle: a -> a"


def test_use_cycle_prints_the_chain() -> None:
    e = error("group a { use b }\ngroup b { use a }\nprofile p { use a }")
    assert e.diagnostic.message == "use cycle: a -> b -> a"
    assert e.diagnostic.span is not None and e.diagnostic.span.location() == "p.nono:2:15"


def test_extends_a_shipped_profile_by_name() -> None:
    p = policy('profile mine extends base { read "/mine" }')
    assert {"/srv/base", "/mine", "/usr"} <= {g.path for g in p.grants}
    assert p.network.mode is ir.NetworkMode.BLOCKED
    assert p.compat is ir.Compat.HARD_REQUIREMENT


def test_a_user_profile_shadows_a_shipped_one(workdir) -> None:  # type: ignore[no-untyped-def]
    import os
    from pathlib import Path

    user = Path(os.environ["XDG_CONFIG_HOME"]) / "nono" / "profiles"
    user.mkdir(parents=True)
    (user / "base.nono").write_text('profile base { read "/users/base" }')
    p = policy("profile mine extends base { }")
    assert "/users/base" in {g.path for g in p.grants}
    assert "/srv/base" not in {g.path for g in p.grants}


def test_a_mandatory_groups_settings_cannot_be_overridden() -> None:
    p = policy(
        """
        mandatory group lockdown { network block scope signal on }
        profile parent { network open }
        profile child extends parent { network proxy scope signal off }
        """,
        profile="child",
    )
    assert p.network.mode is ir.NetworkMode.BLOCKED
    assert p.scopes.signal is True
    assert p.network.provenance is not None and p.network.provenance.line == 2
