"""Test helpers: a local issuer serving discovery and JWKS over real HTTP, and a pytest plugin."""

from audmw.testing.issuer import LocalIssuer, SigningKey, generate_key, sign_compact

__all__ = ["LocalIssuer", "SigningKey", "generate_key", "sign_compact"]
