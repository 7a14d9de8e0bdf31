"""Command-line interface (``corrbench ...``); one module per subcommand."""
