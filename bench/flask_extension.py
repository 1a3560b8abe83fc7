"""Per-request cost of ``audmw_flask`` through Flask's test client, as ratios measured in one run.

    .venv/bin/python -m bench.flask_extension [--seconds 1.5]

The same view (needing ``read:messages``) and the same RS256 token, in apps protected by:
- nothing (the baseline);
- audmw, on a verified-token cache hit, and with the cache off (keys already fetched);
- Authlib's ``ResourceProtector`` with RFC 9068 ``JWTBearerTokenValidator``, its key set
  prepared once, and given the JWKS as a dict (imported on every request);
- flask-jwt-extended with the RS256 public key, ``JWT_DECODE_AUDIENCE`` and the issuer;
- the floor: a ``before_request`` that reads the header and checks the RS256 signature, and
  nothing else (no JSON, no claims: it would accept any token the issuer ever signed).
"""

from __future__ import annotations

import argparse
import time
import timeit
import warnings
from base64 import urlsafe_b64decode
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask, request
from flask.testing import FlaskClient

from audmw import Settings
from audmw.testing import LocalIssuer
from audmw_flask import Audmw, require_scopes

AUDIENCE = "https://api.example.com"
SCOPE = "read:messages"
FLOOR = "signature only (floor)"
ROUNDS = 15
MESSAGES = {"messages": [{"id": 1, "text": "hello"}]}


def per_call(functions: dict[str, Callable[[], Any]], seconds: float) -> dict[str, float]:
    """Microseconds of CPU time per call of each function: the best of interleaved rounds.

    Rounds of the functions alternate, so that load from other processes falls on all of
    them alike; CPU time of this process, not wall-clock time, for the same reason.
    """
    timers = {
        name: timeit.Timer(function, timer=time.process_time)
        for name, function in functions.items()
    }
    numbers = {}
    for name, timer in timers.items():
        number, taken = timer.autorange()
        numbers[name] = max(1, int(number * seconds / max(taken, 1e-3) / ROUNDS))
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(ROUNDS):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def no_auth() -> Flask:
    app = Flask("no_auth")
    app.add_url_rule("/messages", "messages", lambda: MESSAGES)
    return app


def with_audmw(issuer: LocalIssuer, cache_size: int) -> Flask:
    app = Flask("audmw")
    settings = Settings(issuer=issuer.issuer, audience=AUDIENCE, token_cache_size=cache_size)
    Audmw(app, settings=settings)
    app.add_url_rule("/messages", "messages", require_scopes(SCOPE)(lambda: MESSAGES))
    return app


def with_authlib(issuer: LocalIssuer, prepared: bool) -> Flask:
    from authlib.deprecate import AuthlibDeprecationWarning
    from authlib.integrations.flask_oauth2 import ResourceProtector
    from authlib.oauth2.rfc9068 import JWTBearerTokenValidator

    # Authlib warns on every request that its key import moved to joserfc (and sets its own
    # warning category to "always" on import); the verification is the same.
    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    from joserfc.jwk import KeySet

    jwks = issuer.jwks()
    key_set = KeySet.import_key_set(jwks)

    class Validator(JWTBearerTokenValidator):  # type: ignore[misc]
        def get_jwks(self) -> Any:
            return key_set if prepared else jwks

    require_oauth = ResourceProtector()
    require_oauth.register_token_validator(Validator(issuer.issuer, AUDIENCE))
    app = Flask("authlib")
    app.add_url_rule("/messages", "messages", require_oauth(SCOPE)(lambda: MESSAGES))
    return app


def with_flask_jwt_extended(issuer: LocalIssuer) -> Flask:
    from flask_jwt_extended import JWTManager, get_jwt, jwt_required

    public_key = issuer.key_for("RS256").private_key.public_key()
    app = Flask("flask_jwt_extended")
    app.config.update(
        JWT_ALGORITHM="RS256",
        JWT_DECODE_ALGORITHMS=["RS256"],
        JWT_PUBLIC_KEY=public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        JWT_DECODE_AUDIENCE=AUDIENCE,
        JWT_DECODE_ISSUER=issuer.issuer,
        JWT_TOKEN_LOCATION=["headers"],
    )
    JWTManager(app)

    @jwt_required()
    def messages() -> Any:
        if SCOPE not in get_jwt().get("scope", "").split():
            return {"error": "insufficient_scope"}, 403
        return MESSAGES

    app.add_url_rule("/messages", "messages", messages)
    return app


def signature_only(issuer: LocalIssuer) -> Flask:
    public_key = issuer.key_for("RS256").private_key.public_key()
    app = Flask("signature_only")

    @app.before_request
    def check_signature() -> None:
        signing_input, _, signature = request.headers["Authorization"][7:].rpartition(".")
        public_key.verify(
            urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
            signing_input.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )

    app.add_url_rule("/messages", "messages", lambda: MESSAGES)
    return app


def request_of(client: FlaskClient, headers: dict[str, str]) -> Callable[[], None]:
    def call() -> None:
        response = client.get("/messages", headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"unexpected {response.status_code}: {response.get_data()!r}")

    return call


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="measuring time per app")
    args = parser.parse_args(argv)
    with LocalIssuer() as issuer:
        token = issuer.mint(
            alg="RS256", sub="user-123", scopes="openid profile read:messages write:messages"
        )
        headers = {"Authorization": f"Bearer {token}"}
        apps = {
            "no auth": no_auth(),
            "audmw, cached": with_audmw(issuer, 10_000),
            "audmw, uncached": with_audmw(issuer, 0),
            "Authlib ResourceProtector, prepared key set": with_authlib(issuer, True),
            "Authlib ResourceProtector, JWKS dict": with_authlib(issuer, False),
            "flask-jwt-extended": with_flask_jwt_extended(issuer),
            FLOOR: signature_only(issuer),
        }
        calls = {name: request_of(app.test_client(), headers) for name, app in apps.items()}
        for call in calls.values():
            call()  # the first request fetches audmw's keys and fills the caches
        cost = per_call(calls, args.seconds)

    base = cost["no auth"]
    print(f"{'per request through the Flask test client':<46} {'us':>8} {'added us':>9}")
    for name, value in cost.items():
        print(f"{name:<46} {value:8.1f} {value - base:9.1f}")

    added = {name: value - base for name, value in cost.items()}
    peers = {n: a for n, a in added.items() if n.startswith(("Authlib", "flask-jwt"))}
    floor = added[FLOOR]
    faster_name = min(peers, key=lambda n: peers[n])
    print()
    print(
        f"audmw cached overhead over no auth: {added['audmw, cached'] / base:.1%} (target <= 15%)"
    )
    print(
        f"audmw uncached added cost / {faster_name} added cost: "
        f"{added['audmw, uncached'] / peers[faster_name]:.2f} (target <= 0.50)"
    )
    for name, value in peers.items():
        print(f"  {name}: audmw uncached adds {added['audmw, uncached'] / value:.2f}x its cost")
    for name, value in (*peers.items(), ("audmw, uncached", added["audmw, uncached"])):
        print(f"  {name}: {value / floor:.2f}x the floor's added cost")


if __name__ == "__main__":
    main()
