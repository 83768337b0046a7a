"""Redaction rules for command lines written to the audit trail."""

from __future__ import annotations

import pytest

from nonoc.runtime.audit.redact import REDACTED, redact_argv

R = REDACTED


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["tool", "--token", "abc"], ["tool", "--token", R]),
        (["tool", "--token=abc"], ["tool", f"--token={R}"]),
        (["tool", "--password", "hunter2", "next"], ["tool", "--password", R, "next"]),
        (["tool", "--api-key=k", "--api_key", "k"], ["tool", f"--api-key={R}", "--api_key", R]),
        (["tool", "--client-secret", "s"], ["tool", "--client-secret", R]),
        (["tool", "--auth", "user:pw"], ["tool", "--auth", R]),
        (["tool", "--key", "k1"], ["tool", "--key", R]),
        (["tool", "--keep", "3"], ["tool", "--keep", "3"]),
        (["tool", "--verbose", "-p", "fix it"], ["tool", "--verbose", "-p", "fix it"]),
        (
            ["env", "GITHUB_TOKEN=ghp", "PGPASSWORD=pw", "AWS_SECRET_ACCESS_KEY=x", "CC=gcc"],
            ["env", f"GITHUB_TOKEN={R}", f"PGPASSWORD={R}", f"AWS_SECRET_ACCESS_KEY={R}", "CC=gcc"],
        ),
        (["curl", "-H", "Authorization: Bearer abc.def"], ["curl", "-H", f"Authorization: {R}"]),
        (["curl", "--header=X-Api-Key: 123"], ["curl", f"--header=X-Api-Key: {R}"]),
        (["curl", "-H", "Accept: text/html"], ["curl", "-H", "Accept: text/html"]),
        (
            ["git", "clone", "https://user:s3cret@github.com/o/r"],
            ["git", "clone", f"https://user:{R}@github.com/o/r"],
        ),
        (
            ["curl", "https://api.x.io/v1?access_token=zzz&page=2"],
            ["curl", f"https://api.x.io/v1?access_token={R}&page=2"],
        ),
        (["tool", "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"], ["tool", R]),
        (["tool", "token is dGhpcyBpcyBhIHNlY3JldCB0b2tlbiAxMjM0NQ=="], ["tool", f"token is {R}"]),
        (["aws", "AKIAIOSFODNN7EXAMPLE"], ["aws", R]),
        (["git", "checkout", "3f2a9c1b7e4d5a6b8c9d0e1f2a3b4c5d6e7f8a9b"], ["git", "checkout", R]),
        (["git", "checkout", "3f2a9c1"], ["git", "checkout", "3f2a9c1"]),
        (
            ["cat", "/usr/lib/python3.11/site-packages/some_long_package_name/module.py"],
            ["cat", "/usr/lib/python3.11/site-packages/some_long_package_name/module.py"],
        ),
        (
            ["tool", "ThisIsAVeryLongIdentifierName123"],
            ["tool", "ThisIsAVeryLongIdentifierName123"],
        ),
        (["tool", "--token"], ["tool", "--token"]),
    ],
)
def test_redaction(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv) == expected
