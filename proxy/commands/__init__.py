"""One module per `assurance` subcommand; each exposes `add_arguments(parser)` and `run(args) -> int`."""
