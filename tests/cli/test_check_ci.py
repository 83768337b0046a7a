"""The shipped CI material: the pre-commit hooks and the example workflow run real commands.

Neither GitHub Actions nor pre-commit runs here; these tests check the files' structure and
run every ``nonoc`` command they contain against a small project.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from nonoc.cli.nonoc import main
from tests.lint.lint_helpers import hermetic, write  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
PROFILE = 'profile agent {\n  use programs\n  read "$CWD"\n}\n'


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def run(command: str, *extra: str) -> int:
    argv = shlex.split(command)
    assert argv[0] == "nonoc"
    return main([*argv[1:], *extra])


def test_pre_commit_hooks(capsys: pytest.CaptureFixture[str]) -> None:
    hooks = {hook["id"]: hook for hook in load(ROOT / ".pre-commit-hooks.yaml")}
    assert set(hooks) == {"nonoc-check", "nonoc-fmt"}
    for hook in hooks.values():
        assert {"id", "name", "entry", "language", "files"} <= set(hook)
        assert hook["language"] == "python" and hook["files"] == r"\.nono$"
    write("agent.nono", PROFILE)
    write("messy.nono", 'group g {\nread "/usr"}\n')
    # nonoc-check takes no file names: it checks the repository.
    assert hooks["nonoc-check"]["pass_filenames"] is False
    assert run(hooks["nonoc-check"]["entry"]) == 0
    # nonoc-fmt gets the changed files and rewrites them.
    assert run(hooks["nonoc-fmt"]["entry"], "messy.nono") == 0
    assert Path("messy.nono").read_text() == 'group g {\n  read "/usr"\n}\n'


def test_example_workflow_runs_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    workflow = load(ROOT / "examples" / "ci" / "github-workflow.yml")
    (job,) = workflow["jobs"].values()
    assert job["permissions"]["security-events"] == "write"
    commands = [
        step["run"] for step in job["steps"] if str(step.get("run", "")).startswith("nonoc")
    ]
    assert len(commands) == 3
    upload = next(step for step in job["steps"] if "upload-sarif" in step.get("uses", ""))
    assert upload["if"] == "always()" and upload["with"]["sarif_file"] == "nonoc.sarif"
    write("agent.nono", PROFILE)
    for command in commands:
        assert run(command) == 0, command
    log = json.loads(Path("nonoc.sarif").read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"] == []
    # The last step fails the job on a warning.
    write("wide.nono", 'profile wide {\n  write "~"\n}\n')
    assert run(commands[-1]) == 1
