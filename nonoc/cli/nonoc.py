"""``nonoc``: the policy compiler's command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from nonoc.cli.dispatch import dispatch

COMMANDS: dict[str, str] = {
    "compile": "nonoc.cli.compile_cmd",
    "check": "nonoc.cli.check_cmd",
    "fmt": "nonoc.cli.fmt_cmd",
    "schema": "nonoc.cli.schema_cmd",
    "keygen": "nonoc.cli.keygen_cmd",
    "inspect": "nonoc.cli.inspect_cmd",
    "import": "nonoc.cli.import_cmd",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nonoc`` console script."""
    argv = sys.argv[1:] if argv is None else argv
    available = {name: mod for name, mod in COMMANDS.items() if _exists(mod)}
    return dispatch("nonoc", "Compile nono policies into signed sandbox bundles.", available, argv)


def _exists(module_name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module_name) is not None


if __name__ == "__main__":
    sys.exit(main())
