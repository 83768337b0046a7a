"""How ``nonoc check`` prints a report: text for people, JSON for tools, SARIF for code scanning.

Text is ``file:line:col: severity: message [rule]`` followed by the source line and a
caret, the compiler's own diagnostic shape. JSON is this module's own stable shape
(``version`` 1). SARIF follows the 2.1.0 standard: one run whose ``tool.driver.rules``
lists every rule id, and one result per finding with ``ruleId``, ``level``, ``message``
and a physical location (``artifactLocation.uri`` and ``region`` with 1-based line and
column); positions a finding names besides its own (the grant an assertion trips on)
become ``relatedLocations``.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from nonoc import __version__
from nonoc.errors import Span
from nonoc.lint.findings import RULES, Finding
from nonoc.lint.run import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "note": "note"}


def _targets_suffix(item: Finding) -> str:
    return f" ({', '.join(sorted(item.targets))})" if len(item.targets) == 1 else ""


def text(report: Report) -> str:
    """Each finding rendered with its caret and notes, one blank line between findings."""
    blocks = []
    for item in report.findings:
        message = f"{item.diagnostic.message}{_targets_suffix(item)} [{item.rule}]"
        # An error that names another rule (the grant an assertion trips on, the deny a
        # grant equals) shows that rule's line too: both are what the user must see. A
        # warning's notes name them already; JSON and SARIF carry them for every finding.
        related = item.related if item.severity == "error" else ()
        blocks.append(replace(item.diagnostic, message=message, related=related).render())
    return "\n".join(blocks) + ("\n" if blocks else "")


def summary(report: Report) -> str:
    """``2 errors, 1 warning in 3 files``."""
    errors, warnings = report.count("error"), report.count("warning")
    files = len(report.files)
    return (
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
        f"in {files} file{'s' * (files != 1)}"
    )


def to_json(report: Report) -> str:
    """The report as JSON (sorted keys, one finding per object)."""
    document = {
        "version": 1,
        "files": list(report.files),
        "summary": {
            "errors": report.count("error"),
            "warnings": report.count("warning"),
            "notes": report.count("note"),
        },
        "findings": [_json_finding(item) for item in report.findings],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _json_finding(item: Finding) -> dict[str, Any]:
    span = item.span or Span("")
    return {
        "rule": item.rule,
        "severity": item.severity,
        "message": item.diagnostic.message,
        "file": span.file,
        "line": span.line,
        "column": span.column,
        "end_column": span.end_column,
        "notes": list(item.diagnostic.notes),
        "targets": sorted(item.targets),
        "related": [{"file": s.file, "line": s.line, "column": s.column} for s in item.related],
    }


def to_sarif(report: Report) -> str:
    """The report as a SARIF 2.1.0 log."""
    rule_ids = sorted(RULES)
    driver = {
        "name": "nonoc",
        "version": __version__,
        "rules": [
            {
                "id": rule_id,
                "name": rule_id.replace("-", " ").title().replace(" ", ""),
                "shortDescription": {"text": RULES[rule_id].summary},
                "defaultConfiguration": {"level": _SARIF_LEVEL[RULES[rule_id].severity]},
            }
            for rule_id in rule_ids
        ],
    }
    results = []
    for item in report.findings:
        text_ = item.diagnostic.message + _targets_suffix(item)
        if item.diagnostic.notes:
            text_ += "\n" + "\n".join(f"note: {n}" for n in item.diagnostic.notes)
        result: dict[str, Any] = {
            "ruleId": item.rule,
            "ruleIndex": rule_ids.index(item.rule),
            "level": _SARIF_LEVEL[item.severity],
            "message": {"text": text_},
            "locations": [{"physicalLocation": _physical(item.span or Span(""))}],
        }
        related = item.related
        if related:
            result["relatedLocations"] = [
                {"id": index, "physicalLocation": _physical(span)}
                for index, span in enumerate(related, start=1)
            ]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"


def _physical(span: Span) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": _artifact(span.file)}
    if span.line > 0:
        region: dict[str, int] = {"startLine": span.line}
        if span.column > 0:
            region["startColumn"] = span.column
            if span.end_column and span.end_column > span.column:
                region["endColumn"] = span.end_column
        location["region"] = region
    return location


def _artifact(file: str) -> dict[str, str]:
    """A relative path stays relative to the checkout (``%SRCROOT%``); absolute is a file URI."""
    if os.path.isabs(file):
        from pathlib import Path

        return {"uri": Path(file).as_uri()}
    return {"uri": file.replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}
