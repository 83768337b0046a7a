"""``nono config get|set|unset|list|path``: the user's settings in ``config.yaml``.

Argument parsing and printing only; the file is handled by ``nonoc.runtime.config``,
which keeps the user's comments, key order and quoting when it writes.
"""

from __future__ import annotations

import argparse
import json
import sys

from nonoc.errors import UsageError

HELP = "read and change nono's settings (config.yaml), keeping your comments"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``config`` actions."""
    from nonoc.runtime.config import SETTINGS

    keys = ", ".join(SETTINGS)
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    p = sub.add_parser("get", help="print one setting's value")
    p.add_argument("key", help=f"one of: {keys}")
    p.add_argument("--json", action="store_true", help="print the value as JSON")
    p = sub.add_parser("set", help="change a setting (a list setting takes several values)")
    p.add_argument("key", help=f"one of: {keys}")
    p.add_argument("values", nargs="+", metavar="VALUE")
    p = sub.add_parser("unset", help="remove a setting (back to its default)")
    p.add_argument("key", help=f"one of: {keys}")
    p = sub.add_parser("list", help="every setting, its value and what it does")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("path", help="print where the settings file is")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; return the exit code."""
    from nonoc.runtime.config import ConfigFile, config_path

    action = getattr(args, "action", None)
    if action is None:
        raise UsageError("nono config needs an action: get, set, unset, list or path")
    if action == "path":
        print(config_path())
        return 0
    config = ConfigFile()
    if action == "get":
        value = config.get(args.key)
        if args.json:
            print(json.dumps(value))
        elif value is None:
            return 1
        elif isinstance(value, list):
            print("\n".join(str(v) for v in value))
        else:
            print(value)
        return 0
    if action == "list":
        return _list(config, args.json)
    if action == "set":
        if args.key == "trusted_keys":
            _check_keys(args.values)
        config.set(args.key, args.values)
    elif not config.unset(args.key):
        print(f"nono: {args.key} was not set", file=sys.stderr)
        return 0
    config.settings()  # the whole file must still make sense before it is written
    config.save()
    _sync(config)
    return 0


def _check_keys(paths: list[str]) -> None:
    from nonoc.runtime.config import read_public_key

    for path in paths:
        try:
            read_public_key(path)
        except ValueError as exc:
            raise UsageError(f"trusted_keys: {path}: {exc}") from None


def _list(config: object, as_json: bool) -> int:
    from nonoc.runtime.config import SETTINGS, ConfigFile

    assert isinstance(config, ConfigFile)
    values = {key: config.get(key) for key in SETTINGS}
    unknown = config.unknown_keys()
    if as_json:
        print(
            json.dumps(
                {"path": config.path, "settings": values, "unknown": unknown},
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    print(f"# {config.path}")
    for key, setting in SETTINGS.items():
        value = values[key]
        shown = (
            "(not set)"
            if value is None
            else (", ".join(map(str, value)) if isinstance(value, list) else value)
        )
        print(f"{key}: {shown}    # {setting.help}")
    for key in unknown:
        print(f"{key}: ...    # unknown to this nono; kept as written")
    return 0


def _sync(config: object) -> None:
    """Make the launcher's trusted-key directory follow ``trusted_keys``."""
    from nonoc.runtime.config import ConfigFile, sync_trusted_keys

    assert isinstance(config, ConfigFile)
    for problem in sync_trusted_keys(config.settings().trusted_keys):
        print(f"nono: warning: {problem}", file=sys.stderr)
