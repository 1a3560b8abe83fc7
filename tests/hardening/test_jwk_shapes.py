"""Every member of a JWK in every JSON shape: the key is used or skipped, never a crash, and
the issuer's good keys keep verifying beside it."""

from __future__ import annotations

from typing import Any

import pytest

from audmw import Settings, TokenValidator
from audmw.testing import LocalIssuer, generate_key

from .conftest import AUDIENCE

SHAPES: list[Any] = [None, True, 0, 1.5, "", "x", [], [{}], [[]], {}, {"x": []}, ["verify"]]
MEMBERS = ["kty", "kid", "alg", "use", "key_ops", "crv", "n", "e", "x", "y", "issuer", "d"]


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
@pytest.mark.anyio
async def test_a_jwk_member_of_any_shape_is_skipped_or_used(sync: bool) -> None:
    good = generate_key("rsa")
    odd = generate_key("ec-p256")
    with LocalIssuer(keys=[good], audience=AUDIENCE) as issuer:
        template = odd.public_jwk()
        issuer.extra_jwks.extend(
            {**template, member: shape, "kid": f"{member}-{number}"}
            if member != "kid"
            else {**template, "kid": shape}
            for member in MEMBERS
            for number, shape in enumerate(SHAPES)
        )
        issuer.extra_jwks.extend(SHAPES)  # entries that are no object at all
        validator = TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE))
        token = issuer.mint()
        if sync:
            assert validator.validate(token).subject == "user-123"
        else:
            assert (await validator.validate_async(token)).subject == "user-123"
        assert issuer.jwks_requests == 1
