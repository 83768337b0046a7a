"""``nonoc keygen``: create an Ed25519 signing key and trust it on this machine."""

from __future__ import annotations

import argparse

HELP = "create a signing key (OS keyring, or a 0600 file) and trust it for nono exec"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nonoc keygen``'s arguments."""
    parser.add_argument(
        "--name", default=None, help="key name (default: 'default', or FILE's stem with --file)"
    )
    parser.add_argument(
        "--file",
        default=None,
        metavar="PATH",
        help="keep the private key in this PEM file instead of the keyring",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing key of that name")


def run(args: argparse.Namespace) -> int:
    """Make the key, say where its halves went."""
    from pathlib import Path

    from nonoc.bundle.keys import DEFAULT_KEY, generate_key, keys_dir
    from nonoc.launch.verify import trusted_keys_dir

    name = args.name or (Path(args.file).stem if args.file else DEFAULT_KEY)
    key = generate_key(name, file=args.file, force=args.force)
    print(f"created signing key '{key.name}' (ed25519, id {key.keyid})")
    if key.storage == "keyring":
        print(f"  private key: {key.where()}")
    elif args.file:
        print(f"  private key: {key.storage} (0600)")
    else:
        print(f"  private key: {key.storage} (0600; no usable OS keyring)")
    if not args.file:
        print(f"  public key:  {Path(keys_dir()) / (key.name + '.pub')}")
    print(f"  trusted:     {Path(trusted_keys_dir()) / (key.name + '.pub')}")
    if args.file:
        print(f"  sign with:   nonoc compile PROFILE --key {args.file}")
    elif key.name != DEFAULT_KEY:
        print(f"  sign with:   nonoc compile PROFILE --key {key.name}")
    return 0
