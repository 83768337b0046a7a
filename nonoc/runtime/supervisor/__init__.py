"""The supervisor (see docs/supervisor.md)."""
