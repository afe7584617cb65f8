"""One module per `assurance` subcommand.

Each exposes `add_arguments(parser)` and `run(args) -> int`; `proxy.cli` wires them up.
"""
