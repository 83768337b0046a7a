"""Credential routes in a proxy block: parsing, checks, extends, formatting, the bundle."""

from __future__ import annotations

import pytest

from nonoc.bundle.payload import launch_settings
from nonoc.format import format_text
from nonoc.syntax.parser import parse_statements
from tests.resolve.conftest import error, policy

UP = 'upstream "https://a.test"'
SECRET = 'secret "env://A"'
ROUTE = """\
profile p {
  network proxy {
    allow "api.example.com"
    credential "example" {
      upstream "https://api.example.com/v1/"
      secret "keyring://example"
      header "x-api-key"
      format "{secret}"
    }
  }
}
"""


def test_a_route_resolves_with_its_fields_and_provenance() -> None:
    network = policy(ROUTE).network
    assert [h.pattern for h in network.proxy_hosts] == ["api.example.com"]
    (route,) = network.credential_routes
    assert (route.name, route.upstream, route.header, route.value_format, route.secret_ref) == (
        "example",
        "https://api.example.com/v1",
        "x-api-key",
        "{secret}",
        "keyring://example",
    )
    assert (route.provenance.file, route.provenance.line, route.provenance.column) == (
        "p.nono",
        4,
        5,
    )


def test_defaults_are_a_bearer_authorization_header() -> None:
    text = f'profile p {{ network proxy {{ credential "svc" {{ {UP} {SECRET} }} }} }}'
    (route,) = policy(text).network.credential_routes
    assert (route.header, route.value_format) == ("Authorization", "Bearer {secret}")


def test_a_child_route_of_the_same_name_replaces_the_parents() -> None:
    text = (
        ROUTE + 'profile q extends p { network proxy { credential "example" {'
        ' upstream "https://other.test" secret "file:///run/secret" } } }\n'
    )
    (route,) = policy(text, profile="q").network.credential_routes
    assert (route.upstream, route.secret_ref, route.header) == (
        "https://other.test",
        "file:///run/secret",
        "Authorization",
    )


def test_two_different_routes_of_one_name_side_by_side_conflict() -> None:
    text = """\
profile p {
  network proxy { credential "a" { upstream "https://a.test" secret "env://A" } }
  network proxy { credential "a" { upstream "https://b.test" secret "env://A" } }
}
"""
    assert "conflicting settings: 'credential \"a\"' here" in str(error(text))


@pytest.mark.parametrize(
    ("body", "at", "message"),
    [
        (f'"Bad Name" {{ {UP} {SECRET} }}', '"Bad Name"', "bad credential route name"),
        (f'"a" {{ upstrem "https://a.test" {SECRET} }}', "upstrem", "did you mean 'upstream'"),
        (f'"a" {{ {SECRET} }}', "credential", "needs 'upstream'"),
        (f'"a" {{ {UP} }}', "credential", "needs 'secret'"),
        (f'"a" {{ upstream "http://a.test" {SECRET} }}', '"http:', "must be an https:// URL"),
        (f'"a" {{ upstream "https://u:p@a.test" {SECRET} }}', '"https:', "must not carry"),
        (f'"a" {{ {UP} secret "vault://A" }}', '"vault', "unknown secret reference"),
        (f'"a" {{ {UP} secret "env://1A" }}', '"env', "bad secret reference"),
        (f'"a" {{ {UP} {SECRET} header "x y" }}', '"x y"', "bad header name"),
        (f'"a" {{ {UP} {SECRET} format "Bearer" }}', '"Bearer"', "'{secret}'"),
        (f'"a" {{ {UP} upstream "https://b.test" {SECRET} }}', 'upstream "https://b', "twice"),
    ],
)
def test_bad_routes_are_errors_with_their_position(body: str, at: str, message: str) -> None:
    text = f"profile p {{ network proxy {{ credential {body} }} }}"
    exc = error(text)
    assert message in str(exc)
    assert f"p.nono:1:{text.index(at) + 1}:" in exc.render()


def test_a_route_needs_proxy_mode() -> None:
    text = f'profile p {{ network open {{ credential "a" {{ {UP} {SECRET} }} }} }}'
    assert "a credential route needs 'network proxy'" in str(error(text))


def test_credential_stays_a_usable_name_elsewhere() -> None:
    (use,) = parse_statements("use credential", "t.nono")
    assert [w.text for w in use.groups] == ["credential"]  # type: ignore[attr-defined]


def test_format_prints_routes_as_blocks_in_source_order_with_comments() -> None:
    text = (
        'profile p {\n  network proxy { allow "a.test"  # first\n'
        '  credential "r" {   upstream "https://r.test"  # up\n'
        '  secret "env://R" }\n  allow "b.test" }\n}\n'
    )
    assert format_text(text, "p.nono") == (
        "profile p {\n"
        "  network proxy {\n"
        '    allow "a.test"  # first\n'
        '    credential "r" {\n'
        '      upstream "https://r.test"  # up\n'
        '      secret "env://R"\n'
        "    }\n"
        '    allow "b.test"\n'
        "  }\n"
        "}\n"
    )
    assert format_text(ROUTE, "p.nono") == ROUTE


def test_the_bundle_launch_section_names_routes_only_when_there_are_some() -> None:
    section = launch_settings(policy(ROUTE))
    assert section["credential_routes"] == [
        {
            "id": "c0",
            "name": "example",
            "upstream": "https://api.example.com/v1",
            "header": "x-api-key",
            "value_format": "{secret}",
            "secret_ref": "keyring://example",
        }
    ]
    assert "credential_routes" not in launch_settings(policy("profile p { network proxy }"))
