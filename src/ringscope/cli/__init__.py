"""The `ringscope` command: one module per subcommand (<name>_cmd.py with
register() and run()), options shared by several in options.py, and the
one boundary where errors become a line on stderr and an exit code (main.py)."""
