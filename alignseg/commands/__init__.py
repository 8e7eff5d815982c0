"""One module per ``alignseg`` subcommand; each exposes ``register(subparsers)``."""
