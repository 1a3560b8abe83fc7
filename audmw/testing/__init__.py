"""Test helpers: a local issuer serving discovery and JWKS over real HTTP, one issuer for a
whole test run, a refusal assertion, and a pytest plugin."""

from audmw.testing.dpop import DEFECTS, DPoPKey
from audmw.testing.issuer import (
    DEFAULT_AUDIENCE,
    LocalIssuer,
    SigningKey,
    generate_key,
    sign_compact,
)
from audmw.testing.refusals import ResponseLike, assert_refused, challenge_params, challenges
from audmw.testing.session import session_issuer
from audmw.testing.token_endpoint import RegisteredClient

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFECTS",
    "DPoPKey",
    "LocalIssuer",
    "RegisteredClient",
    "ResponseLike",
    "SigningKey",
    "assert_refused",
    "challenge_params",
    "challenges",
    "generate_key",
    "session_issuer",
    "sign_compact",
]
