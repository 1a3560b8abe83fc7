"""RFC 9728 in the core: the resource settings, the document, its locations, the challenges."""

from __future__ import annotations

import json
import logging

import pytest
from dpop_challenge import ALGS, BARE, with_dpop
from resource_metadata_checks import DPOP_MEMBERS

from audmw import ConfigurationError, Settings, diagnostics
from audmw.answer import answer
from audmw.errors import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
)
from audmw.guard import Guard
from audmw.metadata import (
    MEMBERS,
    WELL_KNOWN,
    ResourceMetadata,
    document,
    metadata_url,
    scopes_of,
    well_known_path,
)
from audmw.requirements import DetailRequirement, Requirement
from audmw.settings import DPOP_ALGORITHMS
from audmw.testing import LocalIssuer
from audmw.validator import TokenValidator

ISS = "https://as.example.com"
API = "https://api.example.com"


def settings(**options: object) -> Settings:
    return Settings(issuer=ISS, **options)


# -- settings ------------------------------------------------------------------------------


def test_audience_defaults_to_the_resource_when_only_the_resource_is_set() -> None:
    assert settings(resource=API).audience == (API,)
    # Entra: the RFC 8707 resource is the App ID URI, aud the client id.
    both = settings(resource="https://contoso.example/api", audience="2f5a-client-id")
    assert both.audience == ("2f5a-client-id",)
    assert both.resource == "https://contoso.example/api"


def test_the_resource_is_kept_exactly_as_written() -> None:
    for resource in (API, API + "/", "https://api.example.com/v1/", "http://127.0.0.1:8080/mcp"):
        assert settings(resource=resource).resource == resource


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("http://api.example.com", "http://"),
        ("api.example.com", "not an https:// URL"),
        ("https://api.example.com/#x", "without query, fragment"),
        ("https://api.example.com/?a=b", "without query, fragment"),
        ("https://user@api.example.com/", "user info"),
        ('https://api.example.com/"x', "quotes"),
        ("https://api.example.com/ x", "spaces"),
        ("https://api.example.com/é", "non-ASCII"),
        ("ftp://api.example.com", "not an https:// URL"),
    ],
)
def test_a_resource_that_is_not_an_https_url_is_refused(resource: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        settings(resource=resource)


def test_the_authorization_servers_default_to_the_issuers() -> None:
    found = Settings(issuer=[ISS, "https://other.example.com/"], resource=API)
    assert found.metadata_authorization_servers == (ISS, "https://other.example.com/")
    chosen = settings(resource=API, authorization_servers="https://login.example.com")
    assert chosen.metadata_authorization_servers == ("https://login.example.com",)


def test_a_tenant_template_alone_cannot_be_advertised() -> None:
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    keys = "https://login.microsoftonline.com/common/discovery/v2.0/keys"
    with pytest.raises(ConfigurationError, match="set authorization_servers"):
        Settings(issuer=template, jwks_uri=keys, resource=API)
    named = Settings(
        issuer=template,
        jwks_uri=keys,
        resource=API,
        authorization_servers="https://login.microsoftonline.com/tenant-a/v2.0",
    )
    assert named.metadata_authorization_servers == (
        "https://login.microsoftonline.com/tenant-a/v2.0",
    )


def test_bearer_methods_list_only_what_audmw_accepts() -> None:
    assert settings(resource=API).bearer_methods_supported == ("header",)
    assert settings(resource=API, bearer_methods_supported="").bearer_methods_supported == ()
    for method in ("body", "query"):
        with pytest.raises(ConfigurationError, match="refuses tokens sent in a form body"):
            settings(resource=API, bearer_methods_supported=["header", method])


def test_scopes_supported_are_scope_tokens() -> None:
    assert settings(resource=API, scopes_supported="a b a").scopes_supported == ("a", "b")
    assert settings(resource=API).scopes_supported is None
    with pytest.raises(ConfigurationError, match="not a valid scope"):
        settings(resource=API, scopes_supported=['a"b'])


def test_the_environment_names() -> None:
    found = Settings.from_env(
        {
            "AUDMW_ISSUER": ISS,
            "AUDMW_RESOURCE": API,
            "AUDMW_RESOURCE_NAME": "Example API",
            "AUDMW_RESOURCE_DOCUMENTATION": "https://docs.example.com/api",
            "AUDMW_SCOPES_SUPPORTED": "read write",
            "AUDMW_AUTHORIZATION_SERVERS": "https://login.example.com",
        }
    )
    assert found.audience == (API,)
    assert found.resource_name == "Example API"
    assert found.scopes_supported == ("read", "write")


# -- where the document lives ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "path", "url"),
    [
        (API, WELL_KNOWN, f"{API}{WELL_KNOWN}"),
        (API + "/", WELL_KNOWN, f"{API}{WELL_KNOWN}"),  # §3.1: the lone slash goes
        (API + "/mcp", WELL_KNOWN + "/mcp", f"{API}{WELL_KNOWN}/mcp"),
        (API + "/v1/", WELL_KNOWN + "/v1/", f"{API}{WELL_KNOWN}/v1/"),
        (
            "http://127.0.0.1:8080/mcp",
            WELL_KNOWN + "/mcp",
            f"http://127.0.0.1:8080{WELL_KNOWN}/mcp",
        ),
    ],
)
def test_path_insertion(resource: str, path: str, url: str) -> None:
    assert well_known_path(resource) == path
    assert metadata_url(resource) == url
    metadata = ResourceMetadata(settings(resource=resource))
    assert metadata.paths == {path, WELL_KNOWN}
    assert metadata.url == url


def test_a_percent_encoded_path_is_served_where_the_router_sees_it() -> None:
    metadata = ResourceMetadata(settings(resource=API + "/notes%20v1"))
    assert metadata.url == f"{API}{WELL_KNOWN}/notes%20v1"
    assert metadata.serves("GET", WELL_KNOWN + "/notes v1")


def test_served_only_for_get_and_head_of_the_exact_paths() -> None:
    metadata = ResourceMetadata(settings(resource=API + "/mcp"))
    assert metadata.serves("GET", WELL_KNOWN + "/mcp")
    assert metadata.serves("HEAD", WELL_KNOWN)
    assert metadata.serves("OPTIONS", WELL_KNOWN)
    for method, path in [
        ("POST", WELL_KNOWN),
        ("PUT", WELL_KNOWN),
        ("OPTIONS", "/mcp"),
        ("GET", WELL_KNOWN + "/"),
        ("GET", WELL_KNOWN + "/mcp/"),
        ("GET", WELL_KNOWN + "/other"),
        ("GET", "/mcp"),
        ("GET", WELL_KNOWN.upper()),
    ]:
        assert not metadata.serves(method, path), (method, path)


def test_the_guard_serves_nothing_without_a_resource() -> None:
    guard = Guard(settings(audience=API))
    assert guard.metadata is None

    def never() -> list[Requirement]:
        raise AssertionError("the routes were read")

    assert guard.metadata_answer("GET", WELL_KNOWN, never) is None


# -- the document ---------------------------------------------------------------------------


def test_the_document_exactly() -> None:
    full = settings(
        resource=API + "/mcp",
        resource_name="Example API",
        resource_documentation="https://docs.example.com/api",
        rules=[{"path": "/reports/**", "scopes": ["read:reports"], "any_scopes": ["a", "b"]}],
    )
    served = ResourceMetadata(full).answer([Requirement.of(all_of=["write", "read"]), None])
    assert served.status == 200
    assert dict(served.headers) == {
        "Content-Type": "application/json",
        "Cache-Control": "public, max-age=3600",
        "Access-Control-Allow-Origin": "*",
    }
    assert served.body == (
        b'{"resource": "https://api.example.com/mcp", '
        b'"authorization_servers": ["https://as.example.com"], '
        b'"scopes_supported": ["a", "b", "read", "read:reports", "write"], '
        b'"bearer_methods_supported": ["header"], '
        b'"resource_name": "Example API", '
        b'"resource_documentation": "https://docs.example.com/api", ' + DPOP_MEMBERS + b"}"
    )


def test_authentication_levels_and_details_types_come_from_routes_and_rules() -> None:
    ruled = settings(
        resource=API,
        rules=[{"path": "/pay/**", "authorization_details": ["payment_initiation"]}],
    )
    routes = [
        Requirement.of(acr_values=["urn:mfa", "phr"], max_age=300),
        Requirement.of(details=[DetailRequirement("account_information")]),
        None,
    ]
    body = json.loads(ResourceMetadata(ruled).answer(routes).body)
    assert body["acr_values_supported"] == ["phr", "urn:mfa"]
    assert body["authorization_details_types_supported"] == [
        "account_information",
        "payment_initiation",
    ]
    plain = json.loads(ResourceMetadata(settings(resource=API)).answer([]).body)
    assert "acr_values_supported" not in plain
    assert "authorization_details_types_supported" not in plain


def test_no_empty_members() -> None:
    bare = settings(resource=API, bearer_methods_supported="")
    assert document(bare) == {
        "resource": API,
        "authorization_servers": [ISS],
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "dpop_bound_access_tokens_required": False,  # a value: kept
        "tls_client_certificate_bound_access_tokens": False,
    }
    off = settings(resource=API, bearer_methods_supported="", dpop="off")
    assert "dpop_signing_alg_values_supported" not in document(off)


def test_configured_scopes_replace_the_derived_ones() -> None:
    chosen = settings(
        resource=API, scopes_supported="openid notes", rules=[{"path": "/x", "scopes": ["x"]}]
    )
    body = json.loads(ResourceMetadata(chosen).answer([Requirement.of(all_of=["y"])]).body)
    assert body["scopes_supported"] == ["openid", "notes"]
    nothing = settings(resource=API, scopes_supported="")
    assert "scopes_supported" not in json.loads(ResourceMetadata(nothing).answer().body)


def test_scopes_of_takes_all_of_and_any_of() -> None:
    requirement = Requirement.of(all_of=["b"], any_of=["c", "a"]) & Requirement.of(any_of=["d"])
    assert scopes_of([requirement, None, Requirement()]) == ("a", "b", "c", "d")


def test_the_resource_is_byte_identical_in_the_document() -> None:
    for resource in (API, API + "/", "https://API.example.com:443/Mixed/Case"):
        assert document(settings(resource=resource))["resource"] == resource


def test_another_part_of_the_library_adds_members(monkeypatch: pytest.MonkeyPatch) -> None:
    def proofs(found: Settings, scopes: tuple[str, ...]) -> dict[str, object]:
        return {
            "dpop_signing_alg_values_supported": ["ES256"],
            "dpop_bound_access_tokens_required": False,
            "resource": "ignored",
            "x": [],
            "y": (),
            "z": "",
        }

    monkeypatch.setattr("audmw.metadata.MEMBERS", (MEMBERS[0], proofs))
    found = document(settings(resource=API))
    assert found["dpop_signing_alg_values_supported"] == ["ES256"]
    assert found["resource"] == API  # the identifier is never replaced
    assert found["dpop_bound_access_tokens_required"] is False  # a value, kept
    assert not {"x", "y", "z"} & found.keys()


# -- challenges -----------------------------------------------------------------------------

URL = f"{API}{WELL_KNOWN}"


def test_without_a_resource_the_answers_are_unchanged() -> None:
    guard = Guard(settings(audience=API))
    assert guard.answer(MissingToken("no_token")) == (
        401,
        (
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
            ("WWW-Authenticate", BARE),
        ),
        b'{"error": "unauthorized", "error_description": "A bearer access token is required"}',
    )
    refused = guard.answer(InvalidToken("expired"))
    assert dict(refused.headers)["WWW-Authenticate"] == with_dpop(
        'Bearer error="invalid_token", error_description="The access token is invalid"'
    )


def test_every_challenge_names_the_metadata() -> None:
    guard = Guard(settings(resource=API, realm="api"))
    cases = {
        MissingToken("no_token"): f'Bearer realm="api", resource_metadata="{URL}"',
        InvalidToken("expired"): 'Bearer realm="api", error="invalid_token", '
        f'error_description="The access token is invalid", resource_metadata="{URL}"',
        InsufficientScope(("a", "b")): 'Bearer realm="api", error="insufficient_scope", '
        'error_description="The access token lacks the scope this resource requires", '
        f'scope="a b", resource_metadata="{URL}"',
        InvalidRequest("two_tokens"): 'Bearer realm="api", error="invalid_request", '
        'error_description="The request carries malformed or duplicate credentials", '
        f'resource_metadata="{URL}"',
    }
    dpop = f', DPoP realm="api", resource_metadata="{URL}", {ALGS}'
    for error, expected in cases.items():
        assert dict(guard.answer(error).headers)["WWW-Authenticate"] == expected + dpop
    # An outage has no challenge to carry it.
    assert "WWW-Authenticate" not in dict(guard.answer(KeysUnavailable()).headers)


def test_the_bare_challenge_stays_bare() -> None:
    # RFC 6750 §3.1: no error code when no credentials were sent, metadata or not.
    value = dict(answer(MissingToken("no_token"), None, URL).headers)["WWW-Authenticate"]
    assert value == f'Bearer resource_metadata="{URL}"'
    assert "error" not in value


def test_a_step_up_names_every_scope_the_route_needs_in_one_challenge() -> None:
    requirement = Requirement.of(all_of=["notes:read", "notes:write"], any_of=["x", "y"])
    with LocalIssuer() as issuer:
        validator = TokenValidator(Settings(issuer=issuer.issuer, resource=API))
        token = validator.validate(issuer.mint(aud=API, scopes="notes:read"))
    with pytest.raises(InsufficientScope) as raised:
        requirement.check(token)
    challenge = dict(answer(raised.value, None, URL).headers)["WWW-Authenticate"]
    assert challenge.count("Bearer") == 1
    assert 'scope="notes:read notes:write x y"' in challenge


# -- the diagnostics of another resource's token ----------------------------------------------


def test_a_token_for_another_resource_names_it_and_the_fix(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with LocalIssuer() as issuer:
        validator = TokenValidator(Settings(issuer=issuer.issuer, resource=API + "/mcp"))
        token = issuer.mint(aud="https://reports.example.com", scopes="read:reports")
        with pytest.raises(InvalidToken) as raised:
            validator.validate(token)
    assert raised.value.reason == "aud_mismatch"
    hint = raised.value.hint or ""
    assert "https://reports.example.com" in hint
    assert f"resource={API}/mcp" in hint
    assert token not in hint
    with caplog.at_level(logging.INFO, logger="audmw"):
        diagnostics.log_refusal(raised.value)
    assert "resource=https://api.example.com/mcp" in caplog.text


# -- signed metadata ------------------------------------------------------------------------


def _pem(key: object) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def test_signed_metadata_carries_the_members_signed_with_the_configured_key() -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    found = settings(resource=API, resource_name="Example", metadata_signing_key=_pem(key).decode())
    assert found.metadata_signing_alg == "ES256"
    assert "BEGIN" not in repr(found)
    body = json.loads(ResourceMetadata(found).answer([Requirement.of(all_of=["a"])]).body)
    signed = body.pop("signed_metadata")
    header = jwt.get_unverified_header(signed)
    assert header["alg"] == "ES256"
    assert header["kid"]
    claims = jwt.decode(signed, key.public_key(), algorithms=["ES256"])
    assert claims.pop("iss") == API
    assert isinstance(claims.pop("iat"), int)
    assert claims == body  # the same members, no more


def test_a_signing_key_that_cannot_sign_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        settings(resource=API, metadata_signing_key="-----BEGIN nothing")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(ConfigurationError, match="1024-bit RSA key"):
        settings(resource=API, metadata_signing_key=_pem(weak))
    p256 = _pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigurationError, match="does not fit"):
        settings(resource=API, metadata_signing_key=p256, metadata_signing_alg="RS256")
    with pytest.raises(ConfigurationError, match="no metadata_signing_key"):
        settings(resource=API, metadata_signing_alg="ES256")


def test_without_a_signing_key_there_is_no_signed_metadata() -> None:
    assert "signed_metadata" not in document(settings(resource=API))


def test_the_preflight_lets_any_origin_read_the_document_without_credentials() -> None:
    preflight = ResourceMetadata(settings(resource=API)).answer(method="OPTIONS")
    assert preflight.status == 204
    assert preflight.body == b""
    headers = dict(preflight.headers)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET, HEAD, OPTIONS"
    assert "Access-Control-Allow-Credentials" not in headers


def test_the_routes_are_walked_again_only_when_they_changed() -> None:
    guard = Guard(settings(resource=API))
    walks: list[int] = []

    def requirements() -> list[Requirement]:
        walks.append(1)
        return [Requirement.of(all_of=[f"s{len(walks)}"])]

    first = guard.metadata_answer("GET", WELL_KNOWN, requirements, 1)
    for _ in range(3):
        assert guard.metadata_answer("GET", WELL_KNOWN, requirements, 1) is first
    assert len(walks) == 1
    changed = guard.metadata_answer("GET", WELL_KNOWN, requirements, 2)
    assert changed is not None
    assert json.loads(changed.body)["scopes_supported"] == ["s2"]
    assert guard.metadata_answer("OPTIONS", WELL_KNOWN, requirements, 3) is not None
    assert len(walks) == 2  # a preflight walks nothing
