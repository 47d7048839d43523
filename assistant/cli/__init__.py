"""The command-line shell."""
