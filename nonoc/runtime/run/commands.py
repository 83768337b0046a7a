"""The blocked-command check: a startup test of the command's name, defense in depth only.

The payload's ``launch.blocked_commands`` lists the names that may not start (nono's
built-in list and the profile's ``command block``, minus ``command allow`` and
``--allow-command``). The check compares the basename of the command as typed and of the
executable it resolves to (so ``/bin/rm`` and a symlink named ``del`` pointing at ``rm`` are
both caught). It is not a boundary: ``sh -c 'rm f'``, ``python -c 'os.remove(...)'`` or a
renamed copy get past it. What any command can actually touch is decided by the kernel
rules, which hold whatever the check says.
"""

from __future__ import annotations

import os

from nonoc.runtime.flags import BLOCKED_COMMANDS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

#: Exit code for a command the policy refuses to start (the shell's "cannot execute").
EXIT_BLOCKED = 126


def blocked_name(argv0: str, resolved: str | None, launch: Mapping[str, Any]) -> str | None:
    """The blocked name ``argv0`` (or the executable it resolves to) goes by, or None."""
    blocked = {str(n) for n in launch.get("blocked_commands") or ()}
    allowed = {str(n) for n in launch.get("allowed_commands") or ()}
    names = [os.path.basename(argv0)]
    if resolved:
        names.append(os.path.basename(os.path.realpath(resolved)))
    for name in names:
        if name in blocked and name not in allowed:
            return name
    return None


def check_command(
    argv: Sequence[str],
    resolved: str | None,
    launch: Mapping[str, Any],
    blocked_by_flag: Sequence[str],
) -> None:
    """Raise ``NonoError`` (exit 126) when the command is on the blocked list."""
    name = blocked_name(argv[0], resolved, launch)
    if name is None:
        return
    if name in blocked_by_flag:
        origin = "--block-command"
    elif name in BLOCKED_COMMANDS:
        origin = "nono's built-in list of blocked commands"
    else:
        origin = "the profile's 'command block'"
    from nonoc.errors import NonoError

    shown = argv[0] if os.path.basename(argv[0]) == name else f"{argv[0]} ({name})"
    raise NonoError(
        f"{shown} is a blocked command ({origin}); allow it with --allow-command {name}",
        notes=(
            (
                "command blocking checks the command's name only (defense in depth); "
                "the kernel rules decide what any command may touch"
            ),
        ),
        exit_code=EXIT_BLOCKED,
    )
