"""`nonoc schema` prints the IR's JSON Schema."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nonoc.cli.nonoc import main
from nonoc.ir import IR_VERSION, Policy


def test_schema_prints_the_policy_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema == json.loads(json.dumps(Policy.model_json_schema()))
    assert schema["title"] == "Policy"
    assert {"grants", "denies", "network", "syscalls"} <= set(schema["properties"])
    assert IR_VERSION == schema["properties"]["ir_version"]["default"]


def test_schema_is_stable_and_compact_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema", "--indent", "0"])
    first = capsys.readouterr().out
    main(["schema", "--indent", "0"])
    assert capsys.readouterr().out == first
    assert first.count("\n") == 1


def test_schema_as_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from nonoc.cli.nonoc import main; sys.exit(main(['schema']))"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0
    assert json.loads(done.stdout)["title"] == "Policy"


def test_a_bad_profile_exits_1_without_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A subprocess through the real entry point: diagnostic on stderr, exit code 1."""
    bad = tmp_path / "bad.nono"
    bad.write_text("profile p {\n  use nosuch\n}\n")
    code = (
        "import sys\n"
        "from nonoc.cli.dispatch import guarded\n"
        "from nonoc.resolve import load_policy\n"
        f"sys.exit(guarded(lambda: load_policy({str(bad)!r}, 'linux') and 0))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"{bad}:2:7: error: unknown group 'nosuch'")
    assert "Traceback" not in done.stderr
