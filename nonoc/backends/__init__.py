"""Backends: each lowers a ``nonoc.ir.Policy`` to one kernel's artifact, in the same shape."""
