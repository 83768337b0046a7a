"""``nono exec`` end to end: argument parsing, signed bundles, dry run, exit codes, imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from launch_helpers import (
    PYTHON,
    READ_TREE,
    deny,
    linux_document,
    rule,
    run_nono,
    signed_bundle,
    table,
    where,
)

from nonoc.launch import cli


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    assert "usage: nono exec [--dry-run] [-v] BUNDLE [--] CMD" in capsys.readouterr().out
    assert cli.main([]) == 2
    assert "missing BUNDLE" in capsys.readouterr().err
    assert cli.main(["app.bundle"]) == 2
    assert "missing the command" in capsys.readouterr().err
    assert cli.main(["app.bundle", "--"]) == 2
    assert cli.main(["--frobnicate", "app.bundle", "--", "true"]) == 2
    assert "unknown option --frobnicate" in capsys.readouterr().err


def test_parse_shapes() -> None:
    parsed = cli.parse(["--dry-run", "-v", "b.bundle", "--", "ls", "-l", "--", "x"])
    assert not isinstance(parsed, int)
    assert (parsed.bundle, parsed.command, parsed.dry_run, parsed.verbose) == (
        "b.bundle",
        ["ls", "-l", "--", "x"],
        True,
        True,
    )
    bare = cli.parse(["b.bundle", "ls", "-l"])
    assert not isinstance(bare, int) and bare.command == ["ls", "-l"] and not bare.dry_run


def test_missing_unsigned_and_untrusted_bundles_exit_1(
    tmp_path: Path, config: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([str(tmp_path / "absent.bundle"), "--", "true"]) == 1
    assert "cannot read bundle" in capsys.readouterr().err
    stranger = signed_bundle(tmp_path / "s.bundle", linux_document(table([])), trust=False)
    assert cli.main([str(stranger), "--", "true"]) == 1
    assert "untrusted key" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path: Path, config: dict[str, str]) -> None:
    work = tmp_path.resolve() / "work"
    (work / ".secret").mkdir(parents=True)
    (work / "notes").write_text("n")
    document = linux_document(
        table(
            [rule("g0", work, READ_TREE), rule("g1", "$HOME/.absent", READ_TREE, optional=True)],
            [deny("d0", work / ".secret")],
        ),
        {"g0": where("demo.nono", 3), "d0": where("demo.nono", 4)},
    )
    bundle = signed_bundle(tmp_path / "demo.bundle", document)
    marker = tmp_path / "ran"
    done = run_nono(["exec", "--dry-run", str(bundle), "--", "touch", str(marker)], config)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    out = done.stdout
    assert f"bundle: {bundle} (profile demo)" in out
    assert "fully enforced" in out or "partially enforced" in out
    assert (
        f"{work}/notes  [file, split from g0]  READ_FILE  <- g0 (demo.nono:3:3, via profile test)"
        in out
    )
    assert (
        f"{work} <- g0 (demo.nono:3:3, via profile test): 1 entries granted beside d0 (demo.nono:4:3"
        in out
    )
    assert f"no right on (nothing can be created in them, listing fails): {work}" in out
    assert "$HOME/.absent <- g1: " in out
    assert "exec: /usr/bin/touch" in out or "exec: /bin/touch" in out


@pytest.mark.kernel
def test_nono_exec_runs_the_command_in_the_sandbox(
    tmp_path: Path, config: dict[str, str], kernel_abi: int
) -> None:
    (tmp_path / "secret").write_text("s")
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    ok = run_nono(["exec", str(bundle), "--", PYTHON, "-I", "-S", "-c", "print('inside')"], config)
    assert (ok.returncode, ok.stdout.strip()) == (0, "inside"), ok.stderr
    code = f"open({str(tmp_path / 'secret')!r}).read()"
    denied = run_nono(["exec", str(bundle), "--", PYTHON, "-I", "-S", "-c", code], config)
    assert denied.returncode == 1 and "PermissionError" in denied.stderr
    exit_code = run_nono(
        ["exec", str(bundle), "--", PYTHON, "-I", "-S", "-c", "raise SystemExit(42)"], config
    )
    assert exit_code.returncode == 42


@pytest.mark.kernel
def test_nono_exec_exit_codes(tmp_path: Path, config: dict[str, str], kernel_abi: int) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    missing = run_nono(["exec", str(bundle), "--", "no-such-command-here"], config)
    assert missing.returncode == 127 and "command not found" in missing.stderr
    needs = linux_document(table([rule("g0", tmp_path / "absent", READ_TREE, optional=False)]))
    refused = run_nono(
        ["exec", str(signed_bundle(tmp_path / "needs.bundle", needs)), "--", "true"], config
    )
    assert refused.returncode == 126 and "required path" in refused.stderr
    assert "Traceback" not in refused.stderr
    usage = run_nono(["exec", str(bundle)], config)
    assert usage.returncode == 2


def test_launcher_imports_no_compiler_module(tmp_path: Path, config: dict[str, str]) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    script = (
        "import sys\n"
        "from nonoc.cli.nono import main\n"
        f"code = main(['exec', '--dry-run', {str(bundle)!r}, '--', 'true'])\n"
        "print('MODULES', ' '.join(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    for _ in range(2):  # the first run verifies the signature, the second uses the memo
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=config, timeout=60
        )
        assert done.returncode == 0, done.stderr
        modules = set(done.stdout.rsplit("MODULES ", 1)[1].split())
        forbidden = {
            "lark",
            "pydantic",
            "jinja2",
            "argparse",
            "nonoc.ir",
            "nonoc.backends",
            "nonoc.syntax",
            "nonoc.resolve",
            "nonoc.bundle",
        }
        assert not modules & forbidden
    assert "cryptography" not in modules  # memo hit: no signature library at all


@pytest.mark.kernel
def test_verbose_prints_the_plan_on_stderr_then_runs(
    tmp_path: Path, config: dict[str, str], kernel_abi: int
) -> None:
    bundle = signed_bundle(tmp_path / "app.bundle", linux_document(table([])))
    done = run_nono(
        ["exec", "-v", str(bundle), "--", PYTHON, "-I", "-S", "-c", "print('ran')"], config
    )
    assert done.returncode == 0 and done.stdout.strip() == "ran"
    assert "landlock: kernel ABI" in done.stderr and f"exec: {PYTHON}" in done.stderr
