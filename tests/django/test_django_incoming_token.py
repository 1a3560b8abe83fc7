"""``audmw_django.incoming_token`` gives a view the request's verified token, and nothing on
a public view."""

from __future__ import annotations

import hashlib

from django.test import Client

from audmw.testing import LocalIssuer


def test_a_view_gets_the_verified_token_and_a_public_one_gets_none(issuer: LocalIssuer) -> None:
    token = issuer.mint(scopes="read:messages")
    client = Client()
    answer = client.get("/incoming", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200
    assert answer.json() == {"fingerprint": hashlib.sha256(token.encode()).hexdigest()[:16]}
    public = client.get("/incoming-public", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert public.json() == {"fingerprint": None}


def test_a_drf_view_gets_the_verified_token(issuer: LocalIssuer) -> None:
    token = issuer.mint()
    answer = Client().get("/incoming-drf", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200
    assert answer.json() == {"fingerprint": hashlib.sha256(token.encode()).hexdigest()[:16]}
