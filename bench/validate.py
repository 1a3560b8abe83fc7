"""Per-token cost of ``TokenValidator.validate``, as ratios to baselines measured in this run.

    .venv/bin/python -m bench.validate [--seconds 0.3]

Baselines, for the same token and the same preloaded key object:
- floor: the raw ``cryptography`` signature verification of the signing input (nothing else);
- PyJWT: ``jwt.decode`` with the same aud/iss/exp checks.
audmw is measured uncached (verified-token cache off, keys already fetched) and on a cache hit.
"""

from __future__ import annotations

import argparse
import timeit
from base64 import urlsafe_b64decode
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from jwt.utils import raw_to_der_signature

from audmw import Settings, TokenValidator
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


def per_call(function: Callable[[], Any], seconds: float) -> float:
    """Best-of-5 microseconds per call, each round about ``seconds`` long."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    number = max(1, int(number * seconds / 0.2))
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def floor_for(alg: str, public_key: Any, token: str) -> Callable[[], None]:
    signing_input, _, signature_b64 = token.rpartition(".")
    message = signing_input.encode()
    signature = urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    if alg == "RS256":
        return lambda: public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    if alg == "PS256":
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        return lambda: public_key.verify(signature, message, pss, hashes.SHA256())
    if alg == "ES256":
        der = raw_to_der_signature(signature, public_key.curve)
        return lambda: public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    return lambda: public_key.verify(signature, message)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="length of one timing round")
    args = parser.parse_args(argv)
    rows = []
    with LocalIssuer() as issuer:
        settings = Settings(issuer=issuer.issuer, audience=AUDIENCE)
        uncached = TokenValidator(
            Settings(issuer=issuer.issuer, audience=AUDIENCE, token_cache_size=0)
        )
        cached = TokenValidator(settings)
        for alg in ALGORITHMS:
            # A typical provider access token: about 1.2 KB with an RSA signature.
            token = issuer.mint(
                alg=alg,
                aud=[AUDIENCE, "https://tenant.example.com/userinfo"],
                scopes="openid profile email read:messages write:messages",
                azp="a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4",
                permissions=["read:messages", "write:messages", "admin", "read:reports"],
                org_id="org_8f3k2j4h5g6f7d8s",
                https_example_com_roles=["editor", "viewer"],
                gty="client-credentials" if alg == "ES256" else None,
            )
            public_key = issuer.key_for(alg).private_key.public_key()
            uncached.validate(token)
            cached.validate(token)
            floor = per_call(floor_for(alg, public_key, token), args.seconds)
            pyjwt = per_call(
                lambda t=token, k=public_key, a=alg: jwt.decode(
                    t, k, algorithms=[a], audience=AUDIENCE, issuer=issuer.issuer
                ),
                args.seconds,
            )
            miss = per_call(lambda t=token: uncached.validate(t), args.seconds)
            hit = per_call(lambda t=token: cached.validate(t), args.seconds)
            rows.append((alg, len(token), floor, pyjwt, miss, hit))

    print(
        f"{'alg':<6} {'bytes':>5} {'floor us':>9} {'PyJWT/floor':>11} "
        f"{'audmw/floor':>11} {'PyJWT/audmw':>11} {'hit us':>7} {'hit/floor':>9}"
    )
    for alg, size, floor, pyjwt, miss, hit in rows:
        print(
            f"{alg:<6} {size:>5} {floor:>9.1f} {pyjwt / floor:>10.2f}x {miss / floor:>10.2f}x "
            f"{pyjwt / miss:>10.2f}x {hit:>7.2f} {hit / floor:>8.1%}"
        )


if __name__ == "__main__":
    main()
