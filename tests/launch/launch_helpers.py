"""Build Landlock tables and payloads by hand, and run a real child under them.

``sandboxed`` starts a child Python that calls ``apply_payload`` (the launcher's real code:
ruleset, no_new_privs, restrict_self, exec) and execs a *probe*: a small Python program
that performs file and socket operations and reports, for each, ``OK`` or the errno name
the kernel answered. Nothing about the kernel is mocked.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sandbox_probe import PROBE, PYTHON, PYTHON_PREFIX

from nonoc.launch import rights, verify

ALL_FS = rights.names_at("fs", 7)
READ_TREE = ["READ_FILE", "READ_DIR"]
EXEC_TREE = ["EXECUTE", "READ_FILE"]
WRITE_TREE = rights.lowering("write", "tree")
RW_TREE = sorted(set(READ_TREE) | set(WRITE_TREE))


LAUNCHER = r"""
import json, sys
from nonoc.launch.apply import apply_payload
spec = json.loads(sys.argv[1])
try:
    code = apply_payload(spec["payload"], spec["argv"], dry_run=spec["dry_run"],
                         verbose=spec["verbose"], kernel_abi=spec["kernel_abi"])
except Exception as exc:
    if not hasattr(exc, "render"):
        raise
    sys.stderr.write(exc.render() + "\n")
    sys.exit(exc.exit_code)
sys.exit(code)
"""


def rule(
    rule_id: str, path: str | Path, access: list[str], *, kind: str = "tree", optional: bool = False
) -> dict[str, Any]:
    """One grant row of a rule table."""
    return {
        "id": rule_id,
        "path": str(path),
        "kind": kind,
        "access": list(access),
        "optional": optional,
    }


def deny(rule_id: str, path: str | Path, kind: str = "tree") -> dict[str, Any]:
    """One deny row of a rule table."""
    return {"id": rule_id, "path": str(path), "kind": kind}


def runtime_rules() -> list[dict[str, Any]]:
    """What the probe interpreter needs to start: its prefix and the system libraries."""
    found = [rule("r0", "/usr", ["EXECUTE", "READ_FILE", "READ_DIR"])]
    if not PYTHON_PREFIX.startswith("/usr/"):
        found.append(rule("r1", PYTHON_PREFIX, ["EXECUTE", "READ_FILE", "READ_DIR"]))
    return found


def table(
    rules: list[dict[str, Any]],
    denies: list[dict[str, Any]] = (),  # type: ignore[assignment]
    *,
    abi: int = 7,
    min_abi: int = 1,
    compat: str = "best_effort",
    deny_strategy: str = "split",
    net: list[dict[str, Any]] = (),  # type: ignore[assignment]
    handled_net: list[str] | None = None,
    scopes: list[str] | None = None,
    runtime: bool = True,
) -> dict[str, Any]:
    """A Landlock rule table as the backend writes it (all rights of ``abi`` handled)."""
    return {
        "abi": abi,
        "min_abi": min_abi,
        "compat": compat,
        "deny_strategy": deny_strategy,
        "handled_fs": rights.names_at("fs", abi),
        "handled_net": rights.names_at("net", abi) if handled_net is None else handled_net,
        "scopes": rights.names_at("scope", abi) if scopes is None else scopes,
        "rules": (runtime_rules() if runtime else []) + list(rules),
        "denies": list(denies),
        "net": list(net),
    }


def payload(
    landlock: dict[str, Any], provenance: dict[str, Any] | None = None, **linux: Any
) -> dict[str, Any]:
    """A verified payload around ``landlock`` (the shape ``load_verified`` returns)."""
    return {
        "format": "nono-bundle/1",
        "manifest": {"profile": "test", "targets": ["linux"], "arch": "any"},
        "linux": {"landlock": landlock, "launch": {}, **linux},
        "provenance": {"linux": provenance or {}},
    }


def where(file: str, line: int, column: int = 3) -> dict[str, Any]:
    """A provenance record."""
    return {
        "file": file,
        "line": line,
        "column": column,
        "chain": [{"kind": "profile", "name": "test", "file": file, "line": 1}],
    }


def launch(
    document: dict[str, Any],
    argv: list[str],
    *,
    dry_run: bool = False,
    verbose: bool = False,
    kernel_abi: int | None = None,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``apply_payload(document, argv)`` in a child process and capture what it printed."""
    spec = {
        "payload": document,
        "argv": argv,
        "dry_run": dry_run,
        "verbose": verbose,
        "kernel_abi": kernel_abi,
    }
    return subprocess.run(
        [sys.executable, "-c", LAUNCHER, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=cwd,
    )


def probe(document: dict[str, Any], ops: list[list[Any]], **options: Any) -> list[str]:
    """Run the probe under ``document``; return the kernel's answer to each operation."""
    done = launch(document, [PYTHON, "-I", "-S", "-c", PROBE, json.dumps(ops)], **options)
    assert done.returncode == 0, (
        f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


NONO = str(Path(sys.executable).parent / "nono")


def signed_bundle(
    path: Path,
    document: dict[str, Any],
    key: Ed25519PrivateKey | None = None,
    *,
    trust: bool = True,
) -> Path:
    """Write ``document`` as a DSSE envelope signed with ``key`` (trusted unless told)."""
    key = key or Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes_raw()
    if trust:
        trusted = Path(verify.trusted_keys_dir())
        trusted.mkdir(parents=True, exist_ok=True)
        (trusted / "test.pub").write_text(verify.public_key_to_pem(raw))
    body = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    signature = key.sign(verify.pae(verify.PAYLOAD_TYPE, body))
    envelope = {
        "payload": base64.b64encode(body).decode(),
        "payloadType": verify.PAYLOAD_TYPE,
        "signatures": [
            {"keyid": verify.keyid_of(raw), "sig": base64.b64encode(signature).decode()}
        ],
    }
    path.write_text(json.dumps(envelope))
    return path


def linux_document(
    landlock: dict[str, Any], provenance: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A payload as ``nonoc compile`` writes it for Linux (manifest with compiler and arch)."""
    document = payload(landlock, provenance)
    document["manifest"] = {
        "compiler": "test",
        "profile": "demo",
        "targets": ["linux"],
        "arch": "any",
    }
    return document


def run_nono(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the venv's ``nono`` with ``args``."""
    return subprocess.run([NONO, *args], capture_output=True, text=True, env=env, timeout=60)
