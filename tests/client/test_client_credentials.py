"""``ClientCredentials`` against the local issuer over HTTP: client authentication, caching,
one request under concurrency, retry once on 401, errors and what they never show."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx
import jwt
import pytest
from starlette.types import Receive, Scope, Send

from audmw import Settings, TokenValidator
from audmw.client import (
    ClientCredentials,
    ClientSecretPost,
    IssuedToken,
    PrivateKeyJwt,
    TokenEndpointUnavailable,
    TokenRequestError,
)
from audmw.examples.starlette_app import create_app as starlette_app
from audmw.testing import LocalIssuer, SigningKey, generate_key

from .conftest import API, SECRET, Clock


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_client_secret_basic_is_the_default_and_form_encodes_id_and_secret(
    issuer: LocalIssuer,
) -> None:
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=API
    )
    token = auth.token()
    sent = issuer.token_endpoint.log[-1]
    scheme, _, encoded = sent["authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    assert password != SECRET  # RFC 6749 §2.3.1: form-encoded first
    assert (unquote_plus(user), unquote_plus(password)) == ("svc", SECRET)
    assert "client_secret" not in sent["form"]
    assert sent["form"]["grant_type"] == ["client_credentials"]
    assert sent["form"]["audience"] == [API]
    # Discovery found the token endpoint, and the discovery document tells the truth.
    assert issuer.discovery_requests == 1
    assert issuer.metadata()["token_endpoint"] == issuer.token_url
    claims = TokenValidator(Settings(issuer=issuer.issuer, audience=API)).validate(
        token.access_token
    )
    assert claims.client_id == "svc"


def test_client_secret_post_sends_the_secret_in_the_form(issuer: LocalIssuer) -> None:
    auth = ClientCredentials(
        token_url=issuer.token_url,
        client_id="svc",
        client_secret=SECRET,
        auth_method="client_secret_post",
        resource=API,
        scope=["read:messages"],
    )
    assert claims_of(auth.token().access_token)["aud"] == API
    sent = issuer.token_endpoint.log[-1]
    assert sent["authorization"] is None
    assert sent["form"]["client_id"] == ["svc"]
    assert sent["form"]["client_secret"] == [SECRET]
    assert sent["form"]["resource"] == [API]
    assert sent["form"]["scope"] == ["read:messages"]
    assert issuer.discovery_requests == 0  # token_url given: no discovery


def test_resource_is_repeatable_and_the_token_names_each(issuer: LocalIssuer) -> None:
    other = "https://reports.example.com"
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, resource=[API, other]
    )
    assert claims_of(auth.token().access_token)["aud"] == [API, other]
    assert issuer.token_endpoint.log[-1]["form"]["resource"] == [API, other]


def test_private_key_jwt_assertion_names_the_issuer_as_its_only_audience(
    issuer: LocalIssuer, client_key: SigningKey
) -> None:
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="keyed", private_key=client_key, audience=API
    )
    assert claims_of(auth.token().access_token)["client_id"] == "keyed"
    ClientCredentials(issuer=issuer.issuer, client_id="keyed", private_key=client_key).token()
    first, second = (entry["form"] for entry in issuer.token_endpoint.log[-2:])
    for form in (first, second):
        assert form["client_assertion_type"] == [
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ]
        assert form["client_id"] == ["keyed"]
    assertion = first["client_assertion"][0]
    header = jwt.get_unverified_header(assertion)
    assert header == {"alg": "ES256", "typ": "client-authentication+jwt", "kid": "client-key-1"}
    claims = jwt.decode(
        assertion,
        client_key.private_key.public_key(),
        algorithms=["ES256"],
        options={"verify_aud": False},
    )
    assert set(claims) == {"iss", "sub", "aud", "jti", "iat", "exp"}
    assert claims["iss"] == claims["sub"] == "keyed"
    assert claims["aud"] == issuer.issuer  # a string, never an array; not the token endpoint
    assert claims["exp"] - claims["iat"] == 60
    other = claims_of(second["client_assertion"][0])
    assert other["jti"] != claims["jti"]  # a fresh jti each time


def test_private_key_jwt_token_endpoint_audience_is_an_explicit_option(
    issuer: LocalIssuer, client_key: SigningKey
) -> None:
    # The local issuer enforces the issuer-only rule: the old spelling is refused...
    old_style = ClientCredentials(
        issuer=issuer.issuer,
        client_id="keyed",
        private_key=client_key,
        assertion_audience="token_endpoint",
    )
    with pytest.raises(TokenRequestError) as refused:
        old_style.token()
    assert refused.value.error == "invalid_client"
    assert "assertion_audience='token_endpoint'" in (refused.value.hint or "")
    assertion = issuer.token_endpoint.log[-1]["form"]["client_assertion"][0]
    assert claims_of(assertion)["aud"] == issuer.token_url
    # ... and accepted by a server registered to want it.
    issuer.register_client("legacy", keys=[client_key], assertion_audience="token_endpoint")
    legacy = ClientCredentials(
        issuer=issuer.issuer,
        client_id="legacy",
        private_key=client_key,
        assertion_audience="token_endpoint",
    )
    assert claims_of(legacy.token().access_token)["client_id"] == "legacy"


def test_private_key_jwt_without_an_issuer_is_refused_at_construction(
    client_key: SigningKey,
) -> None:
    with pytest.raises(ValueError, match="issuer identifier"):
        ClientCredentials(
            token_url="https://as.example/token", client_id="c", private_key=client_key
        )


def test_the_local_issuer_refuses_assertions_aimed_elsewhere_or_replayed(
    issuer: LocalIssuer, client_key: SigningKey
) -> None:
    def post(assertion: str) -> httpx.Response:
        return httpx.post(
            issuer.token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
            },
        )

    def signed(aud: Any, **extra: Any) -> str:
        auth = PrivateKeyJwt("keyed", client_key, assertion_audience="issuer")
        claims = claims_of(auth.assertion(issuer=issuer.issuer, endpoint=issuer.token_url))
        claims.update(aud=aud, **extra)
        return jwt.encode(
            claims,
            client_key.private_key,
            algorithm="ES256",
            headers={"kid": client_key.kid, "typ": "client-authentication+jwt"},
        )

    assert post(signed(issuer.issuer)).status_code == 200
    assert post(signed([issuer.issuer])).status_code == 200  # one-element array
    for aud in ([issuer.issuer, issuer.token_url], issuer.token_url, "https://elsewhere"):
        answer = post(signed(aud))
        assert answer.status_code == 401
        assert answer.json()["error"] == "invalid_client"
    replayed = signed(issuer.issuer)
    assert post(replayed).status_code == 200
    assert post(replayed).json()["error"] == "invalid_client"
    other_key = generate_key("ec-p256", "client-key-1")
    forged = jwt.encode(claims_of(signed(issuer.issuer)), other_key.private_key, algorithm="ES256")
    assert post(forged).status_code == 401


# -- caching ----------------------------------------------------------------------------------


def test_a_token_is_reused_until_shortly_before_it_expires(
    issuer: LocalIssuer, clock: Clock
) -> None:
    auth = ClientCredentials(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=API,
        clock=clock,
        expiry_margin=30,
    )
    first = auth.token()
    clock.now += 300 - 31  # the issuer's tokens live 300 s
    assert auth.token() is first
    assert issuer.token_endpoint.requests == 1
    clock.now += 1  # within the margin: a new one
    second = auth.token()
    assert second is not first
    assert issuer.token_endpoint.requests == 2
    # Another target or scope is another token.
    auth_scoped = ClientCredentials(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=API,
        scope="read:messages",
        clock=clock,
        cache=auth.cache,
    )
    assert auth_scoped.token() is not second
    assert issuer.token_endpoint.requests == 3
    same = ClientCredentials(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=API,
        clock=clock,
        cache=auth.cache,
    )
    assert same.token() is second  # a shared cache: the same (server, client, target, scopes)


def test_a_short_lived_token_is_used_for_half_its_life(issuer: LocalIssuer, clock: Clock) -> None:
    issuer.token_endpoint.token_lifetime = 20
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, clock=clock
    )
    first = auth.token()
    clock.now += 9
    assert auth.token() is first
    clock.now += 1
    assert auth.token() is not first


def test_one_token_request_for_100_concurrent_threads(issuer: LocalIssuer) -> None:
    from audmw.examples.flask_app import create_app as flask_app

    api = flask_app(Settings(issuer=issuer.issuer, audience=API))
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=API
    )
    statuses: list[int] = []
    start = threading.Barrier(100)

    def call() -> None:
        start.wait()
        with httpx.Client(transport=httpx.WSGITransport(app=api), auth=auth) as client:
            statuses.append(client.get("http://api.test/api/me").status_code)

    threads = [threading.Thread(target=call) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 100
    assert issuer.token_endpoint.requests == 1
    assert auth.requests == 1


def test_one_token_request_for_100_concurrent_tasks(issuer: LocalIssuer) -> None:
    api = starlette_app(Settings(issuer=issuer.issuer, audience=API))
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=API
    )

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            answers = await asyncio.gather(
                *(client.get("http://api.test/api/me") for _ in range(100))
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(main()) == [200] * 100
    assert issuer.token_endpoint.requests == 1


# -- one retry after a 401 invalid_token --------------------------------------------------


class Counted:
    """An ASGI app and the Authorization headers it received."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            self.seen.append(headers.get(b"authorization", b"").decode())
        await self.app(scope, receive, send)


def test_a_401_invalid_token_gets_one_retry_with_a_fresh_token(
    issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "audmw.client")
    api = Counted(starlette_app(Settings(issuer=issuer.issuer, audience=API)))
    auth = ClientCredentials(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=API,
        scope="write:messages",
    )
    refused = auth.token()
    issuer.rotate("RS256", keep_old=False)  # the cached token's key is gone: the API refuses it

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            return await client.post("http://api.test/api/messages", json={"text": "hi"})

    answer = asyncio.run(main())
    assert answer.status_code == 201  # the body was sent again
    assert len(api.seen) == 2
    assert api.seen[0] == f"Bearer {refused.access_token}"
    assert api.seen[1] != api.seen[0]
    assert issuer.token_endpoint.requests == 2
    assert f"api.test/api/messages refused token {refused.fingerprint}" in caplog.text
    assert refused.access_token not in caplog.text
    assert api.seen[1].removeprefix("Bearer ") not in caplog.text


def test_a_second_refusal_is_returned_not_retried(issuer: LocalIssuer) -> None:
    # Every token of this client is for another API: refused each time.
    issuer.register_client("elsewhere", secret=SECRET, default_audience="https://other.example")
    api = Counted(starlette_app(Settings(issuer=issuer.issuer, audience=API)))
    auth = ClientCredentials(issuer=issuer.issuer, client_id="elsewhere", client_secret=SECRET)

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            return await client.get("http://api.test/api/me")

    answer = asyncio.run(main())
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]
    assert len(api.seen) == 2
    assert issuer.token_endpoint.requests == 2


def test_the_blocking_client_retries_once_too(issuer: LocalIssuer) -> None:
    from audmw.examples.flask_app import create_app as flask_app

    app = flask_app(Settings(issuer=issuer.issuer, audience=API))
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=API
    )
    auth.token()
    issuer.rotate("RS256", keep_old=False)
    with httpx.Client(transport=httpx.WSGITransport(app=app), auth=auth) as client:
        answer = client.get("http://api.test/api/me")
    assert answer.status_code == 200
    assert answer.json()["sub"] == "svc"
    assert issuer.token_endpoint.requests == 2


def test_a_403_or_a_bare_401_is_not_retried(issuer: LocalIssuer) -> None:
    api = Counted(starlette_app(Settings(issuer=issuer.issuer, audience=API)))
    auth = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=API
    )

    async def main() -> httpx.Response:
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            return await client.get("http://api.test/api/admin")

    assert asyncio.run(main()).status_code == 403
    assert len(api.seen) == 1
    assert issuer.token_endpoint.requests == 1


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "options", "error", "hint"),
    [
        ("svc", {"client_secret": "wrong"}, "invalid_client", "check client_id and the secret"),
        ("nobody", {"client_secret": SECRET}, "invalid_client", "check client_id"),
        (
            "picky",
            {"client_secret": SECRET, "resource": "https://other.example"},
            "invalid_target",
            "resource=<the API's identifier>",
        ),
        ("svc", {"client_secret": SECRET, "scope": "admin"}, "invalid_scope", "scopes"),
        ("needs-audience", {"client_secret": SECRET}, "access_denied", "resource="),
    ],
)
def test_oauth_errors_name_the_error_and_the_fix(
    issuer: LocalIssuer, client_id: str, options: dict[str, Any], error: str, hint: str
) -> None:
    auth = ClientCredentials(issuer=issuer.issuer, client_id=client_id, **options)
    with pytest.raises(TokenRequestError) as raised:
        auth.token()
    assert raised.value.error == error
    assert raised.value.error_description
    assert hint in (raised.value.hint or "")
    assert error in str(raised.value)
    assert "fix:" in str(raised.value)


def test_unauthorized_client(issuer: LocalIssuer) -> None:
    issuer.register_client("no-cc", secret=SECRET, grant_types={"urn:x"})
    with pytest.raises(TokenRequestError) as raised:
        ClientCredentials(issuer=issuer.issuer, client_id="no-cc", client_secret=SECRET).token()
    assert raised.value.error == "unauthorized_client"
    assert "client_credentials grant" in (raised.value.hint or "")


def provider_answer(status: int, body: dict[str, Any]) -> httpx.MockTransport:
    """A provider's token endpoint that cannot be reached offline, answering ``body``."""
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


@pytest.mark.parametrize(
    ("token_url", "answer", "hint"),
    [
        (
            "https://tenant.eu.auth0.com/oauth/token",
            {
                "error": "access_denied",
                "error_description": "No audience parameter was provided,"
                " and no default audience has been configured",
            },
            "pass audience=<the API's Identifier>",
        ),
        (
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            {"error": "invalid_scope", "error_description": "AADSTS1002012"},
            "<Application ID URI>/.default",
        ),
        (
            "https://cognito-idp.eu-west-1.amazonaws.com/pool/oauth2/token",
            {"error": "invalid_scope"},
            "<resource server identifier>/<scope>",
        ),
        (
            "https://kc.example/realms/r/protocol/openid-connect/token",
            {"error": "unauthorized_client"},
            "Service accounts",
        ),
        (
            "https://org.okta.com/oauth2/default/v1/token",
            {"error": "invalid_scope"},
            "custom authorization server",
        ),
    ],
)
def test_provider_specific_fixes(token_url: str, answer: dict[str, Any], hint: str) -> None:
    auth = ClientCredentials(
        token_url=token_url,
        client_id="c",
        client_secret=SECRET,
        transport=provider_answer(403 if answer["error"] == "access_denied" else 400, answer),
    )
    with pytest.raises(TokenRequestError) as raised:
        auth.token()
    assert hint in (raised.value.hint or "")


def test_unavailable_endpoints_fail_closed_with_their_own_error(issuer: LocalIssuer) -> None:
    auth = ClientCredentials(issuer=issuer.issuer, client_id="svc", client_secret=SECRET)
    for mode in ("error", "garbage"):
        issuer.set_mode(mode)  # type: ignore[arg-type]
        with pytest.raises(TokenEndpointUnavailable):
            auth.token()
    issuer.set_mode("ok")
    gone = ClientCredentials(
        token_url="http://127.0.0.1:9/token", client_id="svc", client_secret=SECRET, timeout=2
    )
    with pytest.raises(TokenEndpointUnavailable, match="ConnectError"):
        gone.token()


def test_a_token_response_without_a_token_or_of_another_type_is_refused() -> None:
    for body in (
        {"token_type": "Bearer"},
        {"access_token": "abc", "token_type": "DPoP"},
        {"access_token": "abc", "token_type": "Bearer", "expires_in": -5},
        {"access_token": "abc", "token_type": "Bearer", "expires_in": True},
    ):
        auth = ClientCredentials(
            token_url="https://as.example/token",
            client_id="c",
            client_secret=SECRET,
            transport=provider_answer(200, body),
        )
        with pytest.raises(TokenEndpointUnavailable):
            auth.token()


def test_secrets_assertions_and_tokens_never_show(
    issuer: LocalIssuer, client_key: SigningKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    basic = ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=API
    )
    keyed = ClientCredentials(issuer=issuer.issuer, client_id="keyed", private_key=client_key)
    tokens = [basic.token(), keyed.token()]
    assertion = issuer.token_endpoint.log[-1]["form"]["client_assertion"][0]
    echoing = ClientCredentials(
        token_url="https://as.example/token",
        client_id="c",
        client_secret=SECRET,
        transport=provider_answer(
            401, {"error": "invalid_client", "error_description": f"bad secret {SECRET}"}
        ),
    )
    with pytest.raises(TokenRequestError) as raised:
        echoing.token()
    with pytest.raises(TokenRequestError) as wrong:
        ClientCredentials(issuer=issuer.issuer, client_id="svc", client_secret="nope!").token()
    shown = " ".join(
        [
            repr(basic),
            str(basic),
            repr(keyed),
            repr(keyed.client_auth),
            repr(ClientSecretPost("c", SECRET)),
            repr(echoing),
            repr(raised.value),
            str(raised.value),
            repr(wrong.value),
            str(wrong.value),
            *(repr(token) for token in tokens),
            caplog.text,
        ]
    )
    for secret in (SECRET, "nope!", assertion, *(token.access_token for token in tokens)):
        assert secret not in shown
    assert "[redacted]" in str(raised.value)
    assert tokens[0].fingerprint in repr(tokens[0])


def test_bad_configuration_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="or token_url="):
        ClientCredentials(client_id="c", client_secret="s")
    with pytest.raises(ValueError, match="exactly one"):
        ClientCredentials(token_url="https://as.example/t", client_id="c")
    with pytest.raises(ValueError, match="absolute URI"):
        ClientCredentials(
            token_url="https://as.example/t", client_id="c", client_secret="s", resource="api"
        )
    with pytest.raises(ValueError, match="auth_method"):
        ClientCredentials(
            token_url="https://as.example/t", client_id="c", client_secret="s", auth_method="x"
        )


def test_discovery_naming_another_issuer_is_not_used(issuer: LocalIssuer) -> None:
    issuer.issuer_override = "https://evil.example"
    auth = ClientCredentials(issuer=issuer.issuer, client_id="svc", client_secret=SECRET)
    with pytest.raises(TokenEndpointUnavailable, match="names issuer"):
        auth.token()
    assert issuer.token_endpoint.requests == 0


def test_the_form_body_is_what_the_server_parsed(issuer: LocalIssuer) -> None:
    ClientCredentials(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=["a b", API][1:]
    ).token()
    form = issuer.token_endpoint.log[-1]["form"]
    assert json.loads(json.dumps(form)) == form
    assert parse_qs("audience=" + API)["audience"] == form["audience"]


def test_plain_http_is_refused_except_to_this_machine() -> None:
    for url in ("http://as.example/token", "ftp://as.example/token", "https:///token"):
        with pytest.raises(ValueError, match="https"):
            ClientCredentials(token_url=url, client_id="c", client_secret="s")
    for url in ("http://127.0.0.1:9/token", "http://localhost/token", "http://[::1]:9/token"):
        ClientCredentials(token_url=url, client_id="c", client_secret="s")


class HeaderPresentation:
    """A presentation of its own: another header, another token type, a mark on the token
    request (as a proof-of-possession scheme would add its proof)."""

    token_types = ("bearer",)

    def prepare_token_request(self, request: httpx.Request) -> None:
        request.headers["X-Proof"] = "token-request"

    def present(self, request: httpx.Request, token: IssuedToken) -> None:
        request.headers["X-Token"] = token.access_token


def test_a_presentation_decides_how_tokens_are_sent(issuer: LocalIssuer) -> None:
    seen: list[httpx.Request] = []
    api = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(204))
    auth = ClientCredentials(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        presentation=HeaderPresentation(),
    )
    with httpx.Client(transport=api, auth=auth) as client:
        client.get("http://api.test/")
    assert seen[0].headers["X-Token"] == auth.token().access_token
    assert "authorization" not in seen[0].headers
    logged = issuer.token_endpoint.log[-1]
    assert logged["form"]["grant_type"] == ["client_credentials"]
