"""Command-line entry points: argument parsing and printing only; the work is done elsewhere."""
