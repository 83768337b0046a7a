"""``nono run``'s command-line flags, and the policy statements they stand for.

Flags are policy: ``--allow ./src`` is ``allow "$CWD/src"`` written on the command line.
``statements`` turns a parsed command line into ``(label, statements)`` pairs, which the
front end parses as the body of an anonymous profile extending the chosen one
(``nonoc.resolve.resolve(flags=...)``): the flags' settings win over the profile's, their
rules unite with its rules, and each rule's provenance names the flag (``flag --allow
./src`` at ``<command line>``). So ``--dry-run`` and ``nono why`` can say which flag
granted what, and the compile cache keys on the statements.

``FLAGS`` is the one table of options: the argparse parser (help, ``nono --help``), the
hand parser of the fast path (``parse``) and the shell completions are all built from it.

Paths: ``~`` and the policy variables (``$HOME``, ``$TMPDIR``…) are kept as variables, a
relative path is relative to the working directory (``$CWD``), and a relative path that
climbs out of it (``../x``) is made absolute, since policy paths may not contain ``..``.
Standard library only, so that a cached ``nono run`` imports nothing heavy.
"""

from __future__ import annotations

import os

from nonoc.paths import TemplateError, normalize
from nonoc.syntax.literal import quote

TYPE_CHECKING = False
if TYPE_CHECKING:  # collections.abc costs a cached run a millisecond at import
    from collections.abc import Sequence


def UsageError(message: str) -> Exception:
    """A ``nonoc.errors.UsageError``, imported only when one is raised.

    ``nonoc.errors`` pulls in ``dataclasses`` and ``typing``, which a cached ``nono run``
    does not otherwise need (docs/performance.md).
    """
    from nonoc.errors import UsageError as build

    return build(message)


#: The built-in blocked commands, by family: a startup check on the command's name.
#: Defense in depth only: ``sh -c 'rm x'`` or a renamed copy of ``rm`` gets past it; what
#: a command can actually touch is decided by the kernel rules.
BLOCKED_COMMAND_FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("file destruction", ("rm", "rmdir", "shred", "srm")),
    ("disk", ("dd", "mkfs", "fdisk", "parted", "wipefs")),
    ("permissions", ("chmod", "chown", "chgrp", "chattr")),
    ("system", ("shutdown", "reboot", "halt", "systemctl")),
    ("package managers", ("apt", "brew", "pip", "yum", "pacman")),
    ("file operations", ("mv", "cp", "truncate")),
    ("privilege", ("sudo", "su", "doas", "pkexec")),
    ("exfiltration", ("scp", "rsync", "sftp", "ftp")),
)
BLOCKED_COMMANDS: tuple[str, ...] = tuple(
    sorted(name for _, names in BLOCKED_COMMAND_FAMILIES for name in names)
)
#: How the built-in list is labelled in provenance.
BUILTIN_BLOCK_LABEL = "built-in blocked commands"


class Flag:
    """One option of ``nono run``/``nono wrap``: its name, its value's name, its help.

    ``dest`` is the ``RunRequest`` field it fills; ``metavar`` is None for a switch.
    ``statement`` is how a value becomes policy (``{}`` is the quoted value), or "" when the
    flag is not policy (``--profile``, ``--dry-run``); ``path`` marks a path-taking flag.
    """

    # A plain class, not a dataclass: generating dataclass methods costs a cached
    # `nono run` about half a millisecond per class (docs/performance.md).
    __slots__ = ("dest", "help", "metavar", "option", "path", "statement")

    def __init__(
        self,
        option: str,
        dest: str,
        metavar: str | None,
        help: str,
        statement: str = "",
        path: bool = False,
    ) -> None:
        self.option, self.dest, self.metavar, self.help = option, dest, metavar, help
        self.statement, self.path = statement, path

    def __repr__(self) -> str:
        return f"Flag({self.option!r})"


FLAGS: tuple[Flag, ...] = (
    Flag(
        "--profile",
        "profile",
        "NAME|PATH",
        "profile to start from: built-in, user, or a .nono file",
    ),
    Flag("--allow", "grants", "DIR", "read and write DIR (a tree)", "allow {}", True),
    Flag("--read", "grants", "DIR", "read DIR (a tree)", "read {}", True),
    Flag(
        "--write",
        "grants",
        "DIR",
        "write DIR (a tree); reading needs --read or --allow",
        "write {}",
        True,
    ),
    Flag("--allow-file", "grants", "FILE", "read and write exactly FILE", "allow file {}", True),
    Flag("--read-file", "grants", "FILE", "read exactly FILE", "read file {}", True),
    Flag("--write-file", "grants", "FILE", "write exactly FILE", "write file {}", True),
    Flag(
        "--allow-unix-socket",
        "grants",
        "PATH",
        "connect to the unix socket PATH (a directory: any socket beneath it)",
        "unix_socket {}",
        True,
    ),
    Flag("--allow-cwd", "grants", None, "read and write the working directory", 'allow "$CWD"'),
    Flag(
        "--net-block", "network", None, "block the network (TCP, UDP, raw sockets)", "network block"
    ),
    Flag("--net-allow", "network", None, "lift the profile's network restriction", "network open"),
    Flag(
        "--allow-port",
        "ports",
        "PORT",
        "allow TCP connect to PORT (when the network is restricted)",
        "port connect {}",
    ),
    Flag(
        "--proxy-allow",
        "hosts",
        "HOST",
        "network through nono's proxy, to HOST (a name or *.suffix) among others allowed",
        "network proxy {{ allow {} }}",
    ),
    Flag(
        "--allow-command",
        "commands",
        "CMD",
        "let CMD start although it is on a blocked list",
        "command allow {}",
    ),
    Flag(
        "--block-command",
        "commands",
        "CMD",
        "refuse to start CMD (a check on its name)",
        "command block {}",
    ),
    Flag(
        "--keep-env",
        "keep_env",
        "NAME",
        "keep environment variable NAME (not stripped)",
        "env keep {}",
    ),
    Flag(
        "--dry-run",
        "dry_run",
        None,
        "print the policy, its provenance and the kernel rules; run nothing",
    ),
    Flag("--json", "json", None, "with --dry-run: print the account as JSON"),
    # The parent's session (nonoc.runtime.run.options): not policy, kept in ``session``.
    Flag("--rollback", "session", None, "snapshot the writable trees before and after (undo)"),
    Flag("--no-rollback", "session", None, "no snapshots, even if the profile says rollback on"),
    Flag(
        "--rollback-include",
        "session",
        "DIR",
        "record DIR (or a .gitignore-style pattern) that snapshots leave out by default",
        path=True,
    ),
    Flag("--rollback-exclude", "session", "PATTERN", "leave PATTERN out of snapshots"),
    Flag("--no-audit", "session", None, "write no audit trail for this run"),
    Flag("--audit-sign", "session", None, "sign the audit session's final hash (bundle key)"),
    Flag(
        "--trust-policy",
        "session",
        "FILE",
        "check instruction files against this trust policy (instead of the user's)",
        path=True,
    ),
    # The proxy and credentials (nonoc.runtime.run.proxy_hook): kept in ``session`` too.
    Flag(
        "--proxy-credential",
        "session",
        "ROUTE",
        "serve credential ROUTE (openai, anthropic, gemini, github, or the profile's)",
    ),
    Flag("--env-credential", "session", "NAME", "set keyring secret NAME in the environment"),
    Flag(
        "--env-credential-map",
        "session",
        "REF VAR",
        "set secret REF (keyring://, env://, file://) as variable VAR",
    ),
    Flag(
        "--net-private",
        "session",
        None,
        "with the proxy: a private network namespace where only the proxy answers",
    ),
    # The supervisor (nonoc.runtime.supervisor.hook): kept in ``session`` too.
    Flag(
        "--supervised",
        "session",
        None,
        "ask on the terminal before the command opens a file outside its grants",
    ),
    Flag(
        "--answers",
        "session",
        "FILE",
        "with --supervised: answer from FILE's rules instead of the terminal (CI)",
        path=True,
    ),
    Flag("-v", "verbose", None, "print the account on stderr, then run (also --verbose)"),
)
BY_OPTION: dict[str, Flag] = {flag.option: flag for flag in FLAGS} | {"--verbose": FLAGS[-1]}


class RunRequest:
    """A parsed ``nono run``/``nono wrap`` command line.

    ``policy`` holds the policy flags in the order given, as ``(option, value)`` pairs
    (value "" for a switch); ``session`` holds the parent's options (rollback, audit,
    trust) the same way; the other fields are the launcher's own options.
    """

    __slots__ = ("command", "dry_run", "json", "policy", "profile", "session", "verbose")

    def __init__(
        self,
        profile: str | None = None,
        policy: list[tuple[str, str]] | None = None,
        *,
        dry_run: bool = False,
        json: bool = False,
        verbose: bool = False,
        command: list[str] | None = None,
    ) -> None:
        self.profile = profile
        self.policy: list[tuple[str, str]] = [] if policy is None else policy
        self.dry_run, self.json, self.verbose = dry_run, json, verbose
        self.command: list[str] = [] if command is None else command
        self.session: list[tuple[str, str]] = []

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunRequest):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"RunRequest({fields})"


def parse(argv: Sequence[str], *, prog: str = "nono run") -> RunRequest | None:
    """Parse ``argv`` (the words after ``run``) by hand; None asks for the help text.

    The command starts at ``--`` or at the first word that is not an option. Raises
    ``UsageError`` for an unknown option or a missing value.
    """
    request = RunRequest()
    words = list(argv)
    while words:
        word = words.pop(0)
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            words.insert(0, word)
            break
        if word in ("-h", "--help"):
            return None
        option, eq, inline = word.partition("=")
        flag = BY_OPTION.get(option)
        if flag is None:
            raise UsageError(f"{prog}: unknown option {option} (see '{prog} --help')")
        if flag.metavar is None:
            if eq:
                raise UsageError(f"{prog}: {option} takes no value")
            value = ""
        else:
            # A flag whose metavar is two words (``REF VAR``) takes two; kept space-joined.
            values = [inline] if eq else []
            while len(values) < len(flag.metavar.split()):
                if not words or words[0] == "--":
                    raise UsageError(f"{prog}: {option} needs a value ({flag.metavar})")
                values.append(words.pop(0))
            value = " ".join(values)
        record(request, flag, value)
    request.command = words
    return request


def record(request: RunRequest, flag: Flag, value: str) -> None:
    """Put one parsed option into ``request``."""
    if flag.dest == "profile":
        if request.profile is not None and request.profile != value:
            raise UsageError(f"--profile given twice ({request.profile}, {value}); choose one")
        request.profile = value
    elif flag.dest in ("dry_run", "json", "verbose"):
        setattr(request, flag.dest, True)
    elif flag.dest == "session":
        request.session.append((flag.option, value))
    else:
        request.policy.append((flag.option, value))


def statements(request: RunRequest, *, cwd: str | None = None) -> list[tuple[str, str]]:
    """The ``(label, statements)`` pairs for the front end: the built-in block list, then flags.

    Raises ``UsageError`` naming the flag for a bad path, port or name, and for flags that
    contradict each other (``--net-block`` with ``--net-allow``).
    """
    cwd = os.getcwd() if cwd is None else cwd
    _check_contradictions(request.policy)
    pairs = [(BUILTIN_BLOCK_LABEL, "command block " + ", ".join(map(quote, BLOCKED_COMMANDS)))]
    for option, value in request.policy:
        flag = BY_OPTION[option]
        label = f"{option} {value}" if flag.metavar else option
        if flag.metavar is None:
            pairs.append((label, flag.statement))
        elif flag.path:
            pairs.append((label, flag.statement.format(quote(flag_path(option, value, cwd)))))
        elif flag.dest == "ports":
            pairs.append((label, flag.statement.format(port(option, value))))
        elif flag.dest == "commands":
            pairs.append((label, flag.statement.format(quote(command_name(option, value)))))
        elif flag.dest == "hosts":
            pairs.append((label, flag.statement.format(quote(host_pattern(option, value)))))
        else:
            pairs.append((label, flag.statement.format(quote(env_name(option, value)))))
    return pairs


def flag_path(option: str, raw: str, cwd: str) -> str:
    """The policy path template for a flag's path (see the module docstring)."""
    text = raw.strip()
    parts = text.split("/")
    if ".." in parts:
        if text.startswith(("~", "$")):
            raise UsageError(f"{option} {raw}: '..' is only allowed in a relative or absolute path")
        text = os.path.normpath(os.path.join(cwd, text))
    try:
        return normalize(text)
    except TemplateError as exc:
        raise UsageError(f"{option} {raw}: {exc}") from None


def port(option: str, raw: str) -> int:
    """A TCP port number (1-65535)."""
    try:
        number = int(raw, 10)
    except ValueError:
        raise UsageError(f"{option} {raw}: not a port number") from None
    if not 1 <= number <= 65535:
        raise UsageError(f"{option} {raw}: a port is between 1 and 65535")
    return number


def command_name(option: str, raw: str) -> str:
    """A command's name as the block list compares it: its basename."""
    name = os.path.basename(raw.strip().rstrip("/"))
    if not name or any(c in name for c in '"\\\n\r\t\0'):
        raise UsageError(f"{option} {raw!r}: not a command name")
    return name


def host_pattern(option: str, raw: str) -> str:
    """A proxy allowlist entry: a host name, an address, or ``*.suffix`` (lowercase)."""
    text = raw.strip().lower().rstrip(".")
    if "://" in text or "/" in text:
        raise UsageError(f"{option} {raw}: give a host name (api.example.com), not a URL")
    bad = not text or any(c.isspace() or c in '"\\\0' for c in text)
    if bad or "*" in text.removeprefix("*."):
        raise UsageError(f"{option} {raw!r}: not a host name or *.suffix pattern")
    return text


def env_name(option: str, raw: str) -> str:
    """An environment variable's name."""
    if (
        not raw
        or not (raw[0].isalpha() or raw[0] == "_")
        or not all(c.isalnum() or c == "_" for c in raw)
    ):
        raise UsageError(f"{option} {raw!r}: not an environment variable name")
    return raw


def _check_contradictions(policy: Sequence[tuple[str, str]]) -> None:
    options = {option for option, _ in policy}
    if {"--net-block", "--net-allow"} <= options:
        raise UsageError("--net-block and --net-allow contradict each other; choose one")
    for other in ("--net-block", "--net-allow"):
        if {"--proxy-allow", other} <= options:
            raise UsageError(f"--proxy-allow and {other} contradict each other; choose one")
    allowed = {command_name(o, v) for o, v in policy if o == "--allow-command"}
    blocked = {command_name(o, v) for o, v in policy if o == "--block-command"}
    both = sorted(allowed & blocked)
    if both:
        raise UsageError(f"--allow-command and --block-command both name {both[0]}; choose one")


def grant_paths(request: RunRequest, *, cwd: str | None = None) -> list[tuple[str, str, str]]:
    """``(option, value, template)`` for every path flag, for the existence checks."""
    cwd = os.getcwd() if cwd is None else cwd
    found = []
    for option, value in request.policy:
        flag = BY_OPTION[option]
        if flag.path:
            found.append((option, value, flag_path(option, value, cwd)))
        elif option == "--allow-cwd":
            found.append((option, value, "$CWD"))
    return found
