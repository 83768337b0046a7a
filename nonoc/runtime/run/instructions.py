"""Instruction-file trust at ``nono run``: verify before the agent starts, then protect.

A ``nono run`` hook. ``before_spawn`` loads the trust policy (``--trust-policy FILE``, else
the user's ``$XDG_CONFIG_HOME/nono/trust-policy.json``, with the project's
``.nono-trust.json`` merged as the user's policy allows), calls
``nonoc.runtime.trust.enforce`` on the working directory, and records the report in the
audit trail (kind ``trust``). Then:

- ``deny`` and a file failed: ``TrustDenied`` stops the run before the fork: exit 1 and one
  line naming the file (``nono: error: CLAUDE.md: not signed …``);
- ``warn``: one ``nono: warning:`` line per failed file, and the agent starts;
- ``audit``: the agent starts; failures are only in the audit record.

Every file that verified, and its signature file, is made read-only to the agent for the
run (``nonoc.runtime.run.protect``): what was verified is what the agent keeps reading.

When no policy exists at all (no flag, no user file, no project file) the hook is not
installed: the check would trust nothing and refuse nothing, and the walk of the working
tree would cost every run for an audit record nobody asked for (``policy_in_force``).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

#: ``nonoc.runtime.trust.policy.USER_POLICY_NAME`` and ``PROJECT_POLICY_NAME`` (that module
#: imports ``cryptography``; checking whether a policy exists must not).
USER_POLICY_NAME = "trust-policy.json"
PROJECT_POLICY_NAME = ".nono-trust.json"


def policy_in_force(cwd: str, explicit: str | None) -> bool:
    """Whether a trust policy applies to ``cwd``: given, the user's, or the project's."""
    if explicit:
        return True
    from nonoc.launch.memo import config_dir

    return os.path.isfile(os.path.join(config_dir(), USER_POLICY_NAME)) or os.path.isfile(
        os.path.join(cwd, PROJECT_POLICY_NAME)
    )


class InstructionTrustHook:
    """Verify the working tree's instruction files before the child starts (module doc)."""

    def __init__(
        self,
        cwd: str,
        *,
        policy_file: str | None = None,
        audit: Any = None,
        stream: TextIO | None = None,
    ) -> None:
        self.cwd = cwd
        self.policy_file = policy_file
        self.audit = audit
        self.stream = stream if stream is not None else sys.stderr
        self.report: Any = None

    def before_spawn(self, launch: Any) -> None:
        """Verify, record, refuse or warn, and protect what verified."""
        from pathlib import Path

        from nonoc.runtime.run.protect import protect
        from nonoc.runtime.trust import TrustDenied, enforce, load_policy

        explicit = Path(self.policy_file) if self.policy_file else None
        policy = load_policy(Path(self.cwd), explicit=explicit)
        try:
            report = enforce(Path(self.cwd), policy, emit=self._warn)
        except TrustDenied as denied:
            self.report = denied.report
            self._record(denied.report, "refused")
            raise
        self.report = report
        self._record(report, "started")
        notes = protect(launch.payload, [str(p) for p in report.protected_paths()], launch.environ)
        for note in notes:
            self._warn(f"trust: {note}")
        if report.verified:
            count = len(report.verified)
            self.stream.write(
                f"nono: trust: {count} instruction file{'s' if count != 1 else ''} verified; "
                "read-only for this run\n"
            )

    def after_spawn(self, launch: Any) -> None:
        """Nothing to do while the child runs."""

    def after_exit(self, launch: Any, exit_code: int) -> None:
        """Nothing to undo: the protection ends with the child's sandbox."""

    def _warn(self, message: str) -> None:
        self.stream.write(f"nono: warning: {message}\n")

    def _record(self, report: Any, decision: str) -> None:
        if self.audit is not None:
            self.audit.record("trust", decision=decision, **report.to_json())
