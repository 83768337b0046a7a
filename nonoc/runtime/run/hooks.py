"""The hooks ``nono run``'s parent builds for audit, instruction-file trust and rollback.

``start.parent_hooks`` calls these, in this order, which is the order they must run in:

1. ``audit_hook``: on unless ``--no-audit``. It opens the session first, so every later
   hook can record into it, and closes it last (hooks close in reverse order). It also
   writes one ``policy`` record: the bundle's digest, profile, target and what it grants.
   Its ``network_event``/``supervisor_event`` methods are the proxy's and the
   supervisor's sinks, and ``SupervisorHook(audit=hook)`` takes it as is.
2. ``trust_hook``: when a trust policy is in force (``--trust-policy``, the user's or the
   project's); it may refuse the start before anything else is done.
3. ``rollback_hook``: when ``--rollback`` or the profile's ``rollback on`` asks (and not
   ``--no-rollback``); the roots are the user's writable trees (``roots``).

Each returns ``None`` when it is not wanted. Messages go to standard error as ``nono: …``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TextIO

    from nonoc.runtime.audit.hook import AuditHook
    from nonoc.runtime.rollback.hook import RollbackHook
    from nonoc.runtime.run.instructions import InstructionTrustHook
    from nonoc.runtime.run.options import SessionOptions


def audit_hook(options: SessionOptions, payload: Mapping[str, Any]) -> AuditHook | None:
    """The audit hook for this run (``None`` with ``--no-audit``)."""
    if not options.audit:
        return None
    from nonoc.runtime.audit.hook import AuditHook
    from nonoc.runtime.run.options import launch_section

    manifest = payload.get("manifest")
    manifest = manifest if isinstance(manifest, dict) else {}
    linux = payload.get("linux")
    table = linux.get("landlock") if isinstance(linux, dict) else None
    fields: dict[str, Any] = {
        "profile": manifest.get("profile"),
        "target": "macos" if sys.platform == "darwin" else "linux",
        "network": launch_section(payload).get("network"),
    }
    if isinstance(table, dict):
        from nonoc.launch import landlock

        fields["landlock_abi"] = landlock.abi_version()
        fields["bundle_landlock_abi"] = table.get("abi")
    signing_key = _audit_key() if options.audit_sign else None

    class RunAudit(AuditHook):
        """The audit hook, plus the ``policy`` record once the session is open."""

        def before_spawn(self, launch: Any) -> None:
            try:
                super().before_spawn(launch)
            except OSError as exc:
                # An audited run that cannot write its trail does not start unaudited.
                from nonoc.errors import NonoError

                where = f" ({exc.filename})" if exc.filename else ""
                raise NonoError(
                    f"cannot write the audit trail{where}: {exc.strerror or exc}",
                    notes=("use --no-audit to run without it",),
                ) from None
            self.record("policy", **policy_summary(launch.payload, launch.bundle_digest))

    return RunAudit(signing_key=signing_key, **fields)


def policy_summary(payload: Mapping[str, Any], digest: str | None) -> dict[str, Any]:
    """What the ``policy`` record says of the bundle: digest, sources, counts of its rules."""
    manifest = payload.get("manifest")
    manifest = manifest if isinstance(manifest, dict) else {}
    summary: dict[str, Any] = {
        "digest": digest,
        "profile": manifest.get("profile"),
        "sources": dict(manifest.get("sources") or {}),
    }
    linux = payload.get("linux")
    if isinstance(linux, dict):
        table = linux.get("landlock")
        table = table if isinstance(table, dict) else {}
        launch = linux.get("launch")
        launch = launch if isinstance(launch, dict) else {}
        summary.update(
            grants=len(table.get("rules") or ()),
            denies=len(table.get("denies") or ()),
            ports=sorted({int(row["port"]) for row in table.get("net") or ()}),
            network=launch.get("network"),
            seccomp=bool(linux.get("seccomp")),
        )
    return summary


def _audit_key() -> Any:
    """The bundle signing key (``signing_key`` setting, else ``default``), for ``--audit-sign``."""
    from nonoc.bundle.keys import DEFAULT_KEY, load_key
    from nonoc.runtime.config import load_settings

    settings = load_settings()
    return load_key(settings.signing_key or DEFAULT_KEY)


def trust_hook(
    options: SessionOptions, audit: AuditHook | None, cwd: str | None = None
) -> InstructionTrustHook | None:
    """The instruction-file check, when a trust policy is in force for ``cwd``."""
    from nonoc.runtime.run.instructions import InstructionTrustHook, policy_in_force

    where = os.getcwd() if cwd is None else cwd
    if not policy_in_force(where, options.trust_policy):
        return None
    return InstructionTrustHook(where, policy_file=options.trust_policy, audit=audit)


def rollback_hook(
    options: SessionOptions,
    payload: Mapping[str, Any],
    audit: AuditHook | None,
    *,
    stream: TextIO | None = None,
) -> RollbackHook | None:
    """Snapshots before and after, when asked for and there is a tree to snapshot.

    The roots are read from ``payload`` now, as compiled: the trust hook's ``before_spawn``
    later narrows the working directory's own rule to reads (``protect``), which must not
    make it look read-only here.
    """
    out = sys.stderr if stream is None else stream
    if not options.rollback_wanted(payload):
        if options.rollback_include or options.rollback_exclude:
            out.write(
                "nono: warning: --rollback-include/--rollback-exclude have no effect: rollback "
                "is off (add --rollback, or `rollback on` in the profile)\n"
            )
        return None
    from nonoc.runtime.run.roots import snapshot_roots

    roots, notes = snapshot_roots(payload)
    for note in notes:
        out.write(f"nono: note: {note}\n")
    if not roots:
        out.write(
            "nono: warning: rollback: no writable tree of yours to snapshot; nothing to undo\n"
        )
        return None
    from nonoc.runtime.rollback import RollbackHook, RollbackOptions, include_patterns

    rollback_options = RollbackOptions(
        include=include_patterns(list(options.rollback_include), roots),
        exclude=options.rollback_exclude,
    )
    return RollbackHook(roots, options=rollback_options, audit=audit, stream=out)
