"""Per-token cost of ``TokenValidator.validate``, as ratios to baselines measured in this run.

    .venv/bin/python -m bench.validate [--seconds 0.3] [--callgrind]

Baselines, for the same token and the same preloaded key object:
- floor: the raw ``cryptography`` signature verification of the signing input (nothing else);
- PyJWT: ``jwt.decode`` with the same aud/iss/exp checks.
audmw is measured uncached (verified-token cache off, keys already fetched) and on a cache hit.

``--callgrind`` counts instructions per call instead (valgrind's callgrind, steady where
wall-clock time is not on a shared machine): each case runs in a process of its own with a
fixed hash seed, twice with different numbers of calls, and the difference is divided by the
difference in calls, so start-up cancels out. The keys come from a JWKS served in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import timeit
from base64 import urlsafe_b64decode
from collections.abc import Callable
from pathlib import Path
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


def token_for(issuer: LocalIssuer, alg: str) -> str:
    """A typical provider access token: about 1.2 KB with an RSA signature (valid for an hour:
    the instruction counts take minutes)."""
    return issuer.mint(
        alg=alg,
        expires_in=3600,
        aud=[AUDIENCE, "https://tenant.example.com/userinfo"],
        scopes="openid profile email read:messages write:messages",
        azp="a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4",
        permissions=["read:messages", "write:messages", "admin", "read:reports"],
        org_id="org_8f3k2j4h5g6f7d8s",
        https_example_com_roles=["editor", "viewer"],
        gty="client-credentials" if alg == "ES256" else None,
    )


# -- instruction counts -------------------------------------------------------------------------

CASES = ("floor", "miss", "hit")
_COLLECTED = re.compile(r"Collected : (\d+)")


def worker(case: str, calls: int) -> None:
    """Run one case ``calls`` times, with the issuer's keys from the JWKS in BENCH_CASE."""
    import httpx

    given = json.loads(os.environ["BENCH_CASE"])
    token, alg, issuer = given["token"], given["alg"], given["issuer"]
    if case == "floor":
        (jwk,) = given["jwks"]["keys"]
        key = jwt.PyJWK(jwk, algorithm="EdDSA" if alg == "EdDSA" else alg).key
        function = floor_for(alg, key, token)
    else:
        jwks = json.dumps(given["jwks"]).encode()
        transport = httpx.MockTransport(lambda request: httpx.Response(200, content=jwks))
        settings = Settings(
            issuer=issuer,
            audience=AUDIENCE,
            jwks_uri=issuer + "/jwks.json",
            algorithms=[alg],
            token_cache_size=0 if case == "miss" else 10,
        )
        validator = TokenValidator(settings, transport=transport)
        validator.validate(token)
        function = lambda: validator.validate(token)  # noqa: E731
    for _ in range(calls):
        function()


def instructions(case: str, calls: int, environment: dict[str, str]) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--callgrind needs valgrind (apt-get install valgrind)")
    done = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "bench.validate",
            "--worker",
            case,
            str(calls),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind {case} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def callgrind(algorithms: list[str], calls: int) -> None:
    print(f"{'alg':<6} {'floor':>9} {'miss':>9} {'hit':>9} {'miss/floor':>10} {'hit/floor':>9}")
    with LocalIssuer() as issuer:
        for alg in algorithms:
            token = token_for(issuer, alg)
            key = issuer.key_for(alg)
            case = {
                "token": token,
                "alg": alg,
                "issuer": issuer.issuer,
                "jwks": {"keys": [key.public_jwk()]},
            }
            environment = dict(os.environ, BENCH_CASE=json.dumps(case), PYTHONHASHSEED="0")
            environment["PYTHONPATH"] = os.pathsep.join(
                [str(Path(__file__).resolve().parent.parent), environment.get("PYTHONPATH", "")]
            )
            counts = {
                name: (
                    instructions(name, 2 * calls, environment)
                    - instructions(name, calls, environment)
                )
                / calls
                for name in CASES
            }
            floor = counts["floor"]
            print(
                f"{alg:<6} {floor:>9.0f} {counts['miss']:>9.0f} {counts['hit']:>9.0f} "
                f"{counts['miss'] / floor:>9.3f}x {counts['hit'] / floor:>8.1%}"
            )
            break_down = counts["miss"] - floor
            print(f"{'':<6} audmw beyond the signature check: {break_down:.0f} instructions")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=0.3, help="timing budget per measured function"
    )
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead")
    parser.add_argument("--calls", type=int, default=200, help="calls per callgrind run")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    if args.callgrind:
        callgrind(["RS256", "ES256", "EdDSA"], args.calls)
        return
    rows = []
    with LocalIssuer() as issuer:
        settings = Settings(issuer=issuer.issuer, audience=AUDIENCE)
        uncached = TokenValidator(
            Settings(issuer=issuer.issuer, audience=AUDIENCE, token_cache_size=0)
        )
        cached = TokenValidator(settings)
        for alg in ALGORITHMS:
            token = token_for(issuer, alg)
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
