"""Parse JSON without importing ``json``, whose decoder imports and compiles ``re``.

``re`` is the largest single import a launcher could avoid (about 5 ms here, half of the
interpreter's own start-up; see docs/performance.md). CPython's C scanner (``_json``)
parses a whole document by itself once given a context object holding the options that
``json.JSONDecoder`` would hold; only the whitespace around the document is left to us.
Where ``_json`` is missing (another Python implementation) this falls back to ``json``.
Standard library only.
"""

from __future__ import annotations

_WHITESPACE = " \t\n\r"


def _constant(name: str) -> float:
    # NaN and Infinity are not JSON; bundles never hold them (canonical JSON refuses them).
    raise ValueError(f"invalid JSON constant {name}")


class _Options:
    """What the C scanner reads from a ``JSONDecoder``: strict, standard types, no hooks."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)


_scan = None


def loads(data: str | bytes) -> object:
    """Parse one JSON document (``bytes`` are UTF-8); ``ValueError`` when it is not JSON."""
    global _scan
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if _scan is None:
        try:
            from _json import make_scanner
        except ImportError:  # not CPython: the ordinary module does the same job
            import json

            return json.loads(text)
        # Any object with a decoder's attributes will do; the stub names JSONDecoder.
        _scan = make_scanner(_Options())  # type: ignore[arg-type]
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as stop:
        raise ValueError(f"invalid JSON at offset {stop.value}") from None
    except RecursionError:
        # Untrusted input (an envelope before verification) may nest deeper than the stack.
        raise ValueError("JSON nested too deeply") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"extra data after the JSON document at offset {end}")
    return value
