"""``audmw.health``: what a health-check route reports of the key sources, fetching nothing."""

from __future__ import annotations

import json

from audmw import Guard, Settings
from audmw.health import healthy, key_sources, report
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"


def test_each_state_of_a_key_source_from_start_to_outage() -> None:
    with LocalIssuer() as issuer:
        guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
        (before,) = key_sources(guard)
        assert (before.state, before.keys, before.fetches) == ("unfetched", 0, 0)
        assert before.fetched_at is before.next_refresh is before.last_error is None
        assert healthy(guard)  # nothing asked for keys yet: nothing is wrong
        assert issuer.jwks_requests == 0  # reading the health fetched nothing

        keys = guard.validator.keys[issuer.issuer]  # type: ignore[attr-defined]
        keys.refresh(keys.generation)
        (fetched,) = key_sources(guard)
        assert fetched.state == "ok"
        assert fetched.keys == len(issuer.published)
        assert fetched.fetched_at is not None
        assert fetched.next_refresh == keys.expires_at
        assert fetched.jwks_uri == issuer.jwks_uri

    # The issuer is gone: the last good keys stay in use, the error is reported.
    keys.refresh(keys.generation)
    (stale,) = key_sources(guard)
    assert stale.state == "stale"
    assert stale.healthy
    assert stale.keys == fetched.keys
    assert stale.last_error is not None
    assert "refused" in stale.last_error.lower()
    assert stale.failed_at is not None
    assert stale.next_refresh is not None
    assert stale.next_refresh > stale.failed_at


def test_a_source_that_never_answered_is_unhealthy() -> None:
    issuer = LocalIssuer().start()
    issuer.stop()
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    keys = guard.validator.keys[issuer.issuer]  # type: ignore[attr-defined]
    keys.refresh(keys.generation)
    assert not healthy(guard)
    document = report(guard)
    assert document["healthy"] is False
    (source,) = document["key_sources"]
    assert source["state"] == "unavailable"
    assert source["last_error"]
    json.dumps(document)  # JSON as it is


def test_the_public_report_leaves_out_urls_and_errors() -> None:
    issuer = LocalIssuer().start()
    issuer.stop()
    guard = Guard(Settings(issuer=issuer.issuer, audience=AUDIENCE))
    keys = guard.validator.keys[issuer.issuer]  # type: ignore[attr-defined]
    keys.refresh(keys.generation)
    (source,) = report(guard, detail=False)["key_sources"]
    assert "last_error" not in source
    assert "jwks_uri" not in source
    assert source["state"] == "unavailable"


def test_one_key_set_shared_by_several_issuers_is_one_source() -> None:
    settings = Settings(
        issuer="https://a.example.com/,https://b.example.com/",
        audience=AUDIENCE,
        jwks_uri="https://keys.example.com/jwks.json",
    )
    (source,) = key_sources(Guard(settings))
    assert source.issuers == ("https://a.example.com/", "https://b.example.com/")
