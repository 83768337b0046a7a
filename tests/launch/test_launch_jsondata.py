"""The launcher's JSON reader agrees with ``json`` and refuses what ``json`` refuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nonoc.launch.jsondata import loads

DOCUMENTS = [
    '{"a": [1, 2.5, -3, true, false, null], "b": {"c": "d\\u00e9\\n"}}',
    "  [ ]  ",
    '"just a string"',
    "0",
    '{"nested": [[[{"x": 1e3}]]]}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_agrees_with_json(text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "text", ["", "{", '{"a": 1} x', "[1,]", "NaN", '{"a": Infinity}', "{'a': 1}"]
)
def test_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(ValueError):
        loads(text)


def test_does_not_import_json_or_re() -> None:
    code = "import sys; from nonoc.launch.jsondata import loads; loads('[1]'); print('json' in sys.modules, 're' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False", "False"]
