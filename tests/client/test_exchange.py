"""Token exchange (RFC 8693) and on-behalf-of against the local issuer, and the adapters'
``incoming_token`` handing the request's verified token to them. The incoming token is never
what reaches the downstream API."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import jwt
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from audmw import Settings, TokenValidator
from audmw.client import OnBehalfOf, SubjectToken, TokenExchange, TokenRequestError
from audmw.examples.starlette_app import create_app as starlette_app
from audmw.starlette import AudienceMiddleware, incoming_token, public
from audmw.testing import LocalIssuer
from audmw_flask import Audmw
from audmw_flask import incoming_token as flask_incoming_token

from .conftest import API, SECRET, Clock

DOWNSTREAM = "https://downstream.example.com"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def test_token_exchange_round_trip(issuer: LocalIssuer) -> None:
    user_token = issuer.mint(sub="alice", aud=API, scopes="read:messages")
    exchange = TokenExchange(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=DOWNSTREAM,
        scope="read:messages",
    )
    issued = exchange.token(user_token)
    form = issuer.token_endpoint.log[-1]["form"]
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert form["subject_token"] == [user_token]
    assert form["subject_token_type"] == [ACCESS_TOKEN]
    assert form["requested_token_type"] == [ACCESS_TOKEN]
    assert form["audience"] == [DOWNSTREAM]
    assert issued.issued_token_type == ACCESS_TOKEN
    verified = TokenValidator(Settings(issuer=issuer.issuer, audience=DOWNSTREAM)).validate(
        issued.access_token
    )
    assert verified.subject == "alice"
    assert verified.client_id == "svc"
    assert verified.audience == (DOWNSTREAM,)


def test_an_actor_token_becomes_the_act_claim(issuer: LocalIssuer) -> None:
    actor = issuer.mint(sub="svc-robot", aud=API)
    exchange = TokenExchange(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        resource=DOWNSTREAM,
        actor_token=actor,
    )
    issued = exchange.token(issuer.mint(sub="alice"))
    assert claims_of(issued.access_token)["act"] == {"sub": "svc-robot"}
    assert issuer.token_endpoint.log[-1]["form"]["actor_token_type"] == [ACCESS_TOKEN]
    assert actor not in repr(exchange)


def test_exchanged_tokens_are_cached_per_subject_token(issuer: LocalIssuer, clock: Clock) -> None:
    exchange = TokenExchange(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=DOWNSTREAM,
        clock=clock,
    )
    alice, bob = issuer.mint(sub="alice"), issuer.mint(sub="bob")
    first = exchange.token(alice)
    assert exchange.token(SubjectToken(alice)) is first
    assert claims_of(exchange.token(bob).access_token)["sub"] == "bob"
    assert issuer.token_endpoint.requests == 2
    clock.now += 300
    assert exchange.token(alice) is not first
    assert issuer.token_endpoint.requests == 3


def test_an_invalid_subject_token_is_refused(issuer: LocalIssuer) -> None:
    exchange = TokenExchange(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=DOWNSTREAM
    )
    with pytest.raises(TokenRequestError) as raised:
        exchange.token(issuer.mint(expires_in=-600))
    assert raised.value.error == "invalid_grant"
    assert raised.value.hint


def test_a_server_answering_with_the_incoming_token_is_not_passed_on() -> None:
    incoming = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
    echo = httpx.MockTransport(
        lambda request: httpx.Response(
            200, json={"access_token": incoming, "token_type": "Bearer", "expires_in": 60}
        )
    )
    exchange = TokenExchange(
        token_url="https://as.example/token",
        client_id="svc",
        client_secret=SECRET,
        audience=DOWNSTREAM,
        transport=echo,
    )
    with pytest.raises(TokenRequestError, match="incoming token itself"):
        exchange.token(incoming)


def test_on_behalf_of_round_trip(issuer: LocalIssuer) -> None:
    user_token = issuer.mint(sub="alice", aud=API, scopes="read:messages")
    obo = OnBehalfOf(
        token_url=issuer.token_url,
        client_id="svc",
        client_secret=SECRET,
        auth_method="client_secret_post",
        scope="api://downstream/.default",
    )
    issued = obo.token(user_token)
    form = issuer.token_endpoint.log[-1]["form"]
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert form["requested_token_use"] == ["on_behalf_of"]
    assert form["assertion"] == [user_token]
    assert form["scope"] == ["api://downstream/.default"]
    claims = claims_of(issued.access_token)
    assert (claims["sub"], claims["aud"]) == ("alice", "api://downstream")
    with pytest.raises(ValueError, match="scope"):
        OnBehalfOf(token_url=issuer.token_url, client_id="svc", client_secret=SECRET)


def test_subject_tokens_never_show() -> None:
    subject = SubjectToken("secret.token.value")
    assert "secret" not in repr(subject) + str(subject)
    assert subject.fingerprint == hashlib.sha256(b"secret.token.value").hexdigest()[:16]


# -- the adapters hand the verified token over ------------------------------------------------


def downstream_api(issuer: LocalIssuer) -> httpx.ASGITransport:
    return httpx.ASGITransport(
        app=starlette_app(Settings(issuer=issuer.issuer, audience=DOWNSTREAM))
    )


def test_a_starlette_view_calls_downstream_with_an_exchanged_token(issuer: LocalIssuer) -> None:
    exchange = TokenExchange(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=DOWNSTREAM
    )
    downstream = downstream_api(issuer)
    sent: list[str] = []

    async def report(request: Request) -> JSONResponse:
        auth = exchange.for_subject(incoming_token(request))
        async with httpx.AsyncClient(transport=downstream, auth=auth) as client:
            answer = await client.get("http://downstream.test/api/me")
        sent.append(answer.request.headers["authorization"])
        return JSONResponse(answer.json(), status_code=answer.status_code)

    @public
    async def open_view(request: Request) -> JSONResponse:
        try:
            incoming_token(request)
        except LookupError as error:
            return JSONResponse({"error": str(error)})
        return JSONResponse({"error": None})

    app = Starlette(
        routes=[Route("/report", report), Route("/open", open_view)],
        middleware=[Middleware(AudienceMiddleware, issuer=issuer.issuer, audience=API)],
    )
    user_token = issuer.mint(sub="alice", aud=API)

    async def main() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api.test"
        ) as client:
            headers = {"Authorization": f"Bearer {user_token}"}
            return await client.get("/report", headers=headers), await client.get(
                "/open", headers=headers
            )

    report_answer, open_answer = asyncio.run(main())
    assert report_answer.status_code == 200
    assert report_answer.json()["sub"] == "alice"
    assert report_answer.json()["aud"] == [DOWNSTREAM]
    assert sent
    assert user_token not in sent[0]
    assert "no verified access token" in open_answer.json()["error"]


def test_a_flask_view_gets_the_verified_token(issuer: LocalIssuer) -> None:
    exchange = TokenExchange(
        issuer=issuer.issuer, client_id="svc", client_secret=SECRET, audience=DOWNSTREAM
    )
    app = Flask(__name__)
    app.config.update(issuer.flask_config(audience=API))
    Audmw(app)

    @app.get("/report")
    def report() -> dict[str, Any]:
        subject = flask_incoming_token()
        issued = exchange.token(subject)
        return {"fingerprint": subject.fingerprint, "sub": claims_of(issued.access_token)["sub"]}

    @app.get("/open")
    @public
    def open_route() -> dict[str, Any]:
        try:
            flask_incoming_token()
        except LookupError:
            return {"token": None}
        return {"token": "handed over"}

    user_token = issuer.mint(sub="alice", aud=API)
    headers = {"Authorization": f"Bearer {user_token}"}
    assert app.test_client().get("/open", headers=headers).json == {"token": None}
    answer = app.test_client().get("/report", headers=headers)
    assert answer.status_code == 200
    assert answer.json == {
        "fingerprint": hashlib.sha256(user_token.encode()).hexdigest()[:16],
        "sub": "alice",
    }


def test_the_helper_refuses_a_token_other_than_the_verified_one() -> None:
    from audmw.client import verified_subject

    with pytest.raises(LookupError):
        verified_subject(["Bearer abc"], None)
    with LocalIssuer() as local:
        token = local.mint()
        verified = TokenValidator(Settings(issuer=local.issuer, audience=API)).validate(token)
        assert verified_subject([f"Bearer {token}"], verified).fingerprint == verified.fingerprint
        with pytest.raises(LookupError, match="not the one"):
            verified_subject([f"Bearer {local.mint()}"], verified)
