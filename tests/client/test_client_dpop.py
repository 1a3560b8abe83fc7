"""``ClientCredentials(dpop=...)``: DPoP-bound tokens (RFC 9449) from the local issuer over
HTTP, presented to the example Starlette app under uvicorn with ``dpop=required``, with and
without server nonces, blocking and async."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from starlette.types import Receive, Scope, Send

from audmw import Settings
from audmw.client import (
    ClientCredentials,
    DPoPPresentation,
    TokenCache,
    TokenEndpointUnavailable,
    TokenRequestError,
)
from audmw.dpop import access_token_hash
from audmw.examples.starlette_app import create_app
from audmw.testing import LocalIssuer
from audmw.testing.dpop import DPoPKey

from .conftest import API, SECRET


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def header_and_claims(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return jwt.get_unverified_header(proof), claims_of(proof)


class Recorded:
    """An ASGI app and the headers of the requests it received."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[dict[str, str]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {name.decode(): value.decode() for name, value in scope["headers"]}
            self.seen.append({**headers, "path": scope["path"]})
        await self.app(scope, receive, send)


class Api:
    """The example app under uvicorn, on a port of its own."""

    def __init__(self, issuer: LocalIssuer, **settings: Any) -> None:
        self.app = Recorded(create_app(Settings(issuer=issuer.issuer, audience=API, **settings)))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def api(issuer: LocalIssuer) -> Iterator[Api]:
    running = Api(issuer, dpop="required")
    yield running
    running.stop()


@pytest.fixture
def nonce_api(issuer: LocalIssuer) -> Iterator[Api]:
    running = Api(issuer, dpop="required", dpop_nonce=True)
    yield running
    running.stop()


def dpop_auth(issuer: LocalIssuer, **options: Any) -> ClientCredentials:
    options.setdefault("dpop", True)
    return ClientCredentials(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience=API,
        scope="read:messages",
        **options,
    )


def test_a_dpop_bound_token_is_accepted_by_an_api_that_requires_dpop(
    issuer: LocalIssuer, api: Api
) -> None:
    auth = dpop_auth(issuer)
    with httpx.Client(auth=auth) as client:
        first = client.get(api.url + "/api/messages?page=2#top")
        second = client.get(api.url + "/api/messages")
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    token = auth.token()
    assert token.token_type == "DPoP"
    assert isinstance(auth.presentation, DPoPPresentation)
    assert claims_of(token.access_token)["cnf"] == {"jkt": auth.presentation.thumbprint}
    assert issuer.token_endpoint.requests == 1

    # The token request carried a proof of the key, without ath.
    header, claims = header_and_claims(issuer.token_endpoint.log[-1]["dpop"])
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert "d" not in header["jwk"]
    assert claims["htm"] == "POST"
    assert claims["htu"] == issuer.token_url
    assert "ath" not in claims

    # Each API request: the DPoP scheme and a proof of its own.
    proofs = [seen["dpop"] for seen in api.app.seen]
    assert [seen["authorization"] for seen in api.app.seen] == [f"DPoP {token.access_token}"] * 2
    first_claims, second_claims = (claims_of(proof) for proof in proofs)
    assert first_claims["htu"] == api.url + "/api/messages"  # no query, no fragment
    assert first_claims["htm"] == "GET"
    assert first_claims["ath"] == access_token_hash(token.access_token.encode())
    assert first_claims["jti"] != second_claims["jti"]


def test_the_same_api_refuses_a_bearer_token(issuer: LocalIssuer, api: Api) -> None:
    # What makes the test above mean something: without the proof the API says no.
    auth = dpop_auth(issuer, dpop=False)
    with httpx.Client(auth=auth) as client:
        answer = client.get(api.url + "/api/messages")
    assert answer.status_code == 401
    assert auth.token().token_type == "Bearer"


def test_the_nonce_round_trip_at_the_token_endpoint_and_the_api(
    issuer: LocalIssuer, nonce_api: Api
) -> None:
    issuer.token_endpoint.dpop_nonce = "required"
    auth = dpop_auth(issuer)
    with httpx.Client(auth=auth) as client:
        first = client.get(nonce_api.url + "/api/messages")
        second = client.get(nonce_api.url + "/api/messages")
    assert first.status_code == 200, first.text
    assert second.status_code == 200, second.text
    # The token endpoint: a proof without a nonce, use_dpop_nonce, a proof with it.
    assert issuer.token_endpoint.requests == 2
    token_proofs = [claims_of(entry["dpop"]) for entry in issuer.token_endpoint.log[-2:]]
    assert "nonce" not in token_proofs[0]
    assert token_proofs[1]["nonce"] == auth.presentation.nonce_for(issuer.token_url)  # type: ignore[attr-defined]
    # The API: the same, then its nonce is remembered for the next request.
    api_proofs = [claims_of(seen["dpop"]) for seen in nonce_api.app.seen]
    assert len(api_proofs) == 3
    assert "nonce" not in api_proofs[0]
    assert api_proofs[1]["nonce"] == api_proofs[2]["nonce"]
    assert api_proofs[1]["nonce"] != token_proofs[1]["nonce"]  # one nonce per origin


def test_the_nonce_round_trip_with_the_async_client(issuer: LocalIssuer, nonce_api: Api) -> None:
    issuer.token_endpoint.dpop_nonce = "required"
    auth = dpop_auth(issuer)

    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(auth=auth) as client:
            return [await client.get(nonce_api.url + "/api/messages") for _ in range(2)]

    answers = asyncio.run(main())
    assert [answer.status_code for answer in answers] == [200, 200]
    assert issuer.token_endpoint.requests == 2
    assert len(nonce_api.app.seen) == 3
    assert claims_of(auth.token().access_token)["cnf"]["jkt"] == auth.presentation.thumbprint  # type: ignore[attr-defined]


def test_a_repeated_use_dpop_nonce_at_the_token_endpoint_is_not_retried_again(
    issuer: LocalIssuer,
) -> None:
    issuer.token_endpoint.dpop_nonce = "rotating"  # every nonce is stale by the next request
    auth = dpop_auth(issuer)
    with pytest.raises(TokenRequestError) as refused:
        auth.token()
    assert refused.value.error == "use_dpop_nonce"
    assert refused.value.hint is not None
    assert "rotates nonces" in refused.value.hint
    assert issuer.token_endpoint.requests == 2


def test_a_repeated_use_dpop_nonce_at_the_api_is_returned_not_retried(
    issuer: LocalIssuer,
) -> None:
    # An API that wants a new nonce every time (a fault no correct server makes).
    seen: list[httpx.Request] = []

    def always_stale(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            401,
            headers={
                "WWW-Authenticate": 'DPoP error="use_dpop_nonce", algs="ES256"',
                "DPoP-Nonce": f"nonce-{len(seen)}",
            },
        )

    auth = dpop_auth(issuer)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(always_stale)) as client:
        answer = client.get("http://api.test/api/messages")
    assert answer.status_code == 401
    assert len(seen) == 2
    assert claims_of(seen[1].headers["dpop"])["nonce"] == "nonce-1"

    async def main() -> httpx.Response:
        transport = httpx.MockTransport(always_stale)
        async with httpx.AsyncClient(auth=auth, transport=transport) as client:
            return await client.get("http://api.test/api/messages")

    assert asyncio.run(main()).status_code == 401
    assert len(seen) == 4


def test_a_use_dpop_nonce_without_a_new_nonce_is_not_retried(issuer: LocalIssuer) -> None:
    seen: list[httpx.Request] = []

    def no_nonce(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, headers={"WWW-Authenticate": 'DPoP error="use_dpop_nonce"'})

    with httpx.Client(auth=dpop_auth(issuer), transport=httpx.MockTransport(no_nonce)) as client:
        assert client.get("http://api.test/").status_code == 401
    assert len(seen) == 1


def test_a_bearer_answer_to_a_dpop_request_is_refused() -> None:
    # A server without DPoP ignores the proof and sends a bearer token: never used as if bound.
    def token_endpoint(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"access_token": "t", "token_type": "Bearer", "expires_in": 60}
        )

    auth = ClientCredentials(
        token_url="https://as.example/token",
        client_id="c",
        client_secret="s",
        dpop=True,
        transport=httpx.MockTransport(token_endpoint),
    )
    with pytest.raises(TokenEndpointUnavailable, match="does it offer DPoP"):
        auth.token()


def test_bound_and_bearer_tokens_never_share_a_cache_entry(issuer: LocalIssuer) -> None:
    cache = TokenCache()
    bearer = dpop_auth(issuer, dpop=False, cache=cache).token()
    first_key = dpop_auth(issuer, cache=cache).token()
    second_key = dpop_auth(issuer, cache=cache).token()
    same_key = DPoPPresentation()
    third = dpop_auth(issuer, dpop=same_key, cache=cache).token()
    fourth = dpop_auth(issuer, dpop=same_key, cache=cache).token()
    assert bearer.token_type == "Bearer"
    assert len({bearer.access_token, first_key.access_token, second_key.access_token}) == 3
    assert third is fourth  # the same key: the same entry
    assert issuer.token_endpoint.requests == 4


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
)
def test_a_given_key_signs_the_proofs(issuer: LocalIssuer, api: Api, key: Any, alg: str) -> None:
    auth = dpop_auth(issuer, dpop=key)
    with httpx.Client(auth=auth) as client:
        assert client.get(api.url + "/api/messages").status_code == 200
    assert jwt.get_unverified_header(api.app.seen[-1]["dpop"])["alg"] == alg
    assert (
        claims_of(auth.token().access_token)["cnf"]["jkt"]
        == DPoPKey(alg, _signing_key(key)).thumbprint
    )


def _signing_key(key: Any) -> Any:
    from audmw.testing import SigningKey

    return SigningKey("k", "ed25519" if isinstance(key, ed25519.Ed25519PrivateKey) else "ec", key)


def test_a_refused_bound_token_gets_one_retry_with_a_fresh_one(
    issuer: LocalIssuer, api: Api
) -> None:
    auth = dpop_auth(issuer)
    stale = auth.token()
    issuer.rotate("RS256", keep_old=False)  # the API now answers DPoP error="invalid_token"
    with httpx.Client(auth=auth) as client:
        assert client.get(api.url + "/api/messages").status_code == 200
    assert next(seen["authorization"] for seen in api.app.seen) == f"DPoP {stale.access_token}"
    assert issuer.token_endpoint.requests == 2


def test_dpop_and_presentation_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        ClientCredentials(
            token_url="https://as.example/token",
            client_id="c",
            client_secret="s",
            dpop=True,
            presentation=DPoPPresentation(),
        )


def test_the_key_and_the_token_never_show(issuer: LocalIssuer) -> None:
    presentation = DPoPPresentation()
    assert "jkt=" in repr(presentation)
    assert "d=" not in repr(presentation)
    auth = dpop_auth(issuer, dpop=presentation)
    token = auth.token()
    assert token.access_token not in repr(auth)
    assert token.access_token not in repr(token)


# -- the local issuer's side -----------------------------------------------------------------


def post_token(issuer: LocalIssuer, proof: str | list[str] | None) -> httpx.Response:
    headers: list[tuple[str, str]] = [("Content-Type", "application/x-www-form-urlencoded")]
    for value in [proof] if isinstance(proof, str) else proof or []:
        headers.append(("DPoP", value))
    basic = base64.b64encode(f"svc:{quote_plus(SECRET)}".encode()).decode()
    headers.append(("Authorization", f"Basic {basic}"))
    return httpx.post(issuer.token_url, content=b"grant_type=client_credentials", headers=headers)


@pytest.mark.parametrize(
    "defect", ["htu", "htm", "bad_signature", "private_jwk", "typ", "alg_none", "iat_old"]
)
def test_the_local_issuer_refuses_a_defective_proof(issuer: LocalIssuer, defect: str) -> None:
    answer = post_token(issuer, DPoPKey().proof("POST", issuer.token_url, defect=defect))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_dpop_proof"


def test_the_local_issuer_refuses_a_replayed_proof_and_two_proofs(issuer: LocalIssuer) -> None:
    key = DPoPKey()
    proof = key.proof("POST", issuer.token_url)
    first = post_token(issuer, proof)
    assert first.status_code == 200
    assert first.json()["token_type"] == "DPoP"
    assert claims_of(first.json()["access_token"])["cnf"] == {"jkt": key.thumbprint}
    assert post_token(issuer, proof).json()["error"] == "invalid_dpop_proof"
    two = [key.proof("POST", issuer.token_url), key.proof("POST", issuer.token_url)]
    assert post_token(issuer, two).json()["error"] == "invalid_dpop_proof"
    unbound = post_token(issuer, None).json()
    assert unbound["token_type"] == "Bearer"
    assert "cnf" not in claims_of(unbound["access_token"])


def test_the_local_issuer_demands_its_nonce(issuer: LocalIssuer) -> None:
    issuer.token_endpoint.dpop_nonce = "required"
    key = DPoPKey()
    refused = post_token(issuer, key.proof("POST", issuer.token_url))
    assert refused.status_code == 400
    assert refused.json()["error"] == "use_dpop_nonce"
    nonce = refused.headers["DPoP-Nonce"]
    assert post_token(issuer, key.proof("POST", issuer.token_url, nonce="other")).status_code == 400
    accepted = post_token(issuer, key.proof("POST", issuer.token_url, nonce=nonce))
    assert accepted.status_code == 200
    assert json.loads(accepted.text)["token_type"] == "DPoP"


def test_the_nonce_already_sent_or_a_malformed_one_is_not_retried(issuer: LocalIssuer) -> None:
    seen: list[httpx.Request] = []
    nonce = {"value": "fixed-nonce"}

    def same_nonce(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            401,
            headers={
                "WWW-Authenticate": 'DPoP error="use_dpop_nonce"',
                "DPoP-Nonce": nonce["value"],
            },
        )

    auth = dpop_auth(issuer)
    with httpx.Client(auth=auth, transport=httpx.MockTransport(same_nonce)) as client:
        client.get("http://api.test/")  # no nonce yet: one retry with it
        assert len(seen) == 2
        client.get("http://api.test/")  # sent with that nonce, told it again: no retry
        assert len(seen) == 3
        nonce["value"] = 'not "a" nonce'
        client.get("http://other.test/")  # a value outside RFC 9449's syntax is not taken
        assert len(seen) == 4
    assert auth.presentation.nonce_for("http://other.test/") is None  # type: ignore[attr-defined]


def test_token_exchange_binds_the_downstream_token_too(issuer: LocalIssuer) -> None:
    from audmw.client import TokenExchange

    incoming = issuer.mint(sub="alice", aud=API)
    exchange = TokenExchange(
        issuer=issuer.issuer,
        client_id="svc",
        client_secret=SECRET,
        audience="https://reports.example.com",
        dpop=True,
    )
    token = exchange.token(incoming)
    assert token.token_type == "DPoP"
    claims = claims_of(token.access_token)
    assert claims["sub"] == "alice"
    assert claims["cnf"] == {"jkt": exchange.presentation.thumbprint}  # type: ignore[attr-defined]


def test_a_repeated_use_dpop_nonce_at_the_token_endpoint_async(issuer: LocalIssuer) -> None:
    issuer.token_endpoint.dpop_nonce = "rotating"
    auth = dpop_auth(issuer)
    with pytest.raises(TokenRequestError, match="use_dpop_nonce"):
        asyncio.run(auth.token_async())
    assert issuer.token_endpoint.requests == 2
