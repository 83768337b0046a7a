"""Redaction of secrets from command lines before they are written to the audit trail.

Rules, each applied to every argument:

- the value of a secret-looking flag: ``--token X``, ``--password=X``, ``--api-key X``,
  ``--client-secret=X``… (a flag whose name mentions pass, pwd, secret, token, key, auth,
  credential, cookie, bearer or signature);
- environment-style assignments with a secret-looking name: ``GITHUB_TOKEN=…``,
  ``PGPASSWORD=…``, ``AWS_SECRET_ACCESS_KEY=…`` (``CC=gcc`` is kept);
- HTTP headers that carry credentials: ``-H 'Authorization: Bearer …'``, ``X-Api-Key: …``;
- passwords in URLs (``https://user:pw@host``) and secret-looking query parameters;
- long opaque strings: 32 or more hex digits, or 32 or more base64/base64url characters
  mixing letters and digits with high entropy, and AWS access key ids.

A full 40-digit commit id is therefore redacted too: it cannot be told from a token.
The rules are conservative by design: a redacted path costs a little clarity, a leaked
token costs an incident.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

REDACTED = "<redacted>"

_SECRET_NAME = re.compile(
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[-_]?key|apikey|access[-_]?key|private[-_]?key"
    r"|(?:^|[-_])key$|^key|auth|credential|cookie|bearer|signature",
    re.IGNORECASE,
)
_ENV = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.DOTALL)
_FLAG = re.compile(r"^(?P<flag>--?[A-Za-z][A-Za-z0-9_.-]*)(?:=(?P<value>.*))?$", re.DOTALL)
_HEADER = re.compile(
    r"^(?P<name>(?:proxy-)?authorization|x-api-key|api-key|x-auth-token|cookie|x-amz-security-token)"
    r"(?P<sep>\s*:\s*)(?P<value>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)(?P<pw>[^/\s@]+)(?P<at>@)"
)
_QUERY_SECRET = re.compile(r"(?P<head>[?&](?P<name>[A-Za-z0-9_.-]+)=)(?P<value>[^&#\s]+)")
_HEX = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32,}(?![0-9A-Fa-f])")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_HEADER_FLAGS = frozenset({"-H", "--header", "--proxy-header"})


def is_secret_name(name: str) -> bool:
    """Whether a flag or variable name looks like it holds a secret."""
    return bool(_SECRET_NAME.search(name.lstrip("-")))


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A copy of ``argv`` with secrets replaced by ``<redacted>``."""
    out: list[str] = []
    hide_next = False
    header_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if header_next:
            out.append(redact_header(arg))
            header_next = False
            continue
        flag = _FLAG.match(arg)
        if flag:
            name, value = flag.group("flag"), flag.group("value")
            if name in _HEADER_FLAGS:
                if value is None:
                    header_next = True
                    out.append(arg)
                else:
                    out.append(f"{name}={redact_header(value)}")
                continue
            if name.startswith("--") and is_secret_name(name):
                if value is None:
                    hide_next = True
                    out.append(arg)
                else:
                    out.append(f"{name}={REDACTED}")
                continue
        out.append(redact_text(arg))
    return out


def redact_header(value: str) -> str:
    """Redact the value of a credential-bearing HTTP header (``Name: value``)."""
    match = _HEADER.match(value)
    if match:
        return f"{match.group('name')}{match.group('sep')}{REDACTED}"
    return redact_text(value)


def redact_text(text: str) -> str:
    """Redact assignments, header lines, URL secrets and opaque tokens inside one string."""
    env = _ENV.match(text)
    if env and is_secret_name(env.group("name")):
        return f"{env.group('name')}={REDACTED}"
    header = _HEADER.match(text)
    if header:
        return f"{header.group('name')}{header.group('sep')}{REDACTED}"
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED + m.group("at"), text)
    text = _QUERY_SECRET.sub(
        lambda m: m.group("head") + REDACTED if is_secret_name(m.group("name")) else m.group(0),
        text,
    )
    text = _AWS_KEY_ID.sub(REDACTED, text)
    text = _HEX.sub(REDACTED, text)
    return _B64.sub(lambda m: REDACTED if _looks_opaque(m.group(0)) else m.group(0), text)


def _looks_opaque(candidate: str) -> bool:
    """A base64-like run that is a token rather than a word or a path."""
    body = candidate.rstrip("=")
    if body.startswith("/") or "//" in body:
        return False
    if not (any(c.isdigit() for c in body) and any(c.isalpha() for c in body)):
        return False
    counts = Counter(body)
    entropy = -sum(n / len(body) * math.log2(n / len(body)) for n in counts.values())
    # Random text switches between lower case, upper case and digits at about two
    # adjacent pairs in three; identifiers (CamelCase, snake_case) far less often.
    classes = [_char_class(c) for c in body]
    switches = sum(a != b for a, b in pairwise(classes)) / (len(body) - 1)
    return entropy >= 4.0 and switches >= 0.45


def _char_class(c: str) -> int:
    return 0 if c.islower() else 1 if c.isupper() else 2 if c.isdigit() else 3
