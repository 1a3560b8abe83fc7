"""The one spelling of ``Authorization: Bearer <token>`` that is accepted, and the refusals
of every other: Unicode whitespace, folded duplicate headers, a token where a scheme goes.
"""

from __future__ import annotations

import logging

import pytest

from audmw import Guard, InvalidRequest, MissingToken, TokenValidator
from audmw.bearer import bearer_credentials
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE
from .crafting import sent

# Whitespace to str.strip() but not to RFC 9110, which allows only SP and HTAB around a value.
NOT_HTTP_WHITESPACE = ["\xa0", "\x85", "\x0b", "\x0c", "\x1c", "\x1f", "\u2028", "\u3000", "\r"]


@pytest.mark.parametrize("space", NOT_HTTP_WHITESPACE, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("where", ["after", "before", "between"])
def test_unicode_whitespace_around_the_credentials_is_a_bad_request(
    issuer: LocalIssuer, validator: TokenValidator, space: str, where: str
) -> None:
    guard = Guard(validator=validator)
    token = issuer.mint(aud=AUDIENCE)
    value = {
        "after": f"Bearer {token}{space}",
        "before": f"{space}Bearer {token}",
        "between": f"Bearer{space}{token}",
    }[where]
    assert guard.authorize(sent([f"Bearer {token}"])).subject == "user-123"  # cached now
    forms: list[str | bytes] = [value, value.encode("utf-8")]  # ASGI servers give bytes
    if ord(space) < 256:
        forms.append(value.encode("latin-1"))
    for form in forms:
        with pytest.raises(InvalidRequest) as refused:
            guard.authorize(sent([form]))
        assert refused.value.reason == "malformed_authorization"


@pytest.mark.parametrize(
    "value", ["Bearer  {t}", " Bearer {t}", "\tBearer {t}", "Bearer {t} ", "Bearer {t}\t \t"]
)
def test_space_and_tab_around_the_credentials_are_tolerated(
    issuer: LocalIssuer, validator: TokenValidator, value: str
) -> None:
    guard = Guard(validator=validator)
    token = issuer.mint(aud=AUDIENCE)
    assert guard.authorize(sent([value.format(t=token)])).subject == "user-123"


@pytest.mark.parametrize("value", ["Bearer\t{t}", "Bearer \t{t}", "Bearer\t {t}"])
def test_a_tab_between_the_scheme_and_the_token_is_a_bad_request(
    issuer: LocalIssuer, validator: TokenValidator, value: str
) -> None:
    guard = Guard(validator=validator)
    token = issuer.mint(aud=AUDIENCE)
    with pytest.raises(InvalidRequest) as refused:
        guard.authorize(sent([value.format(t=token)]))
    assert refused.value.reason == "malformed_authorization"


@pytest.mark.parametrize(
    "value",
    [
        ", Bearer {t}",
        ",Bearer {t}",
        "Basic dXNlcjpwYXNz, Bearer {t}",
        "Bearer {t}, Basic dXNlcjpwYXNz",
        "Bearer {t}, Bearer {t}",
        "Bearer {t},",
        "Basic dXNlcjpwYXNz, Basic b3RoZXI6cGFzcw==",
        'Digest username="a", realm="b", Bearer {t}',
    ],
)
def test_folded_duplicate_headers_are_a_bad_request(
    issuer: LocalIssuer, validator: TokenValidator, value: str
) -> None:
    guard = Guard(validator=validator)
    token = issuer.mint(aud=AUDIENCE)
    guard.authorize(sent([f"Bearer {token}"]))  # a cached token must not change the answer
    with pytest.raises(InvalidRequest) as refused:
        guard.authorize(sent([value.format(t=token)]))
    assert refused.value.reason == "multiple_authorization_headers"
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "value", ['Digest username="a", realm="b", nonce = "c"', "Basic dXNlcjpwYXNz", "DPoP abc"]
)
def test_one_header_of_another_scheme_is_still_a_bare_challenge(value: str) -> None:
    with pytest.raises(MissingToken) as refused:
        bearer_credentials([value])
    assert refused.value.reason == "unsupported_scheme"


@pytest.mark.parametrize(
    "value",
    ["{t} x", "{t} Bearer", "Bearer{t} x", "{t}\t x", "{head} {rest}", "Mac{t} x"],
)
def test_nothing_of_a_token_in_the_scheme_position_reaches_the_log(
    issuer: LocalIssuer,
    validator: TokenValidator,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    guard = Guard(validator=validator)
    token = issuer.mint(aud=AUDIENCE)
    caplog.set_level(logging.DEBUG, logger="audmw")
    with pytest.raises((MissingToken, InvalidRequest)):
        guard.authorize(sent([value.format(t=token, head=token[:10], rest=token[10:])]))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused" in logged
    for start in range(0, len(token) - 6, 3):
        assert token[start : start + 6] not in logged


def test_a_registered_scheme_is_named(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="audmw")
    for value in ("basic dXNlcjpwYXNz", "DPOP abc", "Negotiate abc"):
        with pytest.raises(MissingToken) as refused:
            bearer_credentials([value])
        assert refused.value.hint is not None
        assert repr(value.split()[0]).lower() in refused.value.hint.lower()
