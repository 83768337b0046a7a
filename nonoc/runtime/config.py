"""The user's settings: ``$XDG_CONFIG_HOME/nono/config.yaml``.

Read and written with ruamel.yaml's round-trip mode, so ``nono config set`` keeps the
user's comments, key order and quoting; writes are atomic (temporary file, ``fsync``,
rename) and keep the file's mode. Known keys (``SETTINGS``):

- ``default_profile``: the profile ``nono run``/``nono wrap`` start from without ``--profile``;
- ``signing_key``: the key (name or PEM path) that signs the bundles ``nono run`` compiles;
- ``trusted_keys``: public keys (PEM files) ``nono exec`` trusts besides nono's own. The
  launcher reads no YAML: each is copied to ``trusted_keys/config-<id>.pub``, and copies of
  keys no longer listed are removed (``sync_trusted_keys``), whenever the settings are read
  after the file changed;
- ``cache_size``: the compile cache's upper bound (``500M``, ``2G``, or bytes).

Speed: ``nono run`` reads the settings on every start, and importing ruamel.yaml costs more
than the rest of a cached run. ``load_settings`` therefore keeps a memo of the parsed
values in ``$XDG_STATE_HOME/nono/config-memo.json``, stamped with the file's inode, size,
and times; an unchanged file is not parsed again. The state and config directories are
denied to every sandboxed agent (``stdlib/nono_self.nono``), so the memo is as safe from
the agent as the file itself.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and nonoc.errors cost a cached `nono run` milliseconds
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from nonoc.errors import Span

_SIZE = r"^\s*([0-9]+)\s*([KMGT]?)(?:i?B)?\s*$"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_MEMO_VERSION = 1
TRUSTED_PREFIX = "config-"


class Setting:
    """One known key: its kind (``str``, ``list``, ``size``) and what it does."""

    # Plain classes here: nono run reads the settings on every start, and generating
    # dataclass methods costs it time (docs/performance.md).
    __slots__ = ("help", "kind")

    def __init__(self, kind: str, help: str) -> None:
        self.kind, self.help = kind, help


SETTINGS: dict[str, Setting] = {
    "default_profile": Setting("str", "profile nono run and nono wrap use without --profile"),
    "signing_key": Setting("str", "key (name or PEM path) signing the bundles nono run compiles"),
    "trusted_keys": Setting("list", "public key files (PEM) nono exec trusts besides nono's own"),
    "cache_size": Setting("size", "upper bound of the compile cache (e.g. 500M, 2G)"),
}


class Settings:
    """The settings ``nono run`` uses; None/empty means "not set"."""

    __slots__ = ("cache_size", "default_profile", "signing_key", "trusted_keys")

    def __init__(
        self,
        default_profile: str | None = None,
        signing_key: str | None = None,
        trusted_keys: tuple[str, ...] = (),
        cache_size: int | None = None,
    ) -> None:
        self.default_profile = default_profile
        self.signing_key = signing_key
        self.trusted_keys = tuple(trusted_keys)
        self.cache_size = cache_size

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-able data."""
        return {
            "default_profile": self.default_profile,
            "signing_key": self.signing_key,
            "trusted_keys": list(self.trusted_keys),
            "cache_size": self.cache_size,
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Settings({self.as_dict()!r})"


# --------------------------------------------------------------------------- locations


def config_dir(environ: Mapping[str, str] | None = None) -> str:
    """``$XDG_CONFIG_HOME/nono`` (``~/.config/nono`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME") or os.path.join(_home(env), ".config")
    return os.path.join(base, "nono")


def state_dir(environ: Mapping[str, str] | None = None) -> str:
    """``$XDG_STATE_HOME/nono`` (``~/.local/state/nono`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(_home(env), ".local", "state")
    return os.path.join(base, "nono")


def config_path(environ: Mapping[str, str] | None = None) -> str:
    """The settings file: ``$XDG_CONFIG_HOME/nono/config.yaml``."""
    return os.path.join(config_dir(environ), "config.yaml")


def _home(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


# --------------------------------------------------------------------------- values


def parse_size(text: str | int) -> int:
    """``500M``, ``2G``, ``1048576`` (bytes; K/M/G/T are powers of 1024) → bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError("a size cannot be negative")
        return text
    import re

    match = re.match(_SIZE, str(text), re.IGNORECASE)
    if match is None:
        raise ValueError(f"not a size: {text!r} (write e.g. 500M, 2G or a number of bytes)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def check_value(key: str, value: Any) -> Any:
    """Validate ``value`` for ``key``; returns it in its stored form. Raises ``ValueError``."""
    kind = SETTINGS[key].kind
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{key} must be a non-empty string")
        return value
    if kind == "list":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{key} must be a list of strings")
        return list(value)
    parse_size(value)
    return value


def settings_from(document: Mapping[str, Any], where: Callable[[str], Span]) -> Settings:
    """``Settings`` from a parsed document; ``where(key)`` locates a bad value for the error."""
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key not in SETTINGS:
            # Unknown keys are kept in the file (a newer nono may know them) but reported.
            continue
        try:
            checked = check_value(key, value)
        except ValueError as exc:
            from nonoc.errors import NonoError

            raise NonoError(str(exc), where(key)) from None
        if key == "cache_size":
            checked = parse_size(checked)
        elif key == "trusted_keys":
            checked = tuple(checked)
        values[key] = checked
    return Settings(**values)


# --------------------------------------------------------------------------- the file


class ConfigFile:
    """config.yaml as a round-trip document: get, set, unset, save (atomically)."""

    def __init__(self, path: str | None = None) -> None:
        from ruamel.yaml import YAML

        from nonoc.errors import NonoError, Span

        self.path = path or config_path()
        self._yaml = YAML()
        self._yaml.preserve_quotes = True
        self._yaml.indent(mapping=2, sequence=4, offset=2)
        self.text = ""
        self.document: Any = None
        try:
            with open(self.path, encoding="utf-8") as handle:
                self.text = handle.read()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise NonoError(f"cannot read {self.path}: {exc.strerror}", Span(self.path)) from None
        self.document = self._parse(self.text)

    def _parse(self, text: str) -> Any:
        from ruamel.yaml.comments import CommentedMap
        from ruamel.yaml.error import YAMLError

        from nonoc.errors import NonoError

        try:
            document = self._yaml.load(text) if text.strip() else None
        except YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            column = mark.column + 1 if mark is not None else 0
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise NonoError(f"{problem}", self._span(line, column)) from None
        if document is None:
            return CommentedMap()
        if not isinstance(document, CommentedMap):
            raise NonoError(
                "the settings file must be a mapping of keys to values", self._span(1, 1)
            )
        return document

    def _span(self, line: int, column: int) -> Span:
        from nonoc.errors import Span

        lines = self.text.splitlines()
        source = lines[line - 1] if 0 < line <= len(lines) else None
        return Span(self.path, line, column, source_line=source)

    def where(self, key: str) -> Span:
        """The position of ``key``'s value in the file."""
        from nonoc.errors import Span

        try:
            line, column = self.document.lc.value(key)
        except (AttributeError, KeyError, TypeError):
            return Span(self.path)
        return self._span(line + 1, column + 1)

    def settings(self) -> Settings:
        """The validated settings (errors point at the bad value's line)."""
        return settings_from(self.document, self.where)

    def unknown_keys(self) -> list[str]:
        """Keys in the file nono does not know (kept, reported by ``nono config list``)."""
        return [str(key) for key in self.document if key not in SETTINGS]

    def get(self, key: str) -> Any:
        """The stored value of ``key`` (None when unset)."""
        _known(key)
        value = self.document.get(key)
        return list(value) if isinstance(value, list) else value

    def set(self, key: str, values: Sequence[str]) -> None:
        """Set ``key`` from command-line words (a list key takes several)."""
        from nonoc.errors import UsageError

        setting = _known(key)
        if setting.kind == "list":
            value: Any = list(values)
        elif len(values) != 1:
            raise UsageError(f"{key} takes exactly one value")
        else:
            value = values[0]
        try:
            value = check_value(key, value)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        current = self.document.get(key)
        if setting.kind == "list" and isinstance(current, list):
            # Edit the sequence in place: its comments and style stay attached to the key.
            current[:] = value
        else:
            self.document[key] = value

    def unset(self, key: str) -> bool:
        """Remove ``key``; False if it was not set."""
        _known(key)
        if key not in self.document:
            return False
        del self.document[key]
        return True

    def render(self) -> str:
        """The document as YAML text."""
        import io

        if not self.document:
            return ""
        out = io.StringIO()
        self._yaml.dump(self.document, out)
        return out.getvalue()

    def save(self) -> None:
        """Write the file atomically (same directory, fsync, rename), keeping its mode."""
        atomic_write(self.path, self.render().encode("utf-8"))
        self.text = self.render()


def _known(key: str) -> Setting:
    setting = SETTINGS.get(key)
    if setting is None:
        from nonoc.errors import UsageError, did_you_mean

        raise UsageError(
            f"unknown setting '{key}'{did_you_mean(key, set(SETTINGS))}; known: {', '.join(SETTINGS)}"
        )
    return setting


def atomic_write(path: str, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically; an existing file's mode is kept."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    temp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------- fast read


def _stamp(path: str) -> list[int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _memo_path() -> str:
    return os.path.join(state_dir(), "config-memo.json")


def load_settings(*, warn: Callable[[str], None] | None = None) -> Settings:
    """The user's settings, from the memo when config.yaml is unchanged (no ruamel import).

    A missing file gives the defaults. A changed file is parsed, validated (an error names
    the line), its trusted keys are synced into the launcher's directory, and the memo is
    rewritten (best effort). ``warn`` receives messages about keys that could not be synced.
    """
    path = config_path()
    stamp = _stamp(path)
    if stamp is None:
        return Settings()
    memo = _read_memo()
    if memo is not None and memo.get("stamp") == [path, *stamp]:
        try:
            stored = dict(memo["settings"])
            stored["trusted_keys"] = tuple(stored.get("trusted_keys") or ())
            return Settings(**stored)
        except (TypeError, KeyError, ValueError):
            pass
    settings = ConfigFile(path).settings()
    for message in sync_trusted_keys(settings.trusted_keys):
        if warn is not None:
            warn(message)
    _write_memo([path, *stamp], settings)
    return settings


def _read_memo() -> dict[str, Any] | None:
    # The launcher's JSON reader: ``json`` imports ``re``, milliseconds on every run.
    from nonoc.launch.jsondata import loads

    try:
        with open(_memo_path(), "rb") as handle:
            memo = loads(handle.read())
    except (OSError, ValueError):
        return None
    if not isinstance(memo, dict) or memo.get("version") != _MEMO_VERSION:
        return None
    return memo


def _write_memo(stamp: list[Any], settings: Settings) -> None:
    import json

    body = {
        "version": _MEMO_VERSION,
        "stamp": stamp,
        "settings": settings.as_dict(),
    }
    try:
        atomic_write(_memo_path(), json.dumps(body, sort_keys=True).encode())
    except OSError:
        pass  # only speed is lost


# --------------------------------------------------------------------------- trusted keys


def read_public_key(given: str) -> bytes:
    """The raw Ed25519 key in the PEM file ``given`` (``~`` expanded); ``ValueError`` if none."""
    from nonoc.launch.verify import public_key_from_pem

    try:
        with open(os.path.expanduser(given), encoding="ascii") as handle:
            return public_key_from_pem(handle.read())
    except OSError as exc:
        raise ValueError(exc.strerror or str(exc)) from None
    except UnicodeDecodeError:
        raise ValueError("not a PEM public key") from None


def sync_trusted_keys(files: Sequence[str]) -> list[str]:
    """Make ``trusted_keys/config-*.pub`` hold exactly the keys listed in ``files``.

    Returns one message per listed file that is missing or not an Ed25519 public key (it
    is then not trusted). Keys nono trusts by itself (``default.pub``…) are not touched.
    """
    from nonoc.launch.verify import keyid_of, public_key_to_pem, trusted_keys_dir

    directory = trusted_keys_dir()
    wanted: dict[str, str] = {}
    problems: list[str] = []
    for given in files:
        try:
            raw = read_public_key(given)
        except ValueError as exc:
            problems.append(f"trusted key {given} is not trusted: {exc}")
            continue
        wanted[f"{TRUSTED_PREFIX}{keyid_of(raw)[:16]}.pub"] = public_key_to_pem(raw)
    try:
        present = [
            n for n in os.listdir(directory) if n.startswith(TRUSTED_PREFIX) and n.endswith(".pub")
        ]
    except OSError:
        present = []
    for name in present:
        if name not in wanted:
            try:
                os.unlink(os.path.join(directory, name))
            except OSError as exc:
                problems.append(f"cannot remove {name} from {directory}: {exc.strerror}")
    for name, pem in sorted(wanted.items()):
        target = os.path.join(directory, name)
        try:
            with open(target, encoding="ascii") as handle:
                if handle.read() == pem:
                    continue
        except OSError:
            pass
        atomic_write(target, pem.encode("ascii"), 0o644)
    return problems
