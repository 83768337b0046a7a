"""Writing a string literal of the policy language: the inverse of the parser's unescaping.

Every piece of code that writes policy text (the formatter, ``nono run``'s flags, ``nono
learn``, the importer, the Python API) quotes values here, so that what it writes parses
back to the same value.
"""

from __future__ import annotations

#: The characters a literal escapes; the parser reads exactly these escapes back.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def quote(text: str) -> str:
    """``text`` as a policy-language string literal, in double quotes."""
    return '"' + "".join(_ESCAPES.get(char, char) for char in text) + '"'
