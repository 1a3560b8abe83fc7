"""Step-up (RFC 9470), authorization details (RFC 9396) and the kind of token (RFC 9700
§4.15) in every adapter: each requirement met and not met, with the exact challenge and
body, the same bytes from every server."""

from __future__ import annotations

import json
import time

import pytest

from audmw.testing import LocalIssuer
from contract import beyond, spec
from contract.checking import parse_challenge
from contract.servers import SERVERS, Fleet, StartFailed

SERVER_NAMES = tuple(server.name for server in SERVERS if not server.cors_preflight)
CASES = [(route, token) for route, answers in beyond.EXPECTED.items() for token in answers]
_request_ids = iter(range(10**9, 2 * 10**9))


@pytest.fixture
def minted(contract_issuer: LocalIssuer) -> dict[str, str | None]:
    """Tokens minted just now: the ages of their authentications are what the names say."""
    tokens: dict[str, str | None] = {"none": None}
    for name, arguments in beyond.token_claims(time.time()).items():
        options = dict(arguments)
        tokens[name] = contract_issuer.mint(aud=spec.AUDIENCE, expires_in=600, **options)
    return tokens


def _send(
    fleet: Fleet, server: str, route: str, token: str | None
) -> tuple[int, str | None, bytes, str | None]:
    try:
        process = fleet.get(server)
    except StartFailed as failure:
        pytest.fail(str(failure), pytrace=False)
    request_id = str(next(_request_ids))
    headers = [(spec.REQUEST_ID_HEADER, request_id)]
    if token is not None:
        headers.append(("Authorization", f"Bearer {token}"))
    response = process.send("GET", beyond.path_of(route), headers)
    ran = process.ran.read_new().get(request_id)
    return response.status, response.header("www-authenticate"), response.body, ran


@pytest.mark.parametrize(("route", "token"), CASES, ids=[f"{r}-{t}" for r, t in CASES])
def test_every_adapter_gives_the_exact_answer(
    route: str, token: str, fleet: Fleet, minted: dict[str, str | None]
) -> None:
    expected = beyond.EXPECTED[route][token]
    answers = {}
    for server in SERVER_NAMES:
        status, challenge, body, ran = _send(fleet, server, route, minted[token])
        answers[server] = (status, challenge, body)
        where = f"{server} GET {beyond.path_of(route)} [{token}]"
        if expected is None:
            assert (status, challenge, ran) == (200, None, beyond.view_name(route)), where
            assert json.loads(body) == {"view": beyond.view_name(route)}, where
            continue
        assert ran is None, f"{where}: the view ran"
        assert status == expected.status, f"{where}: {status} {challenge}"
        assert challenge == expected.challenge, where
        if expected.body is None:
            assert json.loads(body)["error"] == "unauthorized", where
        else:
            assert json.loads(body) == expected.body, where
    if expected is not None:  # a view's own body is its framework's JSON
        assert len(set(answers.values())) == 1, answers


def test_the_challenges_parse_as_rfc_9470_says() -> None:
    answer = beyond.EXPECTED["scoped-step-up"]["phrh-old"]
    assert answer is not None
    scheme, params, _ = parse_challenge(answer.challenge)
    assert scheme == "Bearer"
    assert params == {
        "error": "insufficient_user_authentication",
        "error_description": beyond.RECENT,
        "acr_values": "phrh",
        "max_age": "600",
    }


def test_every_route_has_answers_for_met_and_unmet() -> None:
    for route, answers in beyond.EXPECTED.items():
        assert route in beyond.ROUTES or route == beyond.CLASS_ROUTE
        assert None in answers.values(), f"{route}: no token meets it"
        assert any(answer is not None for answer in answers.values()), route
