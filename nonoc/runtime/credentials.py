"""Secrets for the agent's services: where they are read from, and env-mode injection.

A secret is named by a reference:

* ``keyring://NAME`` — the OS keyring (through ``keyring``), service ``nono``, user ``NAME``;
  a bare ``NAME`` means the same;
* ``env://VAR`` — the variable ``VAR`` of nono's own environment;
* ``file:///path`` — a file's content (one trailing newline removed). The file must be a
  regular file owned by the user (or root) and neither readable nor writable by group or
  others, like ssh's private keys.

Proxy mode (``--proxy-credential``) gives secrets to the proxy's credential routes; env
mode (``--env-credential NAME``, ``--env-credential-map REF VAR``) sets them in the child's
environment just before exec, which :func:`env_credentials` prepares.

:class:`FileKeyring` is a keyring backend kept in a 0600 JSON file, for tests and headless
machines without a desktop keyring: select it with
``PYTHON_KEYRING_BACKEND=nonoc.runtime.credentials.FileKeyring`` and ``NONO_KEYRING_FILE``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

from nonoc.errors import NonoError

SERVICE = "nono"
KEYRING_FILE_ENV = "NONO_KEYRING_FILE"
MAX_SECRET_FILE = 64 * 1024

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENTRY_NAME = re.compile(r"^[A-Za-z0-9_.@+-][A-Za-z0-9_.@+/-]*$")


class CredentialError(NonoError):
    """A secret that cannot be read (missing, unsafe file, no keyring…)."""


def resolve_secret(ref: str, environ: Mapping[str, str] | None = None) -> str:
    """Read the secret ``ref`` names; raise :class:`CredentialError` if it cannot be had."""
    environ = os.environ if environ is None else environ
    scheme, sep, rest = ref.partition("://")
    if not sep:
        return _from_keyring(ref)
    if scheme == "keyring":
        return _from_keyring(rest)
    if scheme == "env":
        if not _ENV_NAME.match(rest):
            raise CredentialError(f"invalid variable name in {ref!r}")
        value = environ.get(rest)
        if not value:
            raise CredentialError(f"{ref}: the variable {rest} is not set")
        return value
    if scheme == "file":
        return _from_file(ref)
    raise CredentialError(
        f"unknown secret reference {ref!r}",
        notes=("use keyring://NAME, env://VAR or file:///path",),
    )


def _from_keyring(name: str) -> str:
    if not _ENTRY_NAME.match(name):
        raise CredentialError(f"invalid keyring entry name {name!r}")
    import keyring

    try:
        value = keyring.get_password(SERVICE, name)
    except (KeyringError, RuntimeError) as exc:
        raise CredentialError(
            f"cannot read keyring entry {SERVICE}/{name}: {exc}",
            notes=("see docs/credentials.md for keyring backends",),
        ) from exc
    if not value:
        raise CredentialError(
            f"no keyring entry {SERVICE}/{name}",
            notes=(f"store it with: keyring set {SERVICE} {name}",),
        )
    return value


def _from_file(ref: str) -> str:
    parts = urlsplit(ref)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise CredentialError(f"{ref}: a file reference needs an absolute path (file:///path)")
    path = unquote(parts.path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise CredentialError(f"{ref}: cannot open: {exc.strerror}") from exc
    try:
        # Checked on the open descriptor, so the file cannot be swapped after the check.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialError(f"{ref}: not a regular file")
        if info.st_mode & 0o077:
            raise CredentialError(
                f"{ref}: refusing a secret file readable or writable by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                notes=(f"fix it with: chmod 600 {path}",),
            )
        if info.st_uid not in (os.geteuid(), 0):
            raise CredentialError(f"{ref}: the file belongs to another user")
        data = os.read(fd, MAX_SECRET_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_SECRET_FILE:
        raise CredentialError(f"{ref}: larger than {MAX_SECRET_FILE} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CredentialError(f"{ref}: not UTF-8 text") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise CredentialError(f"{ref}: the file is empty")
    return text


def env_credentials(
    names: Iterable[str] = (),
    mappings: Iterable[tuple[str, str]] = (),
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables env mode sets in the child, secrets included (sorted keys).

    ``names`` (``--env-credential NAME``): the keyring entry ``NAME``. A built-in service
    name (``openai``, ``anthropic``, ``gemini``, ``github``) sets that service's key
    variables (``OPENAI_API_KEY``…); any other ``NAME`` must be a variable name and is set
    under that name. ``mappings`` (``--env-credential-map REF VAR``): the secret ``REF``
    set as ``VAR``.
    """
    from nonoc.runtime.proxy.routes import BUILTIN_ROUTES

    result: dict[str, str] = {}
    for name in names:
        builtin = BUILTIN_ROUTES.get(name)
        targets = builtin.key_env if builtin else (name,)
        if not builtin and not _ENV_NAME.match(name):
            raise CredentialError(f"--env-credential {name!r}: not a variable name")
        secret = resolve_secret(f"keyring://{name}", environ)
        for var in targets:
            result[var] = secret
    for ref, var in mappings:
        if not _ENV_NAME.match(var):
            raise CredentialError(f"--env-credential-map: {var!r} is not a variable name")
        result[var] = resolve_secret(ref, environ)
    return dict(sorted(result.items()))


class FileKeyring(KeyringBackend):
    """A keyring kept in a JSON file (mode 0600): for tests and machines without a keystore.

    The file is ``path`` or ``$NONO_KEYRING_FILE``. Never chosen automatically unless that
    variable is set. Secrets in it are as safe as the file's permissions, no more.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # keyring leaves it unannotated
        chosen = path if path is not None else os.environ.get(KEYRING_FILE_ENV)
        if not chosen:
            raise RuntimeError(f"FileKeyring needs a path or ${KEYRING_FILE_ENV}")
        self.path = Path(chosen)

    @properties.classproperty
    def priority(cls) -> float:  # keyring reads it on the class
        """Viable only when ``$NONO_KEYRING_FILE`` is set (keyring skips it otherwise)."""
        if not os.environ.get(KEYRING_FILE_ENV):
            raise RuntimeError(f"${KEYRING_FILE_ENV} is not set")
        return 0.5

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, dict[str, str]]) -> None:
        # Imported here: the trust package's import pulls in cryptography, which reading a
        # secret never needs.
        from nonoc.runtime.trust.files import atomic_write

        text = json.dumps(data, sort_keys=True, indent=1)
        atomic_write(self.path, text.encode("utf-8"), mode=0o600)

    def get_password(self, service: str, username: str) -> str | None:
        """The stored secret, or None."""
        return self._load().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store a secret (atomic rewrite of the file)."""
        data = self._load()
        data.setdefault(service, {})[username] = password
        self._save(data)

    def delete_password(self, service: str, username: str) -> None:
        """Remove a secret; raises ``PasswordDeleteError`` if absent."""
        data = self._load()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(f"no entry {service}/{username}")
        del data[service][username]
        self._save(data)
