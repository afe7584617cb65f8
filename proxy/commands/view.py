"""`assurance view BUNDLE.json|- -o card.html`: write the card viewer page for a bundle.

The page re-verifies the bundle as it is written (`proxy.viewer.page.card_page`); `--public-key`
pins the signer as `assurance verify` does. Exit 0 when the page was written (whatever the
verification result, which the page shows), 2 when the bundle or key cannot be read or the output
cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxy.viewer.page import card_page


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `assurance view`."""
    parser.add_argument("bundle", help="bundle JSON file, or - for stdin")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="HTML file to write")
    parser.add_argument(
        "--public-key", metavar="HEX", help="require a signature by this Ed25519 key (64 hex)"
    )


def run(args: argparse.Namespace) -> int:
    """Write the page and print its path (the page itself shows the verification result)."""
    try:
        data = sys.stdin.buffer.read() if args.bundle == "-" else Path(args.bundle).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return 2
    keys = None
    if args.public_key is not None:
        try:
            keys = [bytes.fromhex(args.public_key)]
        except ValueError:
            print("error: --public-key must be 64 hex characters", file=sys.stderr)
            return 2
    page = card_page(data, trusted_keys=keys)
    try:
        Path(args.output).write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    print(args.output)
    return 0
