"""One module per `rt-samplernn` subcommand: `register(subparsers, formatter)` adds it, `run(args)` does it."""
