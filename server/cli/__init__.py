"""The command line: serve, admin commands and the demo network."""
