"""One module per `cunet` subcommand: `HELP`, `add_arguments(parser)`, `run(args) -> int`."""
