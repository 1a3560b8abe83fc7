"""A real LocalIssuer serving the keys, and tokens minted in each provider's exact shape.

Real providers' issuers are https URLs that cannot be reached from a test, so each preset is
given ``jwks_uri`` pointing at the LocalIssuer, and tokens are minted with ``iss`` set to the
provider's issuer: the validator still compares ``iss`` exactly and verifies the signature
with keys fetched over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from audmw import Settings, TokenValidator
from audmw.errors import AuthError
from audmw.testing import LocalIssuer, SigningKey, generate_key
from audmw.testing.issuer import FAMILIES

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
API_CLIENT_ID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
APP_ID_URI = "api://orders-api"


@pytest.fixture(scope="session")
def signing_keys() -> list[SigningKey]:
    return [generate_key(family) for family in FAMILIES]


@pytest.fixture
def issuer(signing_keys: list[SigningKey]) -> Iterator[LocalIssuer]:
    with LocalIssuer(keys=signing_keys) as local:
        yield local


MakeValidator = Callable[..., TokenValidator]


@pytest.fixture
def preset(issuer: LocalIssuer) -> MakeValidator:
    """A validator for ``Settings.for_provider(name, ...)`` whose keys come from ``issuer``."""

    def make(name: str, **options: Any) -> TokenValidator:
        options.setdefault("jwks_uri", issuer.jwks_uri)
        return TokenValidator(Settings.for_provider(name, **options))

    return make


def refusal(validator: TokenValidator, token: str) -> AuthError:
    """The refusal of ``token``; fails the test if it is accepted."""
    with pytest.raises(AuthError) as caught:
        validator.validate(token)
    return caught.value
