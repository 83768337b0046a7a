"""The write path is lean (``nono run`` opens a session on every start) and means the same.

``chain.canonical`` is written out without ``json``; it must give ``json.dumps``'s exact
bytes. ``session.redacted`` skips loading the redaction rules for plain command lines; it
must never return anything ``redact_argv`` would have changed. Opening and closing a
session imports none of the heavy modules.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nonoc.runtime.audit.chain import canonical
from nonoc.runtime.audit.ledger import utc_now
from nonoc.runtime.audit.redact import redact_argv
from nonoc.runtime.audit.session import redacted

ALPHABET = 'aZ09 _-=:/@?&."\\\n\té€😀\x00\x7f'


def value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(8 if depth < 3 else 6)
    if kind == 0:
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(12)))
    if kind == 1:
        return rng.randrange(-(10**20), 10**20)
    if kind == 2:
        return rng.choice([0.0, -0.0, 1.5, 1e300, -2.5e-8, 123456789.125, rng.random()])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return rng.randrange(100)
    if kind == 5:
        return ""
    if kind == 6:
        return [value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(rng.random()): value(rng, depth + 1) for _ in range(rng.randrange(4))}


@pytest.mark.parametrize("seed", range(40))
def test_canonical_is_json_dumps(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        data = {"k" + str(i): value(rng) for i in range(rng.randrange(6))}
        expected = json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
        assert canonical(data) == expected.encode()


def test_canonical_defers_to_json_for_the_rest() -> None:
    for bad in (float("nan"), float("inf"), {"x": {1, 2}}, object()):
        with pytest.raises((ValueError, TypeError)) as expected:
            json.dumps({"v": bad}, sort_keys=True, allow_nan=False)
        with pytest.raises(expected.type):
            canonical({"v": bad})
    assert canonical({1: "x"}) == b'{"1":"x"}'  # json turns the key into a string
    assert canonical((1, "a")) == b'[1,"a"]'


WORDS = [
    "claude", "/bin/true", "-p", "--token", "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "GITHUB_TOKEN=x", "Authorization: Bearer x", "https://u:pw@h/x", "AKIAABCDEFGHIJKLMNOP",
    "a" * 19, "0123456789abcdef0123456789abcdef", "fix the tests", "x?token=1", "-H",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(30))
def test_the_redaction_shortcut_never_changes_the_answer(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        argv = [rng.choice(WORDS) for _ in range(rng.randrange(5))]
        assert redacted(argv) == redact_argv(argv)


def test_utc_now_is_iso_8601_with_microseconds() -> None:
    from datetime import datetime

    stamp = utc_now()
    assert datetime.fromisoformat(stamp).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert len(stamp) == len("2025-01-01T00:00:00.000000+00:00")


def test_a_session_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from nonoc.runtime.audit.hook import AuditHook\n"
        "class L: argv=['claude']; session_id=None; bundle_digest='d'; pid=1\n"
        f"h = AuditHook(root={str(tmp_path)!r}); h.before_spawn(L()); h.after_spawn(L())\n"
        "h.after_exit(L(), 0)\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    heavy = {
        "json",
        "re",
        "typing",
        "pathlib",
        "hashlib",
        "dataclasses",
        "datetime",
        "platform",
        "secrets",
    }
    assert not heavy & set(result.stdout.split())
