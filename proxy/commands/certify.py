"""`assurance certify SCENARIO.json|-`: print the canonical bundle JSON for a recorded scenario.

Reads the scenario file (or stdin for `-`), certifies it with the pure core and prints the bundle.
A malformed scenario is reported on stderr with the offending field path and exit status 2; any
other certifier error (and, as a last resort, a ValueError or RecursionError) also exits 2 with a
one-line message: it never prints a traceback. It does not sign (signing needs the server's key
configuration).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certifiers.builders import certify
from certifiers.bundle import encode_bundle
from certifiers.errors import CertifierError, ScenarioError
from certifiers.scenario import decode_scenario

EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the command's arguments."""
    parser.add_argument("scenario", help="scenario JSON file, or - for standard input")


def _read(source: str) -> bytes:
    if source == "-":
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def run(args: argparse.Namespace) -> int:
    """Certify the scenario and print its bundle; 2 on unreadable or malformed input."""
    source: str = args.scenario
    try:
        data = _read(source)
    except OSError as exc:
        print(f"assurance certify: cannot read {source}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        bundle = certify(decode_scenario(data))
    except ScenarioError as exc:
        print(f"assurance certify: malformed scenario {source}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CertifierError as exc:
        print(f"assurance certify: cannot certify {source}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, RecursionError) as exc:  # last resort: a message, never a traceback
        reason = "input nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        print(f"assurance certify: cannot certify {source}: {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(encode_bundle(bundle).decode() + "\n")
    return 0
