"""Per-token cost of ``TokenValidator.validate``, as ratios to baselines measured in this run.

    .venv/bin/python -m bench.validate [--seconds 0.3]

Baselines, for the same token and the same preloaded key object:
- floor: the raw ``cryptography`` signature verification of the signing input (nothing else);
- PyJWT: ``jwt.decode`` with the same aud/iss/exp checks.
audmw is measured uncached (verified-token cache off, keys already fetched) and on a cache hit.
"""

from __future__ import annotations

import argparse
import time
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


def per_call(functions: dict[str, Callable[[], Any]], seconds: float) -> dict[str, float]:
    """Microseconds per call of each function: the best of interleaved rounds.

    Rounds alternate between the functions, so a slow spell of the machine hits all of them
    alike instead of one baseline.
    """
    timers = {name: timeit.Timer(function) for name, function in functions.items()}
    numbers = {name: max(1, timer.autorange()[0] // 4) for name, timer in timers.items()}
    best = dict.fromkeys(functions, float("inf"))
    deadline = time.perf_counter() + seconds * len(functions) * 5
    rounds = 0
    while rounds < 5 or time.perf_counter() < deadline:
        rounds += 1
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


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
    parser.add_argument(
        "--seconds", type=float, default=0.3, help="timing budget per measured function"
    )
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
            times = per_call(
                {
                    "floor": floor_for(alg, public_key, token),
                    "pyjwt": lambda t=token, k=public_key, a=alg: jwt.decode(
                        t, k, algorithms=[a], audience=AUDIENCE, issuer=issuer.issuer
                    ),
                    "miss": lambda t=token: uncached.validate(t),
                    "hit": lambda t=token: cached.validate(t),
                },
                args.seconds,
            )
            floor, pyjwt, miss, hit = (times[k] for k in ("floor", "pyjwt", "miss", "hit"))
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
