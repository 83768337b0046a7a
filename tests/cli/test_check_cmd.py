"""``nonoc check`` on the command line: exit codes, --strict, --disable, text, JSON and SARIF."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nonoc.cli.nonoc import main
from tests.lint.lint_helpers import hermetic, write  # noqa: F401

CLEAN = 'profile clean {\n  use programs\n  read "$CWD"\n}\n'
WARNS = 'profile wide {\n  write "~"\n}\n'
BROKEN = "profile broken {\n  use nothing_here\n}\n"
ASSERTS = (
    'group tools {\n  write "~/.config/tool"\n}\n'
    'profile p {\n  use tools\n  assert never write "~/.config"\n}\n'
)


def nonoc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- exit codes


def test_clean_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    write("clean.nono", CLEAN)
    code, out, err = nonoc(capsys)
    assert (code, out) == (0, "")
    assert err == "0 errors, 0 warnings in 1 file\n"


def test_warnings_exit_0_and_strict_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    write("wide.nono", WARNS)
    code, out, _ = nonoc(capsys, "wide.nono")
    assert code == 0 and ": warning: " in out
    code, out, err = nonoc(capsys, "--strict", "wide.nono")
    assert code == 1 and ": error: " in out and ": warning: " not in out
    assert err.startswith("2 errors, 0 warnings")  # broad-grant, unenforceable-deny


def test_errors_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    write("broken.nono", BROKEN)
    code, out, _ = nonoc(capsys, "broken.nono")
    assert code == 1
    assert out.startswith("broken.nono:2:7: error: unknown group 'nothing_here'")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.nono"], "no such file or directory: missing.nono"),
        (["--disable", "no-such-rule"], "unknown rule 'no-such-rule'"),
        (["--disable", "assertion-failed"], "cannot be disabled"),
        (["--format", "xml"], None),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str | None
) -> None:
    write("clean.nono", CLEAN)
    try:
        code, _, err = nonoc(capsys, *argv)
    except SystemExit as exc:  # argparse's own refusals
        code, err = int(exc.code or 0), capsys.readouterr().err
    assert code == 2
    if message:
        assert message in err


def test_empty_directory_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = nonoc(capsys)
    assert code == 2 and "no .nono files" in err


def test_disable_keeps_a_warning_out(capsys: pytest.CaptureFixture[str]) -> None:
    write("wide.nono", WARNS)
    code, out, _ = nonoc(capsys, "--strict", "--disable", "broad-grant,unenforceable-deny")
    assert (code, out) == (0, "")


# --------------------------------------------------------------------------- text


def test_text_is_file_line_col_severity_message_and_caret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    write("wide.nono", WARNS)
    _, out, _ = nonoc(capsys, "--disable", "unenforceable-deny")
    assert out.splitlines() == [
        (
            "wide.nono:2:9: warning: write access to $HOME covers the whole home directory "
            "(shell startup files, credentials, every project) [broad-grant]"
        ),
        '      write "~"',
        "            ^~~",
        "  note: grant the directories the agent works in instead, and nothing above them",
    ]


def test_text_of_a_failed_assertion_shows_both_lines(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.nono", ASSERTS)
    code, out, _ = nonoc(capsys, "--disable", "missing-path")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("a.nono:6:3: error: assertion failed: never write $HOME/.config")
    assert lines[1] == '      assert never write "~/.config"'
    assert "a.nono:2:3: note: the rule the error above names" in lines
    assert '      write "~/.config/tool"' in lines


# --------------------------------------------------------------------------- JSON


def test_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.nono", ASSERTS)
    write("wide.nono", WARNS)
    code, out, err = nonoc(capsys, "--format", "json", "--disable", "missing-path")
    assert code == 1 and err == ""
    document = json.loads(out)
    assert set(document) == {"version", "files", "summary", "findings"}
    assert document["version"] == 1
    assert document["files"] == ["a.nono", "wide.nono"]
    assert document["summary"] == {"errors": 1, "warnings": 2, "notes": 0}
    keys = {
        "rule",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_column",
        "notes",
        "targets",
        "related",
    }
    assert all(set(f) == keys for f in document["findings"])
    (assertion,) = [f for f in document["findings"] if f["rule"] == "assertion-failed"]
    assert (assertion["file"], assertion["line"], assertion["column"]) == ("a.nono", 6, 3)
    assert assertion["related"] == [{"file": "a.nono", "line": 2, "column": 3}]
    assert assertion["targets"] == ["linux", "macos"]


def test_output_file_is_written(capsys: pytest.CaptureFixture[str]) -> None:
    write("wide.nono", WARNS)
    code, out, err = nonoc(capsys, "--format", "json", "-o", "report.json")
    assert code == 0 and out == "" and "1 file" in err
    assert json.loads(Path("report.json").read_text())["summary"]["warnings"] == 2


# --------------------------------------------------------------------------- SARIF

#: The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json) that nonoc's output uses:
#: types, required properties, enumerations and minimums, and no property outside them.
_MESSAGE = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
_REGION = {
    "type": "object",
    "properties": {
        "startLine": {"type": "integer", "minimum": 1},
        "startColumn": {"type": "integer", "minimum": 1},
        "endColumn": {"type": "integer", "minimum": 1},
    },
}
_PHYSICAL = {
    "type": "object",
    "required": ["artifactLocation"],
    "properties": {
        "artifactLocation": {
            "type": "object",
            "required": ["uri"],
            "properties": {"uri": {"type": "string"}, "uriBaseId": {"type": "string"}},
        },
        "region": _REGION,
    },
}
_LOCATION = {
    "type": "object",
    "properties": {"id": {"type": "integer", "minimum": -1}, "physicalLocation": _PHYSICAL},
}
_LEVEL = {"type": "string", "enum": ["none", "note", "warning", "error"]}
SARIF_SUBSET: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string"},
        "version": {"type": "string", "enum": ["2.1.0"]},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool"],
                "properties": {
                    "columnKind": {
                        "type": "string",
                        "enum": ["utf16CodeUnits", "unicodeCodePoints"],
                    },
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "version": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "name": {"type": "string"},
                                                "shortDescription": _MESSAGE,
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "properties": {"level": _LEVEL},
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": -1},
                                "level": _LEVEL,
                                "message": _MESSAGE,
                                "locations": {"type": "array", "items": _LOCATION},
                                "relatedLocations": {"type": "array", "items": _LOCATION},
                            },
                        },
                    },
                },
            },
        },
    },
}
_TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "integer": int}


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Errors of ``value`` against the schema subset above (no library: none is installed)."""
    errors: list[str] = []
    kind: Any = _TYPES[schema["type"]]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        return [f"{path}: expected {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:
        errors.append(f"{path}: {value} < {schema['minimum']}")
    if kind is dict:
        errors += [
            f"{path}: missing {key}" for key in schema.get("required", []) if key not in value
        ]
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key not in properties:
                errors.append(f"{path}: unexpected property {key}")
            else:
                errors += validate(item, properties[key], f"{path}.{key}")
    if kind is list:
        for index, item in enumerate(value):
            errors += validate(item, schema["items"], f"{path}[{index}]")
    return errors


def test_the_validator_catches_what_it_should() -> None:
    assert validate({"version": "2.1.0"}, SARIF_SUBSET) == ["$: missing runs"]
    bad = {"version": "2.0", "runs": [{"tool": {"driver": {}}, "results": [{"level": "fatal"}]}]}
    assert validate(bad, SARIF_SUBSET) == [
        "$.version: '2.0' not in ['2.1.0']",
        "$.runs[0].tool.driver: missing name",
        "$.runs[0].results[0]: missing message",
        "$.runs[0].results[0].level: 'fatal' not in ['none', 'note', 'warning', 'error']",
    ]


def test_sarif_matches_the_2_1_0_structure(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.nono", ASSERTS)
    write("wide.nono", WARNS)
    write("syn.nono", "profile x {\n  raed\n}\n")
    code, out, _ = nonoc(capsys, "--format", "sarif")
    assert code == 1
    log = json.loads(out)
    assert validate(log, SARIF_SUBSET) == []
    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rules == sorted(rules) and "broad-grant" in rules and "assertion-failed" in rules
    results = run["results"]
    for result in results:
        assert rules[result["ruleIndex"]] == result["ruleId"]
    by_rule = {r["ruleId"]: r for r in results}
    syntax = by_rule["syntax-error"]
    assert syntax["level"] == "error"
    assert syntax["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "syn.nono", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 2, "startColumn": 3, "endColumn": 7},
    }
    assertion = by_rule["assertion-failed"]
    assert assertion["relatedLocations"][0]["physicalLocation"]["region"] == {
        "startLine": 2,
        "startColumn": 3,
    }
    assert by_rule["broad-grant"]["level"] == "warning"


def test_sarif_of_a_clean_run_has_no_results(capsys: pytest.CaptureFixture[str]) -> None:
    write("clean.nono", CLEAN)
    code, out, _ = nonoc(capsys, "--format", "sarif")
    log = json.loads(out)
    assert code == 0 and validate(log, SARIF_SUBSET) == [] and log["runs"][0]["results"] == []


def test_strict_sarif_levels_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    write("wide.nono", WARNS)
    code, out, _ = nonoc(capsys, "--format", "sarif", "--strict")
    levels = {r["level"] for r in json.loads(out)["runs"][0]["results"]}
    assert code == 1 and levels == {"error"}


def test_text_headlines_all_match_the_shape(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.nono", ASSERTS)
    write("wide.nono", WARNS)
    _, out, _ = nonoc(capsys)
    headline = re.compile(r"^[\w./-]+\.nono:\d+:\d+: (error|warning|note): .+ \[[a-z-]+\]$")
    heads = [line for line in out.splitlines() if not line.startswith(" ")]
    assert heads and all(
        headline.match(h) or ": note: the rule the error above names" in h for h in heads
    )
