"""Env-mode credentials: secrets set in the child's environment just before exec.

``--env-credential NAME`` reads the keyring entry ``NAME`` (service ``nono``) and sets it
as ``NAME``, or as a built-in service's key variables (``openai`` → ``OPENAI_API_KEY``);
``--env-credential-map REF VAR`` reads any secret reference (``keyring://``, ``env://``,
``file://``) and sets ``VAR``. The values go into the payload's ``launch.env_set``, which
the launcher applies after environment hygiene, as the last change to the environment
before ``execve``: the secrets live only in the parent's memory until the child exists.
A secret that cannot be read stops the run before the fork (``CredentialError``, exit 1).

The agent can read and send these secrets; proxy mode (``--proxy-credential``) keeps
them out of its reach and is preferred (docs/credentials.md).
"""

from __future__ import annotations

from nonoc.runtime.run.session import Hook, Launch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence


def set_child_env(launch: Launch, values: Mapping[str, str], remove: Iterable[str] = ()) -> None:
    """Set ``values`` in the child's environment and remove ``remove`` from it.

    Written into each target's ``launch.env_set`` (a private copy per run), so they win
    over the profile's own ``env set`` and survive hygiene; removed names leave both the
    inherited environment and ``env_set``.
    """
    doomed = set(remove)
    for name in doomed:
        launch.environ.pop(name, None)
    for target in ("linux", "macos"):
        section = launch.payload.get(target)
        if not isinstance(section, dict):
            continue
        settings = dict(section.get("launch") or {})
        env_set = {
            str(k): str(v)
            for k, v in dict(settings.get("env_set") or {}).items()
            if k not in doomed
        }
        env_set.update(values)
        settings["env_set"] = dict(sorted(env_set.items()))
        section["launch"] = settings


class EnvCredentialHook(Hook):
    """Reads the env-mode secrets in ``before_spawn`` and sets them for the child."""

    def __init__(self, names: Sequence[str] = (), mappings: Sequence[tuple[str, str]] = ()) -> None:
        self.names = tuple(names)
        self.mappings = tuple(mappings)

    def before_spawn(self, launch: Launch) -> None:
        """Read every secret (or raise ``CredentialError``) and put it in ``env_set``."""
        from nonoc.runtime.credentials import env_credentials

        set_child_env(launch, env_credentials(self.names, self.mappings))

    def __repr__(self) -> str:  # never the secrets: they are not kept here
        return f"EnvCredentialHook(names={self.names!r}, mappings={self.mappings!r})"
