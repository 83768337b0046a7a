"""``nonoc check``: the compiler's refusals as errors, and lint rules as warnings.

One module per rule family (``broad``, ``enforce``, ``missing``, ``groups``, ``shadow``,
``syscalls``); ``run`` resolves and lowers every profile and group of the checked files
and runs the rules; ``output`` prints text, JSON or SARIF. Rule ids and their meaning are
in ``findings.RULES`` and ``docs/ci.md``.
"""

from __future__ import annotations

from nonoc.lint.discover import policy_files
from nonoc.lint.findings import RULES, Finding
from nonoc.lint.run import Report, check_files

__all__ = ["RULES", "Finding", "Report", "check_files", "policy_files"]
