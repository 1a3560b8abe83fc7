"""RSA public keys that must never verify a token, whatever their size says.

- **ROCA** (CVE-2017-15361): Infineon's RSALib made primes of the form
  ``k * M + (65537 ** a mod M)``, with ``M`` the product of the first primes; their moduli
  can be factored. Such a modulus ``n`` is, modulo every small prime ``p`` dividing ``M``,
  a power of 65537. A random modulus is so for every ``p`` up to 167 with a probability
  near 2**-154 (Nemec et al., CCS 2017), so that is the published fingerprint; this is an
  implementation of it that tests membership in the subgroup 65537 generates mod ``p``.
- **Exponents**: 1 makes the "signature" the message itself; an even exponent is no RSA
  key. Only odd exponents from 3 on are used.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, NamedTuple

__all__ = ["WeakKey", "WeakKeyError", "roca_fingerprint", "rsa_jwk_weakness", "rsa_key_weakness"]

# Every prime up to 167 divides RSALib's M for every key size it made.
_PRIMES: tuple[int, ...] = tuple(
    p for p in range(3, 168) if all(p % divisor for divisor in range(2, int(p**0.5) + 1))
)
_GENERATOR = 65537


def _powers(p: int) -> frozenset[int]:
    """The subgroup of (Z/pZ)* that 65537 generates."""
    found = {1}
    value = _GENERATOR % p
    while value not in found:
        found.add(value)
        value = value * _GENERATOR % p
    return frozenset(found)


_SUBGROUPS = tuple((p, _powers(p)) for p in _PRIMES)


def roca_fingerprint(n: int) -> bool:
    """Whether the modulus ``n`` has the structure of an Infineon RSALib key (ROCA)."""
    return all(n % p in powers for p, powers in _SUBGROUPS)


class WeakKey(NamedTuple):
    """Why a key is refused: a reason code for the log and the operator's fix."""

    reason: str
    hint: str


class WeakKeyError(ValueError):
    """A key of the issuer's JWKS that is never used, with the reason code and the fix."""

    def __init__(self, weakness: WeakKey) -> None:
        super().__init__(f"{weakness.hint} (reason={weakness.reason})")
        self.reason = weakness.reason
        self.hint = weakness.hint


def rsa_key_weakness(n: int, e: int) -> WeakKey | None:
    """What makes the RSA public key ``(n, e)`` unusable, or None."""
    if e < 3 or e % 2 == 0 or e >= n:
        shown = str(e) if e.bit_length() <= 64 else f"of {e.bit_length()} bits"
        return WeakKey(
            "rsa_exponent_weak",
            f"public exponent {shown} is not an odd number from 3 up, below the modulus "
            "(65537 is usual); the issuer must publish a new key",
        )
    if roca_fingerprint(n):
        return WeakKey(
            "rsa_key_roca",
            "the modulus has the ROCA fingerprint (CVE-2017-15361: an Infineon chip made it, "
            "and it can be factored); the issuer must replace the key with one generated "
            "elsewhere, or after the chip's firmware update",
        )
    return None


def _integer(member: Any) -> int | None:
    if not isinstance(member, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(member + "=" * (-len(member) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big")


def rsa_jwk_weakness(jwk: Mapping[str, Any]) -> WeakKey | None:
    """``rsa_key_weakness`` of an RSA JWK's ``n`` and ``e``; None when they do not decode
    (the key loader refuses those as malformed)."""
    n, e = _integer(jwk.get("n")), _integer(jwk.get("e"))
    if n is None or e is None:
        return None
    return rsa_key_weakness(n, e)
