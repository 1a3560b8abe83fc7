"""What every adapter must report, written once; each adapter's test module runs it.

An adapter's module gives a ``Served`` app: a ``get`` that sends a real request through the
framework's own test client to an app protected by audmw, where ``ITEM_PATH`` answers only a
token with ``read:items`` and ``/public`` needs none. The app's ``decision_hook`` appends to
``decisions``; OpenTelemetry's in-memory exporters (``tests/otel_support.py``) receive the rest.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from audmw.observe import Decision
from audmw.testing import LocalIssuer
from tests.otel_support import Recorded, attributes_of, children, refreshes

AUDIENCE = "https://api.example.com"
ITEM_PATH = "/items/42"
SCOPE = "read:items"


@dataclass
class Served:
    get: Callable[[str, dict[str, str]], int]
    """Send ``GET path`` with these headers; the response's status."""
    route: str
    """The template of ``ITEM_PATH``'s route, as the framework writes it."""
    decisions: list[Decision] = field(default_factory=list)
    origin: str = "http://testserver"
    """Scheme and host the app sees the test client's requests at (a DPoP proof's ``htu``)."""


Serve = Callable[..., Served]
"""``serve(issuer, hook=None, **settings)``: an app with these settings, its hook recording."""


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def accepted_then_cached(serve: Serve, issuer: LocalIssuer, telemetry: Recorded) -> None:
    served = serve(issuer)
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    assert served.get(ITEM_PATH, bearer(token)) == 200
    assert served.get(ITEM_PATH, bearer(token)) == 200
    assert served.get("/public", {}) == 200  # no token read, no decision

    first, second = served.decisions
    assert first == Decision(
        outcome="accepted",
        reason="ok",
        status=200,
        scheme="Bearer",
        method="GET",
        route=served.route,
        latency=first.latency,
        cached=False,
        issuer=issuer.issuer,
        audience=AUDIENCE,
        client_id="test-client",
        subject=fingerprint("user-123"),
        token=fingerprint(token),
    )
    assert first.latency > 0
    assert second.cached
    assert second.token == first.token
    shown = repr(served.decisions)
    assert token not in shown
    assert token.split(".")[1] not in shown
    assert "user-123" not in shown

    accepted = {"audmw.outcome": "accepted", "audmw.reason": "ok", "http.route": served.route}
    assert telemetry.count("audmw.decisions", **accepted) == 2
    assert telemetry.count("audmw.validation.duration", **{"audmw.outcome": "accepted"}) == 2
    assert telemetry.count("audmw.token_cache.lookups", **{"audmw.token_cache.result": "hit"}) == 1
    assert telemetry.count("audmw.token_cache.lookups", **{"audmw.token_cache.result": "miss"}) == 1
    assert telemetry.count("audmw.key_fetches", **{"audmw.result": "success"}) == 1
    assert telemetry.count("audmw.key_fetch.duration", **{"audmw.issuer": issuer.issuer}) == 1

    # One refresh: discovery then JWKS, each an HTTP client span under it; none per cache hit.
    spans = telemetry.spans()
    (refresh,) = refreshes(spans)
    assert attributes_of(refresh)["audmw.issuer"] == issuer.issuer
    assert attributes_of(refresh)["audmw.result"] == "success"
    requests = children(spans, refresh)
    assert [attributes_of(s)["audmw.fetch"] for s in requests] == ["discovery", "jwks"]
    jwks = attributes_of(requests[1])
    assert requests[1].name == "GET"
    assert requests[1].kind.name == "CLIENT"
    assert jwks["http.request.method"] == "GET"
    assert jwks["url.full"] == issuer.jwks_uri
    assert jwks["server.address"] == "127.0.0.1"
    assert jwks["server.port"] == issuer.port
    assert jwks["http.response.status_code"] == 200
    assert len(spans) == 3, [(s.name, dict(s.attributes or {})) for s in spans]


def refusals(serve: Serve, issuer: LocalIssuer, telemetry: Recorded) -> None:
    served = serve(issuer)
    no_scope = issuer.mint(scopes=["other"], aud=AUDIENCE)
    elsewhere = issuer.mint(scopes=[SCOPE], aud="https://other.example")
    assert served.get(ITEM_PATH, bearer(no_scope)) == 403
    assert served.get(ITEM_PATH, bearer(elsewhere)) == 401
    assert served.get(ITEM_PATH, {}) == 401

    scope, audience, missing = served.decisions
    assert (scope.outcome, scope.reason, scope.status) == ("refused", "insufficient_scope", 403)
    # The token was verified: who it speaks for is known.
    assert scope.issuer == issuer.issuer
    assert scope.client_id == "test-client"
    assert scope.route == served.route
    assert (audience.reason, audience.status) == ("aud_mismatch", 401)
    # Not a token this API accepts: nothing it claims is reported, only its fingerprint.
    assert audience.issuer is audience.client_id is audience.subject is audience.audience is None
    assert audience.token == fingerprint(elsewhere)
    assert (missing.reason, missing.token) == ("no_token", None)

    route = {"http.route": served.route}
    assert telemetry.count("audmw.decisions", **{"audmw.reason": "insufficient_scope"}, **route)
    assert telemetry.count("audmw.decisions", **{"audmw.reason": "aud_mismatch"}, **route) == 1
    assert telemetry.count("audmw.decisions", **{"audmw.outcome": "refused"}) == 3
    assert telemetry.count("audmw.decisions", **{"audmw.outcome": "accepted"}) == 0


def rotation(serve: Serve, issuer: LocalIssuer, telemetry: Recorded) -> None:
    served = serve(issuer, jwks_refresh_cooldown=0.001)
    old = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    assert served.get(ITEM_PATH, bearer(old)) == 200
    evicted = telemetry.count("audmw.token_cache.evictions")

    issuer.rotate("RS256", keep_old=False)
    time.sleep(0.01)  # past the (tiny) cooldown between refreshes for unknown kids
    new = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    assert served.get(ITEM_PATH, bearer(new)) == 200
    # The old key is gone: its cached token is dropped, then refused in full.
    assert served.get(ITEM_PATH, bearer(old)) == 401

    assert telemetry.count("audmw.token_cache.evictions") == evicted + 1
    assert served.decisions[1].cached is False
    assert served.decisions[2].reason in ("unknown_kid", "bad_signature")
    assert telemetry.count("audmw.key_fetches", **{"audmw.result": "success"}) >= 2
    assert telemetry.count("audmw.key_fetches", **{"audmw.result": "failure"}) == 0

    spans = telemetry.spans()
    first, second, *_ = refreshes(spans)
    # Discovery once; the rotation refetches only the JWKS the discovery named.
    assert [attributes_of(s)["audmw.fetch"] for s in children(spans, first)] == [
        "discovery",
        "jwks",
    ]
    assert [attributes_of(s)["audmw.fetch"] for s in children(spans, second)] == ["jwks"]
    assert attributes_of(second)["audmw.keys"] == len(issuer.published)


def outage(serve: Serve, telemetry: Recorded) -> None:
    """The issuer is down (a real one, stopped): 503 with Retry-After, reported as such."""
    issuer = LocalIssuer().start()
    served = serve(issuer)
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    issuer.stop()

    assert served.get(ITEM_PATH, bearer(token)) == 503

    (decision,) = served.decisions
    assert (decision.outcome, decision.reason, decision.status) == (
        "refused",
        "keys_unavailable",
        503,
    )
    failed = {"audmw.result": "failure", "audmw.issuer": issuer.issuer}
    assert telemetry.count("audmw.key_fetches", **failed) == 1
    assert telemetry.count("audmw.key_fetch.duration", **failed) == 1
    assert telemetry.count("audmw.decisions", **{"audmw.reason": "keys_unavailable"}) == 1

    spans = telemetry.spans()
    (refresh,) = refreshes(spans)
    assert refresh.status.status_code.name == "ERROR"
    assert attributes_of(refresh)["error.type"] == "ConnectError"
    (attempt,) = children(spans, refresh)
    assert attempt.status.status_code.name == "ERROR"
    assert attributes_of(attempt)["error.type"] == "ConnectError"
    assert "http.response.status_code" not in attributes_of(attempt)


def hook_failure(serve: Serve, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture) -> None:
    """A hook that raises changes no decision: the request is answered as without it."""
    calls: list[Decision] = []

    def broken(decision: Decision) -> None:
        calls.append(decision)
        raise RuntimeError("the hook's own bug")

    served = serve(issuer, hook=broken)
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    with caplog.at_level(logging.INFO, logger="audmw"):
        assert served.get(ITEM_PATH, bearer(token)) == 200
        assert served.get(ITEM_PATH, {}) == 401
    assert [call.outcome for call in calls] == ["accepted", "refused"]
    failures = [
        r for r in caplog.records if getattr(r, "audmw_reason", None) == "decision_hook_failed"
    ]
    assert len(failures) == 2
    assert all(r.levelno == logging.WARNING and r.exc_info for r in failures)


def log_fields(serve: Serve, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture) -> None:
    """Refusal records carry reason, fingerprint, issuer and route for JSON formatters."""
    served = serve(issuer)
    token = issuer.mint(scopes=["other"], aud=AUDIENCE)
    with caplog.at_level(logging.INFO, logger="audmw"):
        assert served.get(ITEM_PATH, bearer(token)) == 403
    (record,) = [r for r in caplog.records if getattr(r, "audmw_reason", None)]
    fields: dict[str, Any] = {
        name: getattr(record, name)
        for name in ("audmw_reason", "audmw_token", "audmw_issuer", "audmw_route")
    }
    assert fields == {
        "audmw_reason": "insufficient_scope",
        "audmw_token": fingerprint(token),
        "audmw_issuer": issuer.issuer,
        "audmw_route": served.route,
    }
    assert record.levelno == logging.INFO


def health_route(serve: Serve) -> None:
    """A public route answers the key sources' health: no token, no fetch, no decision."""
    with LocalIssuer() as issuer:
        served = serve(issuer, jwks_refresh_cooldown=0.001)
        assert served.get("/health", {}) == 200  # nothing fetched yet: nothing wrong
        assert issuer.jwks_requests == 0
        token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
        assert served.get(ITEM_PATH, bearer(token)) == 200
    # The issuer stops; a kid it never published makes the app refetch, which fails.
    time.sleep(0.01)  # past the (tiny) cooldown between refreshes for unknown kids
    unknown = issuer.mint(scopes=[SCOPE], aud=AUDIENCE, kid="unpublished")
    assert served.get(ITEM_PATH, bearer(unknown)) == 503
    assert served.get(ITEM_PATH, bearer(token)) == 200  # the last good keys still verify
    assert served.get("/health", {}) == 200  # stale, not unavailable
    assert [d.reason for d in served.decisions] == ["ok", "keys_unavailable", "ok"]

    down = LocalIssuer().start()
    down.stop()
    served = serve(down)
    assert served.get(ITEM_PATH, bearer(down.mint(scopes=[SCOPE], aud=AUDIENCE))) == 503
    assert served.get("/health", {}) == 503


def refused_before_the_token(serve: Serve, issuer: LocalIssuer) -> None:
    """A refusal made before the token is read (control characters in the path) is reported."""
    served = serve(issuer)
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE)
    assert served.get("/items/%0A", bearer(token)) == 400
    (decision,) = served.decisions
    assert (decision.outcome, decision.reason, decision.status) == (
        "refused",
        "path_control_characters",
        400,
    )
    assert decision.issuer is decision.token is None


def dpop(serve: Serve, issuer: LocalIssuer) -> None:
    """DPoP: the scheme is reported, and a proof's refusal is one of a verified token."""
    from audmw.testing.dpop import DPoPKey

    served = serve(issuer)
    key = DPoPKey()
    token = issuer.mint(scopes=[SCOPE], aud=AUDIENCE, dpop=key)
    headers = key.headers("GET", served.origin + ITEM_PATH, token)
    assert served.get(ITEM_PATH, headers) == 200
    assert served.get(ITEM_PATH, headers) == 401  # the same proof again: a replay
    assert served.get(ITEM_PATH, bearer(token)) == 401  # a bound token without its proof

    accepted, replayed, as_bearer = served.decisions
    assert (accepted.outcome, accepted.scheme, accepted.issuer) == (
        "accepted",
        "DPoP",
        issuer.issuer,
    )
    assert (replayed.reason, replayed.scheme) == ("dpop_replayed", "DPoP")
    assert replayed.issuer == issuer.issuer  # the token itself was verified
    assert (as_bearer.reason, as_bearer.scheme) == ("dpop_bound_token_as_bearer", "Bearer")


def unobserved_refusals_name_their_route(
    serve: Serve, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    """Without a hook or OpenTelemetry, every refusal's record still names the route template
    (worked out for the refusal only), and a path no route matches is never logged."""
    served = serve(issuer, observed=False)
    refusals = {
        "no token": ({}, 401),
        "malformed header": ({"Authorization": "Bearer a b"}, 400),
        "wrong audience": (bearer(issuer.mint(scopes=[SCOPE], aud="https://other.example")), 401),
        "insufficient scope": (bearer(issuer.mint(scopes=["other"], aud=AUDIENCE)), 403),
    }
    for what, (headers, status) in refusals.items():
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="audmw"):
            assert served.get(ITEM_PATH, headers) == status, what
        (record,) = [r for r in caplog.records if getattr(r, "audmw_reason", None)]
        assert getattr(record, "audmw_route", None) == served.route, what
    assert served.decisions == []

    raw = "/no-such-route/raw-path-4711"
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="audmw"):
        assert served.get(raw, {}) == 401
    (record,) = [r for r in caplog.records if getattr(r, "audmw_reason", None)]
    assert getattr(record, "audmw_route", None) is None
    assert "raw-path-4711" not in repr(vars(record)) + record.getMessage()


INTROSPECTION_CLIENT = ("the-api", "introspection-secret-of-the-api")


def introspection(serve: Serve, telemetry: Recorded) -> None:
    """Opaque tokens at the issuer's introspection endpoint: one span per lookup with an HTTP
    client span per request, lookups counted by result and timed, and ``cached`` in the
    decision when the introspection cache answered (the verified-token cache is off here, so
    that only the introspection cache can)."""
    with LocalIssuer() as issuer:
        client_id, secret = INTROSPECTION_CLIENT
        issuer.register_client(client_id, secret=secret)
        served = serve(
            issuer,
            introspection="opaque",
            introspection_client_id=client_id,
            introspection_client_secret=secret,
            token_cache_size=0,
        )
        token = issuer.mint_opaque(scopes=SCOPE, aud=AUDIENCE)
        revoked = issuer.mint_opaque(scopes=SCOPE, aud=AUDIENCE)
        issuer.revoke(revoked)
        assert served.get(ITEM_PATH, bearer(token)) == 200
        assert served.get(ITEM_PATH, bearer(token)) == 200  # from the introspection cache
        assert served.get(ITEM_PATH, bearer(revoked)) == 401
        issuer.set_mode("error")
        assert served.get(ITEM_PATH, bearer(issuer.mint_opaque(aud=AUDIENCE))) == 503
        issuer.set_mode("ok")

    first, second, inactive, down = served.decisions
    assert (first.outcome, first.cached, first.issuer) == ("accepted", False, issuer.issuer)
    assert (second.outcome, second.cached) == ("accepted", True)
    assert (inactive.reason, inactive.cached) == ("token_inactive", False)
    assert (down.reason, down.status, down.cached) == ("introspection_failed", 503, False)
    assert token not in repr(served.decisions)

    by_issuer = {"audmw.issuer": issuer.issuer}
    for result in ("active", "inactive", "failure"):
        assert telemetry.count("audmw.introspections", **by_issuer, **{"audmw.result": result})
    assert telemetry.count("audmw.introspections", **by_issuer) == 3  # none for the cache hit
    assert telemetry.count("audmw.introspection.duration", **by_issuer) == 3
    assert telemetry.count("audmw.key_fetches") == 0  # no JWT, no key set

    spans = telemetry.spans()
    lookups = [span for span in spans if span.name == "audmw.introspection"]
    assert [attributes_of(span)["audmw.result"] for span in lookups] == [
        "active",
        "inactive",
        "failure",
    ]
    active, _, failed = lookups
    requests = children(spans, active)
    assert [attributes_of(s)["audmw.fetch"] for s in requests] == ["discovery", "introspection"]
    post = attributes_of(requests[1])
    assert (requests[1].name, requests[1].kind.name) == ("POST", "CLIENT")
    assert post["http.request.method"] == "POST"
    assert post["url.full"] == issuer.introspection_url
    assert post["server.address"] == "127.0.0.1"
    assert post["server.port"] == issuer.port
    assert post["http.response.status_code"] == 200
    assert failed.status.status_code.name == "ERROR"
    assert attributes_of(failed)["error.type"] == "introspection_failed"
    attempts = children(spans, failed)  # the endpoint known: no discovery; one retry
    assert [attributes_of(s)["http.response.status_code"] for s in attempts] == [500, 500]
    assert all(s.status.status_code.name == "ERROR" for s in attempts)
    for span in spans:
        assert token not in repr(dict(span.attributes or {}))
