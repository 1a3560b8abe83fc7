"""One conformance suite for the three example apps, against a real OpenID provider.

Every case runs against every app (``starlette_app``, ``django_app``, ``flask_app``), each a
real server process, with tokens from oidc-provider's token endpoint. A refusal must be,
header for header, the answer the core builds for it (``audmw.answer``): same status, same
``WWW-Authenticate`` bytes, same JSON body, whichever framework serves it.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable

import httpx
from dpop_challenge import BARE

from audmw.answer import answer
from audmw.errors import (
    AuthError,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    KeysUnavailable,
    MissingToken,
)
from audmw.settings import DPOP_ALGORITHMS
from e2e.app_process import REFRESH_COOLDOWN, AppProcess, eventually
from e2e.provider import API, API_SCOPES, OidcProvider

ROUTES = (
    ("GET", "/api/me", 200),
    ("GET", "/api/messages", 200),
    ("POST", "/api/messages", 201),
    ("GET", "/api/admin", 200),
)


def assert_refused(response: httpx.Response, error: AuthError) -> None:
    """``response`` is exactly the core's answer to ``error`` (DPoP allowed, the default)."""
    expected = answer(error, dpop_algs=DPOP_ALGORITHMS)
    assert response.status_code == expected.status, response.text
    assert response.json() == json.loads(expected.body)
    assert response.headers.get_list("www-authenticate") == [
        value for name, value in expected.headers if name == "WWW-Authenticate"
    ]
    for name, value in expected.headers:
        if name == "Content-Type":
            assert response.headers["content-type"].startswith(value)
        elif name == "Retry-After":
            assert int(response.headers["retry-after"]) >= 1
        else:
            assert response.headers[name] == value, name


def call(app: AppProcess, method: str, path: str, token: str | None) -> httpx.Response:
    if method == "POST":
        return app.post(path, token, json={"text": "hello"})
    return app.get(path, token)


# -- the happy path ------------------------------------------------------------------------


def test_public_route_needs_no_token(app: AppProcess) -> None:
    assert app.get("/public").status_code == 200
    # A public route never reads the token, so even a malformed one does not matter.
    response = app.client.get("/public", headers={"Authorization": "Bearer not a token"})
    assert response.status_code == 200
    assert isinstance(response.json(), dict)


def test_token_with_every_scope_opens_every_route(
    app: AppProcess, tokens: dict[str, str], oidc_provider: OidcProvider
) -> None:
    for method, path, status in ROUTES:
        response = call(app, method, path, tokens["full"])
        assert response.status_code == status, (method, path, response.text)
        assert isinstance(response.json(), dict)
    me = app.get("/api/me", tokens["full"]).json()
    assert me["sub"] == oidc_provider.client_id("RS256")
    assert me["scopes"] == sorted(API_SCOPES)
    assert me["aud"] == [API]


def test_es256_token_is_accepted(
    app: AppProcess, tokens: dict[str, str], oidc_provider: OidcProvider
) -> None:
    response = app.get("/api/me", tokens["es256"])
    assert response.status_code == 200, response.text
    assert response.json()["sub"] == oidc_provider.client_id("ES256")


# -- refusals ------------------------------------------------------------------------------


def test_missing_scope_is_403_naming_the_scope(app: AppProcess, tokens: dict[str, str]) -> None:
    assert app.get("/api/messages", tokens["read"]).status_code == 200
    response = app.post("/api/messages", tokens["read"], json={"text": "hello"})
    assert_refused(response, InsufficientScope(("write:messages",)))
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert 'scope="write:messages"' in response.headers["www-authenticate"]
    # Both scopes of /api/admin are named; the token has only one of them.
    response = app.get("/api/admin", tokens["read"])
    assert_refused(response, InsufficientScope(("admin", "read:messages")))
    assert 'scope="admin read:messages"' in response.headers["www-authenticate"]


def test_token_for_another_resource_is_401(app: AppProcess, tokens: dict[str, str]) -> None:
    mark = app.log_mark()
    for method, path, _ in ROUTES:
        response = call(app, method, path, tokens["other_api"])
        assert_refused(response, InvalidToken("aud_mismatch"))
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
    lines = app.log_lines_since(mark, "reason=aud_mismatch")
    assert lines, app.log()[-2000:]
    assert "https://reports.example.com" in lines[0]


def test_opaque_token_is_401_and_the_log_names_the_fix(
    app: AppProcess, tokens: dict[str, str]
) -> None:
    mark = app.log_mark()
    response = app.get("/api/me", tokens["opaque"])
    assert_refused(response, InvalidToken("not_a_jwt"))
    lines = app.log_lines_since(mark, "reason=not_a_jwt")
    assert len(lines) == 1, app.log()[-2000:]
    assert "resource parameter" in lines[0]
    assert tokens["opaque"] not in app.log()


def test_no_token_is_401_with_a_bare_challenge(app: AppProcess) -> None:
    for method, path, _ in ROUTES:
        response = call(app, method, path, None)
        assert_refused(response, MissingToken("no_token"))
        assert response.headers["www-authenticate"] == BARE


def test_other_schemes_and_query_tokens_are_not_credentials(
    app: AppProcess, tokens: dict[str, str]
) -> None:
    response = app.client.get("/api/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_refused(response, MissingToken("no_token"))
    response = app.client.get("/api/me", params={"access_token": tokens["full"]})
    assert_refused(response, MissingToken("no_token"))


def test_malformed_or_duplicate_credentials_are_400(
    app: AppProcess, tokens: dict[str, str]
) -> None:
    response = app.client.get("/api/me", headers={"Authorization": "Bearer"})
    assert_refused(response, InvalidRequest("malformed"))
    bearer = f"Bearer {tokens['full']}"
    twice = [("Authorization", bearer), ("Authorization", bearer)]
    assert_refused(app.client.get("/api/me", headers=twice), InvalidRequest("duplicate"))
    response = app.client.get(
        "/api/me", headers={"Authorization": bearer}, params={"access_token": tokens["full"]}
    )
    assert_refused(response, InvalidRequest("two_methods"))


def test_scheme_is_case_insensitive(app: AppProcess, tokens: dict[str, str]) -> None:
    response = app.client.get("/api/me", headers={"Authorization": f"bearer {tokens['full']}"})
    assert response.status_code == 200, response.text


def test_unknown_urls_are_denied_by_default(app: AppProcess, tokens: dict[str, str]) -> None:
    # Without a token nothing is revealed, not even whether the URL exists.
    assert_refused(app.get("/api/nowhere"), MissingToken("no_token"))
    assert app.get("/api/nowhere", tokens["full"]).status_code == 404


def test_tampered_token_is_401(app: AppProcess, tokens: dict[str, str]) -> None:
    header, payload, signature = tokens["full"].split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    mark = app.log_mark()
    response = app.get("/api/me", f"{header}.{payload}.{flipped}")
    assert_refused(response, InvalidToken("bad_signature"))
    assert app.log_lines_since(mark, "reason=bad_signature")


# -- keys changing under running apps (keep these last: they restart the provider) ----------


def test_rotated_keys_are_picked_up_without_restart(
    app: AppProcess, oidc_provider: OidcProvider
) -> None:
    old = oidc_provider.get_token(API, "read:messages")
    assert app.get("/api/messages", old).status_code == 200
    old_kid = oidc_provider.keys[0].kid

    new_key = oidc_provider.rotate()
    new = oidc_provider.get_token(API, "read:messages")
    assert _kid(new) == new_key.kid != old_kid
    time.sleep(REFRESH_COOLDOWN)  # the app refetches an unknown kid once per cooldown
    response = app.get("/api/messages", new)
    assert response.status_code == 200, response.text
    # The old key is still published: its tokens still work.
    assert app.get("/api/messages", old).status_code == 200

    # Next rotation retires the first key; once the app has refetched, its tokens are refused.
    newest_key = oidc_provider.rotate(retire=old_kid)
    newest = oidc_provider.get_token(API, "read:messages")
    assert _kid(newest) == newest_key.kid
    assert eventually(lambda: app.get("/api/messages", newest).status_code == 200)
    mark = app.log_mark()
    assert_refused(app.get("/api/messages", old), InvalidToken("unknown_kid"))
    assert app.log_lines_since(mark, "reason=unknown_kid")
    assert app.get("/api/messages", new).status_code == 200


def test_cached_keys_serve_while_the_provider_is_down(
    app: AppProcess, oidc_provider: OidcProvider
) -> None:
    warm = oidc_provider.get_token(API, "read:messages")
    assert app.get("/api/messages", warm).status_code == 200
    # A token the app has never seen, signed by a key it has cached.
    unseen = oidc_provider.get_token(API, "read:messages write:messages admin")
    oidc_provider.stop()
    for method, path, status in ROUTES:
        assert call(app, method, path, unseen).status_code == status, (method, path)
    assert app.get("/public").status_code == 200


def test_app_started_while_the_provider_is_down_recovers(
    app: AppProcess, oidc_provider: OidcProvider, start_app: Callable[[], AppProcess]
) -> None:
    token = oidc_provider.get_token(API, "read:messages write:messages admin")
    oidc_provider.stop()
    late = start_app()  # returns once GET /public answers 200

    response = late.get("/api/me", token)
    assert_refused(response, KeysUnavailable())
    assert "www-authenticate" not in response.headers
    assert late.get("/public").status_code == 200

    oidc_provider.start()
    assert eventually(lambda: late.get("/api/me", token).status_code == 200), late.log()[-2000:]
    for method, path, status in ROUTES:
        assert call(late, method, path, token).status_code == status, (method, path)

    # The contract: SIGTERM stops the server cleanly, without being killed. Exiting by the
    # signal itself after a graceful shutdown is fine (uvicorn re-raises it).
    assert late.stop(signal.SIGTERM) in (0, -signal.SIGTERM), late.log()[-2000:]
    assert "Traceback" not in late.log()


def test_logs_never_hold_a_token(app: AppProcess, tokens: dict[str, str]) -> None:
    log = app.log()
    assert "reason=" in log
    for name, token in tokens.items():
        assert token not in log, name
        assert token.split(".")[-1] not in log, name


def _kid(token: str) -> str:
    import jwt

    kid = jwt.get_unverified_header(token)["kid"]
    assert isinstance(kid, str)
    return kid
