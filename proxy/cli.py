"""The `assurance` console command: dispatches to one module per subcommand in `proxy.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from proxy.commands import certify, demo, evaluate, nli, serve, verify, view

# subcommand name -> (module in proxy.commands, one-line help)
_SUBCOMMANDS: dict[str, tuple[ModuleType, str]] = {
    "serve": (serve, "run the proxy server"),
    "certify": (certify, "print the bundle JSON for a recorded scenario"),
    "verify": (verify, "re-check a bundle offline; exit 0 when valid, 1 otherwise"),
    "view": (view, "write the card viewer HTML page for a bundle"),
    "demo": (demo, "run an offline end-to-end demonstration"),
    "eval": (evaluate, "evaluation harnesses (e.g. `eval grounding`)"),
    "nli": (nli, "train, evaluate and export the embedded NLI model"),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser: one sub-parser per subcommand module."""
    parser = argparse.ArgumentParser(prog="assurance", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in _SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `assurance` command."""
    args = build_parser().parse_args(argv)
    code: int = args._run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
