"""What ``nonoc check`` reports: a finding is a ``Diagnostic`` tagged with its rule and targets.

Every rule has an id (``broad-grant``, ``shadowed-rule``…) listed in ``RULES`` with its
default severity and a one-line description: the ids are what ``--disable`` takes and what
SARIF's ``tool.driver.rules`` lists. Errors are whatever the compiler would refuse; lint
rules warn.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from nonoc.errors import Diagnostic, Severity, Span

if TYPE_CHECKING:
    from nonoc.ir import ChainLink


@dataclass(frozen=True)
class Rule:
    """One kind of finding: id, default severity, what it means."""

    id: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("syntax-error", "error", "The file does not parse."),
        Rule(
            "policy-error", "error", "The front end refuses the profile (names, paths, conflicts)."
        ),
        Rule(
            "assertion-failed",
            "error",
            "A compile-time assertion (`assert never …`) does not hold for the resolved policy.",
        ),
        Rule("backend-error", "error", "A backend refuses to lower the policy for a target."),
        Rule(
            "resolver-warning", "warning", "A warning of the front end (e.g. a grant a deny voids)."
        ),
        Rule("backend-warning", "warning", "Another warning or note of a backend while lowering."),
        Rule(
            "broad-grant",
            "warning",
            "A grant broader than an agent needs (write to ~ or /, read of /).",
        ),
        Rule(
            "unenforceable-deny",
            "warning",
            "A deny (or protection) a target cannot enforce as written, and how it is handled.",
        ),
        Rule("missing-path", "warning", "A granted path that does not exist on this host."),
        Rule("unused-group", "warning", "A group defined but never used in the checked files."),
        Rule("shadowed-rule", "warning", "A grant that another grant already covers."),
        Rule(
            "syscall-equivalent",
            "warning",
            "A system call denied while an equivalent one (openat vs openat2…) stays open.",
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    """One thing ``nonoc check`` says about a file."""

    rule: str
    diagnostic: Diagnostic
    targets: frozenset[str] = field(default_factory=frozenset)

    @property
    def related(self) -> tuple[Span, ...]:
        """Other positions the finding names (the grant an assertion trips on, the rule that
        shadows another): the diagnostic's own ``related`` spans, never parsed from its text."""
        return self.diagnostic.related

    @property
    def severity(self) -> Severity:
        """``error``, ``warning`` or ``note``."""
        return self.diagnostic.severity

    @property
    def span(self) -> Span | None:
        """Where the finding points."""
        return self.diagnostic.span

    def key(self) -> tuple[object, ...]:
        """Identity for de-duplication across targets and contexts: rule, place, message."""
        span = self.span
        where = (span.file, span.line, span.column) if span else ("", 0, 0)
        return (self.rule, *where, self.diagnostic.message)

    def sort_key(self) -> tuple[object, ...]:
        """File, line, column, then rule and message: the order findings are printed in."""
        span = self.span
        where = (span.file, span.line, span.column) if span else ("", 0, 0)
        return (*where, self.rule, self.diagnostic.message)

    def strict(self) -> Finding:
        """This finding with a warning turned into an error (``--strict``)."""
        if self.severity != "warning":
            return self
        return replace(self, diagnostic=replace(self.diagnostic, severity="error"))


def finding(
    rule: str,
    message: str,
    span: Span | None,
    *,
    notes: tuple[str, ...] = (),
    severity: Severity | None = None,
    target: str | None = None,
    related: tuple[Span, ...] = (),
) -> Finding:
    """A finding of ``rule`` (its default severity unless ``severity`` is given).

    ``related`` are the other rules it names, in order of mention; repeats and the
    finding's own position are left out.
    """
    level = severity or RULES[rule].severity
    diagnostic = Diagnostic(level, message, span, notes, rule, _other_places(related, span))
    return Finding(rule, diagnostic, frozenset({target}) if target else frozenset())


def _other_places(related: tuple[Span, ...], own: Span | None) -> tuple[Span, ...]:
    """``related`` without repeats (by position) and without ``own``."""
    seen = {_position(own)} if own is not None else set()
    kept: list[Span] = []
    for span in related:
        if _position(span) not in seen:
            seen.add(_position(span))
            kept.append(span)
    return tuple(kept)


def _position(span: Span) -> tuple[str, int, int]:
    return (span.file, span.line, span.column)


def via(chain: tuple[ChainLink, ...]) -> str:
    """``", via extends base > group system"``: the chain of a provenance, past the profile."""
    links = [link for link in chain if link.kind != "profile"]
    if not links:
        return ""
    return ", via " + " > ".join(f"{link.kind} {link.name}" for link in links)
