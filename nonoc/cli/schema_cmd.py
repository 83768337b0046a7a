"""``nonoc schema``: print the JSON Schema of the Policy IR (for editors and tools)."""

from __future__ import annotations

import argparse

HELP = "print the JSON Schema of the resolved policy (the IR)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``nonoc schema [--indent N]``."""
    parser.add_argument(
        "--indent", type=int, default=2, help="indentation of the JSON (0: one line)"
    )


def run(args: argparse.Namespace) -> int:
    """Print the schema, keys sorted so that the output is stable."""
    import json

    from nonoc.ir import json_schema

    indent = args.indent if args.indent > 0 else None
    separators = (",", ": ") if indent else (",", ":")
    print(json.dumps(json_schema(), indent=indent, sort_keys=True, separators=separators))
    return 0
