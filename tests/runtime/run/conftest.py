"""The ``nono run`` integration tests reuse the CLI tests' sandbox (``test_run_support``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "cli"))

from test_run_support import own_sandbox, sandbox, shared_home  # noqa: F401 - fixtures
