"""Input shaped to slip past a check or to turn a refusal into a crash.

Every case here is refused with the ordinary answer (400/401/403/503), never a 500.
"""

from __future__ import annotations

import logging

import pytest

from audmw import Guard, InvalidToken, MissingToken, TokenValidator

from .crafting import b64, segment, sent

# -- JSON nested past the interpreter's recursion limit ------------------------------------------

DEEP = b"[" * 5000 + b"]" * 5000  # 10 KB, under max_token_bytes once base64url-encoded
DEEP_PAYLOAD = segment({"alg": "RS256"}) + "." + b64(b'{"a":' + DEEP + b"}") + ".c2ln"
DEEP_HEADER = b64(b'{"alg":' + DEEP + b"}") + "." + segment({}) + ".c2ln"


@pytest.mark.parametrize(
    "token",
    [pytest.param(DEEP_PAYLOAD, id="payload"), pytest.param(DEEP_HEADER, id="header")],
)
@pytest.mark.anyio
async def test_deeply_nested_json_is_malformed_not_a_crash(
    validator: TokenValidator, token: str
) -> None:
    with pytest.raises(InvalidToken) as caught:
        validator.validate(token)
    assert caught.value.reason == "malformed_jwt"
    with pytest.raises(InvalidToken):
        await validator.validate_async(token)


# -- nothing of the token reaches the log --------------------------------------------------------


def test_a_token_sent_without_a_scheme_is_not_logged(
    validator: TokenValidator, caplog: pytest.LogCaptureFixture
) -> None:
    guard = Guard(validator=validator)
    opaque = "s3cr3tOpaqueAccessTokenValue0123456789"
    caplog.set_level(logging.INFO, logger="audmw")
    for value in (opaque, "Basic dXNlcjpwYXNz"):
        with pytest.raises(MissingToken) as caught:
            guard.authorize(sent([value]))
        assert caught.value.reason == "unsupported_scheme"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "has no scheme" in logged
    assert "'Basic' is not Bearer" in logged
    assert opaque[:6] not in logged
