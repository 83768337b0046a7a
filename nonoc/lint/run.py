"""``nonoc check``'s engine: parse, resolve every profile for every target, lower, lint.

For each file: a syntax error stops there. Each profile is resolved for linux and macos
by the front end and lowered by every backend of the target (seccomp for both CPU
architectures), so that anything ``nonoc compile`` would refuse, in any combination, is
an error here. Each group is also resolved on its own, so a library of groups is checked
even when no checked profile uses it. The lint rules then run on what resolved.

Findings met on several targets are reported once, tagged with the targets they hold
for. Warnings are kept only when they point into a checked file: a user checking their
profile is not told about the standard library's lines. Errors are always kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from nonoc import ir
from nonoc.backends import landlock, seatbelt
from nonoc.errors import Diagnostic, NonoError, Span
from nonoc.lint import broad, enforce, groups, missing, shadow, syscalls
from nonoc.lint.findings import RULES, Finding, finding
from nonoc.lint.subject import Subject, resolve_group, resolve_profile
from nonoc.resolve.merge import ASSERTION_FAILED
from nonoc.resolve.parsed import parse_file
from nonoc.resolve.sources import LoadedFile, SourceSet, display_name
from nonoc.syntax import ast

TARGETS: tuple[ir.Target, ...] = ("linux", "macos")
#: Architectures the seccomp backend is lowered for (a program may fit one and not another).
SECCOMP_ARCHES: tuple[str, ...] = ("x86_64", "aarch64")
#: Backend notes that a lint rule reports in its own words (``unenforceable-deny``).
_COVERED_CODES = frozenset({landlock.DENY_INSIDE_ALLOW})
#: Backend warnings about what a target cannot enforce, reported under that rule's id.
_UNENFORCEABLE_CODES = frozenset({seatbelt.PORTS_IGNORED, seatbelt.UNSUPPORTED})


@dataclass
class Report:
    """What ``nonoc check`` found in ``files``."""

    files: list[str]
    findings: list[Finding] = field(default_factory=list)

    def count(self, severity: str) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self.findings if f.severity == severity)


def check_files(files: Sequence[str], *, disabled: Iterable[str] = ()) -> Report:
    """Check ``files`` (paths of ``.nono`` files); ``disabled`` rule ids are not reported."""
    run = _Run([display_name(Path(f)) or f for f in files])
    # Every profile resolution reads the standard library again; the front end parses each
    # distinct file content once per process (nonoc.resolve.parsed), so that costs no parse.
    shared = SourceSet()
    loaded: list[LoadedFile] = []
    for path in files:
        file = run.load(shared, path)
        if file is None:
            continue
        loaded.append(file)
        for profile in file.syntax.profiles:
            for target in TARGETS:
                run.profile(path, profile, target)
        for group in file.syntax.groups:
            for target in TARGETS:
                run.group(shared, file, group, target)
    run.add(groups.check(shared, loaded))
    skip = set(disabled)
    kept = [f for f in run.merged() if f.rule not in skip and run.reportable(f)]
    return Report(list(files), sorted(kept, key=Finding.sort_key))


class _Run:
    """Findings of one check, de-duplicated across targets as they come."""

    def __init__(self, checked: list[str]) -> None:
        self.checked = frozenset(checked)
        self._found: dict[tuple[object, ...], Finding] = {}
        self._sources: list[SourceSet] = []

    def remember(self, sources: SourceSet) -> None:
        """Keep ``sources`` to find source lines in (only the first set per file is used)."""
        self._sources.append(sources)

    # --- files, profiles, groups -------------------------------------------------------

    def load(self, shared: SourceSet, path: str) -> LoadedFile | None:
        """Parse ``path`` (and its imports) into ``shared``; None after reporting an error."""
        display = display_name(Path(path)) or path
        try:
            # Read and keyed as SourceSet.load_path does, so its parse is this one.
            text = Path(path).read_bytes().decode("utf-8")
            parse_file(text, display, str(Path(path).resolve()))
        except (OSError, UnicodeDecodeError) as exc:
            self.add([finding("syntax-error", f"cannot read {display}: {exc}", Span(display))])
            return None
        except NonoError as exc:
            self.add([_from_error("syntax-error", exc, Span(display))])
            return None
        self.remember(shared)
        try:
            return shared.load_path(Path(path), path)
        except NonoError as exc:
            self.add([_from_error("policy-error", exc, Span(display))])
            return None

    def profile(self, path: str, profile: ast.ProfileDef, target: ir.Target) -> None:
        """Resolve, lower and lint one profile for one target."""
        try:
            subject = resolve_profile(path, profile.name.text, target)
        except NonoError as exc:
            failed = exc.diagnostic.code == ASSERTION_FAILED
            rule = "assertion-failed" if failed else "policy-error"
            self.add([_from_error(rule, exc, profile.name.span, target)])
            return
        self._subject(subject, profile.name.span)

    def group(
        self, shared: SourceSet, file: LoadedFile, group: ast.GroupDef, target: ir.Target
    ) -> None:
        """Resolve, lower and lint one group on its own for one target."""
        try:
            subject = resolve_group(shared, file, group, target)
        except NonoError as exc:
            self.add([_from_error("policy-error", exc, group.name.span, target)])
            return
        self._subject(subject, group.name.span)

    def _subject(self, subject: Subject, where: Span) -> None:
        self.remember(subject.sources)
        self.add(
            finding(
                "resolver-warning",
                d.message,
                d.span,
                notes=d.notes,
                severity=d.severity,
                target=subject.target,
                related=d.related,
            )
            for d in subject.diagnostics
        )
        if not self._lower(subject, where):
            return
        self.add(broad.check(subject))
        self.add(enforce.check(subject, self.checked))
        self.add(missing.check(subject, _host_target()))
        self.add(shadow.check(subject, self.checked))
        self.add(syscalls.check(subject))

    def _lower(self, subject: Subject, where: Span) -> bool:
        """Run every backend of the subject's target; False after a refusal."""
        from nonoc.backends.host import HostFacts, native_arch
        from nonoc.compile import available_backends

        for module in available_backends():
            if subject.target not in module.TARGETS:
                continue
            arches = SECCOMP_ARCHES if module.NAME == "seccomp" else (native_arch(),)
            for arch in arches:
                host = HostFacts.for_target(subject.target, arch)
                try:
                    _, diagnostics = module.lower(subject.policy, host)
                except NonoError as exc:
                    self.add([_from_error("backend-error", exc, where, subject.target)])
                    return False
                self.add(
                    finding(
                        "unenforceable-deny"
                        if d.code in _UNENFORCEABLE_CODES
                        else "backend-warning",
                        d.message,
                        d.span,
                        notes=d.notes,
                        severity=d.severity,
                        target=subject.target,
                        related=d.related,
                    )
                    for d in diagnostics
                    if d.code not in _COVERED_CODES
                )
        return True

    # --- collecting ----------------------------------------------------------------------

    def add(self, findings: Iterable[Finding]) -> None:
        """Record findings, merging the targets of ones already seen."""
        for item in findings:
            key = item.key()
            known = self._found.get(key)
            if known is None:
                self._found[key] = item
            else:
                self._found[key] = replace(known, targets=known.targets | item.targets)

    def merged(self) -> list[Finding]:
        """Every finding, with source lines filled in (for carets), its related spans too."""
        merged = []
        for item in self._found.values():
            span = item.span
            if span is not None and span.source_line is None:
                span = self._with_line(span)
            related = tuple(
                s if s.source_line is not None else self._with_line(s) for s in item.related
            )
            diagnostic = replace(item.diagnostic, span=span, related=related)
            merged.append(replace(item, diagnostic=diagnostic))
        return merged

    def reportable(self, item: Finding) -> bool:
        """Errors always; warnings and notes only inside a checked file."""
        return item.severity == "error" or (
            item.span is not None and item.span.file in self.checked
        )

    def _with_line(self, span: Span) -> Span:
        """``span`` with its source line, when a file read during the check holds it."""
        if span.line <= 0:
            return span
        for source_set in self._sources:
            for file in source_set.files.values():
                if file.display == span.file:
                    lines = file.syntax.text.splitlines()
                    if span.line <= len(lines):
                        return replace(span, source_line=lines[span.line - 1])
                    return span
        return span


def _from_error(rule: str, exc: NonoError, where: Span, target: str | None = None) -> Finding:
    """An error finding from the compiler's own refusal (at ``where`` when it has no place)."""
    diagnostic: Diagnostic = exc.diagnostic
    span = diagnostic.span if diagnostic.span and diagnostic.span.line > 0 else where
    return finding(
        rule,
        diagnostic.message,
        span,
        notes=diagnostic.notes,
        severity="error",
        target=target,
        related=diagnostic.related,
    )


def _host_target() -> str:
    from nonoc.launch.verify import native_target

    return native_target()


def rule_ids() -> list[str]:
    """Every rule id, sorted (what ``--disable`` accepts)."""
    return sorted(RULES)
