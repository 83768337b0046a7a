"""``nonoc compile``: turn a profile into a signed bundle file."""

from __future__ import annotations

import argparse
import os
import sys

HELP = "compile a profile (name or .nono file) into a signed bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``nonoc compile``'s arguments."""
    parser.add_argument(
        "source", metavar="PROFILE|FILE", help="a profile name or a path to a .nono file"
    )
    parser.add_argument(
        "--target",
        default=None,
        choices=("linux", "macos", "all"),
        help="platform(s) to compile for (default: this machine's)",
    )
    parser.add_argument("--arch", default=None, help="CPU architecture (default: this machine's)")
    parser.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="OUT",
        help="bundle file (default: PROFILE.bundle; '-' for stdout)",
    )
    parser.add_argument(
        "--profile", default=None, help="which profile of FILE to compile, when it holds several"
    )
    parser.add_argument(
        "--key",
        default="default",
        metavar="NAME",
        help="signing key name, or a path to a PEM file (default: default)",
    )
    parser.add_argument(
        "--unsigned",
        action="store_true",
        help="write an envelope without signatures (nono exec refuses it)",
    )
    parser.add_argument(
        "--sign",
        choices=("key", "sigstore"),
        default="key",
        help="key: sign with --key (default); sigstore: keyless, through Sigstore (needs the "
        "network and an OIDC identity token)",
    )
    parser.add_argument(
        "--identity-token",
        metavar="JWT",
        default=None,
        help="with --sign sigstore: the OIDC identity token (default: $SIGSTORE_ID_TOKEN, or "
        "the CI's ambient credential)",
    )
    parser.add_argument(
        "--trust-config",
        metavar="FILE",
        default=None,
        help="with --sign sigstore: a Sigstore client trust config naming another instance",
    )
    parser.add_argument(
        "--staging", action="store_true", help="with --sign sigstore: Sigstore's staging instance"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="compile even if the cache holds this bundle"
    )


def run(args: argparse.Namespace) -> int:
    """Compile, print warnings as ``file:line:col: warning: …``, write the bundle."""
    from nonoc.bundle.keys import write_atomic
    from nonoc.compile import compile_profile
    from nonoc.launch.verify import native_target

    keyless = args.sign == "sigstore"
    if keyless and args.unsigned:
        from nonoc.errors import UsageError

        raise UsageError("--unsigned and --sign sigstore contradict each other; choose one")
    if not keyless and (args.identity_token or args.trust_config or args.staging):
        from nonoc.errors import UsageError

        raise UsageError("--identity-token, --trust-config and --staging go with --sign sigstore")
    result = compile_profile(
        args.source,
        args.target or native_target(),
        args.arch,
        args.key,
        profile=args.profile,
        unsigned=args.unsigned or keyless,
        use_cache=not args.no_cache,
    )
    for warning in result.warnings:
        print(warning, file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    data, how = result.data, "unsigned" if args.unsigned else "signed"
    if keyless:
        from pathlib import Path

        from nonoc.bundle.keyless import sign_keyless

        signed = sign_keyless(
            result.data,
            identity_token=args.identity_token,
            trust_config=Path(args.trust_config) if args.trust_config else None,
            staging=args.staging,
        )
        data, how = signed.data, f"signed keyless as {signed.identity} (issuer {signed.issuer})"
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    output = args.output or f"{result.profile}.bundle"
    try:
        if _is_special(output):
            # A device or pipe (/dev/null, /dev/stdout, a FIFO): a temp file and a rename
            # would replace it with a regular file, which as root destroys /dev/null.
            with open(output, "wb") as handle:
                handle.write(data)
        else:
            write_atomic(output, data, mode=0o644)
    except OSError as exc:
        from nonoc.errors import NonoError

        raise NonoError(f"cannot write {output}: {exc.strerror}") from None
    origin = " (from cache)" if result.cached else ""
    print(f"wrote {output}: {how}{origin}", file=sys.stderr)
    return 0


def _is_special(path: str) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a directory."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
