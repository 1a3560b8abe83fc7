"""The ``DPoP`` challenge every refusal carries beside ``Bearer`` with the default settings
(``dpop=allowed``: both schemes are accepted, RFC 9449 §7.1)."""

from __future__ import annotations

ALGS = 'algs="ES256 ES384 ES512 EdDSA PS256 RS256"'
BARE = f"Bearer, DPoP {ALGS}"
"""The bare challenge: no token came."""


def with_dpop(bearer: str, realm: str | None = None) -> str:
    """``bearer`` (a whole ``Bearer`` challenge) followed by the bare ``DPoP`` one."""
    return f"{bearer}, DPoP " + (f'realm="{realm}", ' if realm else "") + ALGS
