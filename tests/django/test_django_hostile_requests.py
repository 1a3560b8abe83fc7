"""Requests shaped to slip past the middleware, through Django's real test client."""

from __future__ import annotations

from django.test import Client
from django_support import AUDIENCE, bearer

from audmw.testing import LocalIssuer


def test_a_get_rule_holds_for_head_requests(issuer: LocalIssuer, effects: list[str]) -> None:
    # Django runs the view for HEAD as for GET; the settings' GET rule on /thirdparty/** asks
    # for "reports", and must hold for HEAD too.
    client = Client()
    without = bearer(issuer.mint(aud=AUDIENCE, scopes="profile"))
    head = client.head("/thirdparty/report", **without)
    assert head.status_code == 403
    assert 'scope="reports"' in head["WWW-Authenticate"]
    assert effects == []
    allowed = bearer(issuer.mint(aud=AUDIENCE, scopes="reports"))
    assert client.head("/thirdparty/report", **allowed).status_code == 200
    assert effects == ["third report HEAD"]
