"""Checking a working tree's instruction files before an agent starts (``nono run``).

``enforce`` finds the instruction files (and the scripts they name), verifies each, and
applies the policy's ``on_failure``: ``deny`` refuses the start (exit 1, one line naming
the file), ``warn`` prints one warning per file and goes on, ``audit`` goes on silently
and only records. The report lists the files that verified: ``nono run`` makes each of
them, and its signature file, read-only to the agent for the session, so that what was
verified is what the agent keeps reading.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nonoc.errors import Diagnostic, NonoError
from nonoc.runtime.trust.discover import discover
from nonoc.runtime.trust.policy import OnFailure, TrustPolicy
from nonoc.runtime.trust.verify import TrustFailure, VerifiedFile, verify_file


@dataclass(frozen=True)
class TrustReport:
    """What enforcement found in one working tree."""

    root: Path
    on_failure: OnFailure
    policy_source: str
    policy_sha256: str
    verified: tuple[VerifiedFile, ...]
    failures: tuple[TrustFailure, ...]
    truncated: bool
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Every file found verified (and the walk saw the whole tree)."""
        return not self.failures and not self.truncated

    def protected_paths(self) -> tuple[Path, ...]:
        """Verified files and their signature files: to be made read-only to the agent."""
        paths: dict[Path, None] = {}
        for item in self.verified:
            paths[item.path] = None
            paths[item.signature_path] = None
        return tuple(paths)

    def display(self, path: Path) -> str:
        """``path`` relative to the working tree, as messages show it."""
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON: for ``--json`` output and the audit log."""
        return {
            "root": str(self.root),
            "on_failure": self.on_failure,
            "policy": {"source": self.policy_source, "sha256": self.policy_sha256},
            "verified": [item.to_json(self.display(item.path)) for item in self.verified],
            "failures": [
                {"file": f.display, "ok": False, "reason": f.reason, "message": f.detail}
                for f in self.failures
            ],
            "truncated": self.truncated,
            "notes": list(self.notes),
        }


class TrustDenied(NonoError):
    """The policy says ``deny`` and a file failed: the agent must not start (exit 1)."""

    def __init__(self, message: str, report: TrustReport) -> None:
        super().__init__(message, exit_code=1)
        self.report = report


def _stderr_warning(message: str) -> None:
    print(Diagnostic("warning", message).headline(), file=sys.stderr)


def enforce(
    cwd: Path,
    trust_policy: TrustPolicy,
    *,
    now: datetime | None = None,
    emit: Callable[[str], None] | None = None,
) -> TrustReport:
    """Verify the instruction files under ``cwd``; apply ``trust_policy.on_failure``.

    Raises :class:`TrustDenied` when the policy is ``deny`` and any file fails. ``emit``
    receives warning lines (default: printed to standard error as ``warning: …``).
    """
    warn = emit or _stderr_warning
    moment = now if now is not None else datetime.now(UTC)
    root = cwd.resolve()
    policy = trust_policy
    found = discover(
        root,
        file_names=policy.file_names,
        scripts=policy.scripts,
        max_depth=policy.max_depth,
        max_entries=policy.max_entries,
    )
    verified: list[VerifiedFile] = []
    failures: list[TrustFailure] = []
    for path in found.all_files:
        shown = _relative(path, root)
        try:
            verified.append(verify_file(path, policy, now=moment, display=shown))
        except TrustFailure as failure:
            failures.append(failure)
    notes = list(policy.notes)
    if found.truncated:
        notes.append(
            f"the instruction-file walk stopped early (max_depth {policy.max_depth}, "
            f"max_entries {policy.max_entries}); files beyond were not checked"
        )
    report = TrustReport(
        root=root,
        on_failure=policy.on_failure,
        policy_source=policy.source_label(),
        policy_sha256=policy.digest(),
        verified=tuple(verified),
        failures=tuple(failures),
        truncated=found.truncated,
        notes=tuple(notes),
    )
    if policy.on_failure == "audit":
        return report
    for note in notes:
        warn(f"trust: {note}")
    if not failures:
        return report
    if policy.on_failure == "deny":
        first = failures[0]
        more = f" ({len(failures) - 1} more failed)" if len(failures) > 1 else ""
        raise TrustDenied(
            f"{first.display}: {first.detail}; trust policy refuses to start the agent{more}",
            report,
        )
    for failed in failures:
        warn(f"{failed.display}: {failed.detail}")
    return report


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
