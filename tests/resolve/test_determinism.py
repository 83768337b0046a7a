"""Two spellings of one policy resolve to the same rules; resolving is repeatable."""

from __future__ import annotations

from nonoc.resolve import load_policy
from tests.resolve.conftest import policy, semantics, write

SPELLING_A = """
profile p "P" {
  read "/usr", "~/project"
  write "$TMPDIR"
  deny "~/.ssh"
  exec "/usr/bin"
  network block
  port connect 443
  syscall ptrace, bpf deny
  env keep "A", "B"
}
"""

# Reordered, `~` vs `$HOME` vs `${HOME}`, trailing and doubled slashes, duplicates,
# `readwrite` split into `read` + `write`, one list written as two statements.
SPELLING_B = """
profile p "P" {
  env keep "B"
  syscall bpf deny
  port connect 443
  network block
  exec "/usr/bin/"
  deny "$HOME/.ssh/"
  deny "${HOME}/.ssh"
  write "$TMPDIR//"
  read "$HOME/project/."
  read "/usr"
  read "/usr/"
  env keep "A", "B"
  syscall ptrace deny
  port connect 443
}
"""


def test_two_spellings_mean_the_same_policy() -> None:
    a = policy(SPELLING_A, name="a.nono")
    b = policy(SPELLING_B, name="b.nono")
    assert semantics(a) == semantics(b)


def test_readwrite_equals_read_plus_write() -> None:
    a = policy('profile p { readwrite "/x" }', name="a.nono")
    b = policy('profile p { write "/x"\n read "/x" }', name="b.nono")
    c = policy('profile p { allow "/x" }', name="c.nono")
    assert semantics(a) == semantics(b) == semantics(c)


def test_same_layout_spellings_are_equal_but_for_the_digests() -> None:
    # Same statements at the same positions: provenance is identical too.
    a = policy('profile p {\n  read "~/x/"\n}\n', name="a.nono")
    b = policy('profile p {\n  read "$HOME/x"\n}\n', name="a.nono")
    assert a.model_copy(update={"sources": ()}) == b.model_copy(update={"sources": ()})
    assert a.sources != b.sources


def test_a_duplicate_keeps_the_first_provenance() -> None:
    p = policy('profile p {\n  read "/x"\n  read "/x/"\n}')
    (grant,) = [g for g in p.grants if g.path == "/x"]
    assert (grant.provenance.line, grant.provenance.column) == (2, 3)


def test_resolving_twice_gives_equal_policies() -> None:
    write("p.nono", SPELLING_B)
    assert load_policy("p.nono", "linux") == load_policy("p.nono", "linux")
    assert (
        load_policy("p.nono", "linux").model_dump_json()
        == load_policy("p.nono", "linux").model_dump_json()
    )


def test_rules_are_sorted_canonically() -> None:
    p = policy(SPELLING_B)
    keys = [(g.path, g.kind.value, sorted(a.value for a in g.access)) for g in p.grants]
    assert keys == sorted(keys)
    assert [d.path for d in p.denies] == sorted(d.path for d in p.denies)
    assert [s.names for s in p.syscalls] == sorted(s.names for s in p.syscalls)


def test_sources_hold_every_contributing_file_with_its_digest() -> None:
    import hashlib
    from pathlib import Path

    write("lib/g.nono", 'group g { read "/g" }')
    write("p.nono", 'import "lib/g.nono"\nprofile p { use g }')
    p = load_policy("p.nono", "linux")
    names = [name for name, _ in p.sources]
    assert names == sorted(names)
    assert {"p.nono", "lib/g.nono", "stdlib/basics.nono", "stdlib/creds.nono"} <= set(names)
    digests = dict(p.sources)
    assert digests["lib/g.nono"] == hashlib.sha256(Path("lib/g.nono").read_bytes()).hexdigest()
