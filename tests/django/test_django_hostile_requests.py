"""Requests shaped to slip past the middleware, through Django's real test client."""

from __future__ import annotations

from django.test import Client
from django_support import AUDIENCE, bearer
from dpop_challenge import BARE

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


def test_made_up_methods_do_not_grow_memory(issuer: LocalIssuer) -> None:
    import tracemalloc

    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {issuer.mint()}"}

    def growth(methods: list[str]) -> int:
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for method in methods:
            assert client.generic(method, "/any", **headers).status_code == 200
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        return sum(s.size_diff for s in after.compare_to(before, "filename"))

    assert client.generic("X" * 4096, "/any", **headers).status_code == 200
    # Django's test client keeps a little per request (signal receivers): measured alike.
    plain = growth(["GET"] * 3000)
    made_up = growth([f"{number:04d}" + "X" * 4092 for number in range(3000)])
    assert made_up - plain < 2_000_000  # 3,000 remembered 4 KB methods would be 12 MB


FORM = "application/x-www-form-urlencoded"


def test_a_token_in_the_header_and_a_form_body_or_query_is_two_methods(
    issuer: LocalIssuer, effects: list[str]
) -> None:
    client = Client()
    token = issuer.mint(aud=AUDIENCE, scopes="write:messages")
    both = client.post("/write", f"note=x&access_token={token}", FORM, **bearer(token))
    assert both.status_code == 400
    assert 'error="invalid_request"' in both["WWW-Authenticate"]
    encoded = client.post(f"/write?access%5Ftoken={token}", "", FORM, **bearer(token))
    assert encoded.status_code == 400
    body_only = client.post("/write", f"access_token={token}", FORM)
    assert body_only.status_code == 401
    assert body_only["WWW-Authenticate"] == BARE
    assert token not in (both.content + encoded.content + body_only.content).decode()
    assert effects == []
    assert client.post("/write", "note=x", FORM, **bearer(token)).status_code == 200
    assert effects == ["write POST"]
