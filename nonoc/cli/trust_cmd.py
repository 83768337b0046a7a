"""``nono trust``: sign instruction files and check their signatures.

    nono trust keygen [--name NAME] [--algorithm ed25519|p256] [--store auto|keyring|file] [--trust]
    nono trust sign FILES… [--key NAME | --keyless [--identity-token T] [--trust-config F]]
    nono trust verify [FILES…] [--policy FILE] [--json]
    nono trust list [--policy FILE] [--json]

Exit codes: 0 when everything asked for succeeded or verified, 1 when a file failed to
verify or nono could not do its job, 2 for wrong usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nonoc.runtime.trust.policy import TrustPolicy

HELP = "sign instruction files (CLAUDE.md, AGENTS.md, …) and verify them against a trust policy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nono trust``'s subcommands."""
    sub = parser.add_subparsers(dest="trust_command", metavar="SUBCOMMAND")

    keygen = sub.add_parser("keygen", help="create a signing key (OS keyring, or a 0600 PEM file)")
    keygen.add_argument("--name", default="default", help="key name (default: default)")
    keygen.add_argument("--algorithm", choices=("ed25519", "p256"), default="ed25519")
    keygen.add_argument(
        "--store",
        choices=("auto", "keyring", "file"),
        default="auto",
        help="where the private key goes (auto: the keyring when one works, else a file)",
    )
    keygen.add_argument(
        "--trust", action="store_true", help="also add the key to your trust policy"
    )

    sign = sub.add_parser("sign", help="sign files; writes FILE.sigstore.json next to each")
    sign.add_argument("files", nargs="+", metavar="FILE")
    how = sign.add_mutually_exclusive_group()
    how.add_argument(
        "--key", metavar="NAME", help="key name, or file:///path/to/key.pem (default: default)"
    )
    how.add_argument(
        "--keyless", action="store_true", help="sign with Sigstore (OIDC → Fulcio → Rekor)"
    )
    sign.add_argument("--identity-token", metavar="JWT", help="OIDC token for --keyless")
    sign.add_argument(
        "--trust-config", metavar="FILE", help="Sigstore client trust config for --keyless"
    )
    sign.add_argument("--staging", action="store_true", help="use Sigstore's staging instance")
    sign.add_argument("--policy", metavar="FILE", help="trust policy to record (default: yours)")

    verify = sub.add_parser("verify", help="verify files (default: the instruction files here)")
    verify.add_argument("files", nargs="*", metavar="FILE")
    verify.add_argument(
        "--policy", metavar="FILE", help="trust policy (default: yours, plus .nono-trust.json)"
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")

    listing = sub.add_parser("list", help="show your trust keys and whom the policy trusts")
    listing.add_argument(
        "--policy", metavar="FILE", help="trust policy (default: yours, plus .nono-trust.json)"
    )
    listing.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Dispatch to the subcommand."""
    from nonoc.errors import UsageError

    command = getattr(args, "trust_command", None)
    if command == "keygen":
        return _keygen(args)
    if command == "sign":
        return _sign(args)
    if command == "verify":
        return _verify(args)
    if command == "list":
        return _list(args)
    raise UsageError("nono trust needs a subcommand: keygen, sign, verify or list")


def _keygen(args: argparse.Namespace) -> int:
    from nonoc.runtime.trust import keys

    stored = keys.create(args.name, args.algorithm, store=args.store)
    print(f"created trust key '{stored.name}' ({stored.algorithm}, id {stored.keyid})")
    if stored.location == "keyring":
        print(
            f"  private key: OS keyring (service '{keys.KEYRING_SERVICE}', user "
            f"'{keys.keyring_username(stored.name)}')"
        )
    else:
        note = "" if args.store == "file" else "; no usable OS keyring"
        print(f"  private key: {stored.location} (0600{note})")
    print(f"  public key:  {stored.public_key_path}")
    if args.trust:
        path = _trust_key(stored.name, stored.public_key_path)
        print(f"  trusted in:  {path}")
    else:
        print('  to trust it: add it to the "keys" of your trust policy, or rerun with --trust')
    return 0


def _trust_key(name: str, public_key_path: Path) -> Path:
    """Add a key to the user's policy file (created with on_failure "warn" if absent)."""
    from nonoc.runtime.trust.files import atomic_write
    from nonoc.runtime.trust.policy import PolicyError, read_policy_file, user_policy_path

    path = user_policy_path()
    data: dict[str, object] = {"version": 1, "on_failure": "warn", "keys": []}
    if path.exists():
        read_policy_file(path)  # refuse to edit a policy that does not parse
        data = json.loads(path.read_text(encoding="utf-8"))
    entries = data.setdefault("keys", [])
    if not isinstance(entries, list):
        raise PolicyError(f'{path}: "keys" is not a list')
    entries.append({"name": name, "public_key_file": str(public_key_path)})
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return path


def _policy(args: argparse.Namespace) -> TrustPolicy:
    """The effective policy: ``--policy`` or the user's, plus the project's file here."""
    from nonoc.runtime.trust.policy import load_policy

    explicit = Path(args.policy) if getattr(args, "policy", None) else None
    return load_policy(Path.cwd(), explicit)


def _sign(args: argparse.Namespace) -> int:
    from nonoc.errors import UsageError
    from nonoc.runtime.trust import keys
    from nonoc.runtime.trust.sign import KeylessSigning, sign_files

    if not args.keyless and (args.identity_token or args.trust_config or args.staging):
        raise UsageError("--identity-token, --trust-config and --staging go with --keyless")
    policy = _policy(args)
    paths = [Path(name) for name in args.files]
    if args.keyless:
        keyless = KeylessSigning(
            token=args.identity_token,
            trust_config=Path(args.trust_config) if args.trust_config else None,
            staging=args.staging,
        )
        written = sign_files(paths, policy, keyless=keyless)
    else:
        written = sign_files(paths, policy, key=keys.load(args.key or "default"))
    for path, signature in zip(paths, written, strict=True):
        print(f"signed {path} -> {signature}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from nonoc.runtime.trust.discover import discover
    from nonoc.runtime.trust.verify import TrustFailure, verify_file

    policy = _policy(args)
    if args.files:
        paths = [Path(name) for name in args.files]
        shown = list(args.files)
        truncated = False
    else:
        root = Path.cwd()
        found = discover(
            root,
            file_names=policy.file_names,
            scripts=policy.scripts,
            max_depth=policy.max_depth,
            max_entries=policy.max_entries,
        )
        paths = list(found.all_files)
        shown = [str(path.relative_to(found.root)) for path in paths]
        truncated = found.truncated
    results: list[dict[str, object]] = []
    failed = 0
    for path, name in zip(paths, shown, strict=True):
        try:
            verified = verify_file(path, policy, display=name)
        except TrustFailure as failure:
            failed += 1
            results.append(
                {"file": name, "ok": False, "reason": failure.reason, "message": failure.detail}
            )
            if not args.json:
                print(failure.render(), file=sys.stderr)
            continue
        results.append(verified.to_json(name))
        if not args.json:
            print(
                f"ok: {name}: signed by {verified.signer.describe()} at "
                f"{verified.to_json(name)['signed_at']}, trusted as {verified.trusted_as}"
            )
    if args.json:
        document = {
            "ok": failed == 0,
            "policy": {"source": policy.source_label(), "sha256": policy.digest()},
            "files": results,
            "truncated": truncated,
            "notes": list(policy.notes),
        }
        print(json.dumps(document, indent=2, sort_keys=True))
    else:
        for note in policy.notes:
            print(f"note: {note}", file=sys.stderr)
        if not paths:
            print("no instruction files found", file=sys.stderr)
        if truncated:
            print("warning: the walk stopped early; some files were not checked", file=sys.stderr)
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    from nonoc.runtime.trust import keys

    stored = keys.stored_keys()
    policy = _policy(args)
    if args.json:
        document = {
            "keys": [
                {
                    "name": k.name,
                    "algorithm": k.algorithm,
                    "keyid": k.keyid,
                    "private_key": k.location,
                    "public_key": str(k.public_key_path),
                }
                for k in stored
            ],
            "policy": {
                "source": policy.source_label(),
                "sha256": policy.digest(),
                **policy.to_json(),
            },
            "notes": list(policy.notes),
        }
        print(json.dumps(document, indent=2, sort_keys=True))
        return 0
    print("your keys:")
    if not stored:
        print("  (none: create one with 'nono trust keygen')")
    for key in stored:
        where = "OS keyring" if key.location == "keyring" else key.location
        print(f"  {key.name}  {key.algorithm}  {key.keyid[:16]}…  {where}")
    print(
        f"trust policy: {policy.source_label()} (on_failure {policy.on_failure}"
        + (f", max_age_days {policy.max_age_days}" if policy.max_age_days else "")
        + ")"
    )
    if not policy.keys and not policy.identities:
        print("  trusts nobody yet")
    for trusted in policy.keys:
        print(f"  key {trusted.name}  {trusted.keyid[:16]}…")
    for rule in policy.identities:
        print(f"  identity {rule.describe()}")
    if policy.identities:
        print(
            f"  trusted root: {policy.trusted_root or '(none set: keyless signatures cannot verify)'}"
        )
    for note in policy.notes:
        print(f"note: {note}")
    return 0
