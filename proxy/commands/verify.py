"""`assurance verify BUNDLE.json|-`: re-check a bundle offline (SPEC 6).

Reads the bundle from a file or standard input (`-`), runs `certifiers.verify.check_bundle` and
prints `valid` (exit 0), followed by one `note: ...` line per datum taken as recorded rather than
re-derived (non-inlined embedding measurements, an absent or unpinned signature), or one failed
obligation per line (exit 1). A bundle that is not JSON or
does not match the schema is an invalid bundle: its decoding failure is printed as an obligation and
the exit status is 1. Only a file that cannot be read at all (missing, a directory, no permission)
or a malformed `--public-key` exits 2, with a one-line message on standard error: there was nothing
to verify. `--public-key HEX` (repeatable) pins the signer: the bundle must then carry a valid
signature by one of those keys. `--response FILE` also checks a saved chat completion against the
bundle: its `assurance.claims` and, with inline citations, its content must be what the bundle
implies (`certifiers.verification.citations.check_response`). No model or oracle is called; this
module only does IO around the trusted check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from certifiers.ed25519 import PUBLIC_KEY_BYTES
from certifiers.verification.citations import check_response
from certifiers.verify import check_bundle

__all__ = ["EXIT_INVALID", "EXIT_UNREADABLE", "EXIT_VALID", "add_arguments", "run"]

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the `verify` arguments."""
    parser.add_argument(
        "bundle",
        metavar="BUNDLE.json|-",
        help="bundle JSON file to re-check, or - to read it from standard input",
    )
    parser.add_argument(
        "--public-key",
        action="append",
        default=None,
        metavar="HEX",
        help="trusted Ed25519 public key (64 hex characters, repeatable): the bundle must be "
        "signed by one of them",
    )
    parser.add_argument(
        "--response",
        metavar="FILE",
        help="a chat completion JSON (as received): its assurance.claims and inline citations "
        "must follow from the bundle",
    )


def _trusted_keys(given: list[str] | None) -> list[bytes] | None:
    """Parse --public-key values; None when none were given; raise ValueError on bad hex."""
    if given is None:
        return None
    keys = []
    for text in given:
        key = bytes.fromhex(text)
        if len(key) != PUBLIC_KEY_BYTES:
            raise ValueError(f"expected {2 * PUBLIC_KEY_BYTES} hex characters, got {len(text)}")
        keys.append(key)
    return keys


def _read(source: str) -> bytes | None:
    """The bundle bytes, or None after printing why the source cannot be read."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        print(f"error: cannot read bundle file {source!r}: {reason}", file=sys.stderr)
        return None


def run(args: argparse.Namespace) -> int:
    """Verify one bundle; print `valid` or each failed obligation; return the exit status."""
    source: str = args.bundle
    try:
        trusted = _trusted_keys(args.public_key)
    except ValueError as exc:
        print(f"error: --public-key: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    data = _read(source)
    if data is None:
        return EXIT_UNREADABLE
    if args.response is not None:
        raw = _read(args.response)
        if raw is None:
            return EXIT_UNREADABLE
        try:
            response = json.loads(raw)
        except ValueError:
            print(f"error: {args.response!r} is not JSON", file=sys.stderr)
            return EXIT_UNREADABLE
        result = check_response(data, response, trusted_keys=trusted)
    else:
        result = check_bundle(data, trusted_keys=trusted)
    if result.ok:
        print("valid")
        for note in result.notes:
            print(f"note: {note}")
        return EXIT_VALID
    for failure in result.failures:
        print(failure)
    return EXIT_INVALID
