"""Folding accesses into directory rules under $CWD, $HOME, XDG, $TMPDIR and /."""

from __future__ import annotations

from nonoc.learn.fold import Item, Rule, fold, normalize_proc, place, roots_for, simplify, verbs

VALUES = {
    "HOME": "/home/u",
    "CWD": "/home/u/src/app",
    "TMPDIR": "/var/tmp/u",
    "XDG_CACHE_HOME": "/home/u/.cache",
    "XDG_CONFIG_HOME": "/home/u/.config",
    "XDG_DATA_HOME": "/home/u/.local/share",
    "XDG_STATE_HOME": "/home/u/.local/state",
    "UID": "1000",
}
ROOTS = roots_for(VALUES)


def rules(*items: Item) -> list[tuple[str, bool, str]]:
    folded, _ = fold(items, ROOTS)
    return [(r.template, r.file, "+".join(sorted(r.modes))) for r in folded]


def test_places_a_path_under_its_deepest_root() -> None:
    assert place("/home/u/src/app/a.py", ROOTS)[0].template == "$CWD"
    assert place("/home/u/.cache/pip/x", ROOTS)[0].template == "$XDG_CACHE_HOME"
    assert place("/home/u/.local/share/x", ROOTS)[0].template == "$XDG_DATA_HOME"
    assert place("/home/u/.local/bin/tool", ROOTS)[0].template == "$HOME/.local"
    assert place("/home/u/.gitconfig", ROOTS)[0].template == "$HOME"
    assert place("/var/tmp/u/x", ROOTS)[0].template == "$TMPDIR"
    root, below = place("/opt/tool/bin/x", ROOTS)
    assert (root.template, below) == ("", ("opt", "tool", "bin", "x"))


def test_files_in_the_working_directory_fold_to_their_common_directory() -> None:
    assert rules(
        Item("/home/u/src/app/data/a.csv", "read"),
        Item("/home/u/src/app/data/raw/b.csv", "read"),
    ) == [("$CWD/data", False, "read")]
    assert rules(
        Item("/home/u/src/app/data/a.csv", "read"),
        Item("/home/u/src/app/src/main.py", "read"),
    ) == [("$CWD", False, "read")]


def test_read_and_write_of_one_directory_become_one_allow() -> None:
    assert rules(
        Item("/home/u/src/app/out/a", "read"),
        Item("/home/u/src/app/out/b", "write"),
    ) == [("$CWD/out", False, "read+write")]
    assert verbs(frozenset({"read", "write"})) == ["allow"]
    assert verbs(frozenset({"read", "exec"})) == ["read", "exec"]
    assert verbs(frozenset({"write"})) == ["write"]


def test_home_is_never_granted_whole_a_file_directly_in_it_gets_its_own_rule() -> None:
    assert rules(
        Item("/home/u/.gitconfig", "read"),
        Item("/home/u/.npm/_cacache/a", "read"),
        Item("/home/u/.npm/_logs/b", "write"),
        Item("/home/u/.cargo/bin/rg", "exec"),
    ) == [
        ("$HOME/.cargo/bin", False, "exec"),
        ("$HOME/.gitconfig", True, "read"),
        ("$HOME/.npm/_cacache", False, "read"),
        ("$HOME/.npm/_logs", False, "write"),
    ]


def test_xdg_directories_and_absolute_paths_keep_one_level_and_two_levels() -> None:
    assert rules(
        Item("/home/u/.cache/pip/http/a", "write"),
        Item("/home/u/.cache/uv/b", "write"),
        Item("/opt/tool/lib/x.so", "read"),
        Item("/opt/tool/share/y", "read"),
        Item("/opt/other/z", "read"),
        Item("/etc/hostname", "read"),
    ) == [
        ("$XDG_CACHE_HOME/pip/http", False, "write"),
        ("$XDG_CACHE_HOME/uv", False, "write"),
        ("/etc/hostname", True, "read"),
        ("/opt/other", False, "read"),
        ("/opt/tool", False, "read"),
    ]


def test_listing_a_directory_above_the_floor_is_reported_not_granted() -> None:
    folded, broad = fold(
        [Item("/opt", "read", directory=True), Item("/home/u/src/app", "read", directory=True)],
        ROOTS,
    )
    assert [(r.template, r.file) for r in folded] == [("$CWD", False)]
    assert broad == [Item("/opt", "read", directory=True)]


def test_creating_entries_needs_the_directory_itself() -> None:
    assert rules(Item("/home/u/src/app", "write", directory=True)) == [("$CWD", False, "write")]


def test_a_broader_rule_absorbs_narrower_ones() -> None:
    kept = simplify(
        [
            Rule("$CWD", "/w", False, frozenset({"read"})),
            Rule("$CWD/out", "/w/out", False, frozenset({"read", "write"})),
            Rule("$CWD/notes.txt", "/w/notes.txt", True, frozenset({"read"})),
        ]
    )
    assert [(r.template, sorted(r.modes)) for r in kept] == [
        ("$CWD", ["read"]),
        ("$CWD/out", ["write"]),
    ]


def test_proc_of_a_traced_process_is_proc_self() -> None:
    assert normalize_proc("/proc/42/maps", {42}) == "/proc/self/maps"
    assert normalize_proc("/proc/42", {42}) == "/proc/self"
    assert normalize_proc("/proc/7/maps", {42}) == "/proc/7/maps"
    assert normalize_proc("/proc/cpuinfo", {42}) == "/proc/cpuinfo"


def test_roots_follow_symlinks_and_skip_unset_variables(tmp_path: object) -> None:
    roots = roots_for({"HOME": "/home/u", "CWD": "/"})
    assert [r.template for r in roots] == ["$HOME/.local", "$HOME", ""]


def test_names_the_language_cannot_hold_fold_to_their_directory() -> None:
    assert rules(
        Item("/home/u/src/app/target/classes/Foo$Bar.class", "read"),
        Item("/home/u/src/app/target/classes/Foo.class", "read"),
    ) == [("$CWD/target/classes", False, "read")]
    assert rules(Item("/home/u/.pay$/x", "read")) == []  # $HOME itself would be too broad
    assert rules(Item("/etc/a$b", "read")) == []
