"""Coverage-guided fuzz targets (atheris): token parsing and validation, bearer extraction.

    python -m tests.fuzz.targets validate -runs=200000      # or: claims, bearer
    python -m tests.fuzz.targets validate -max_total_time=600

Each input must end in one of the library's refusals (or, for a valid token, an accept);
any other exception is a crash, and atheris stops with the input that caused it. The seed
corpus is a valid token of each algorithm, so mutations start at the checks that matter.
libFuzzer's last line says how many inputs ran (``Done 200000 runs in 95 second(s)``);
the exit status is 0 when none crashed.
"""

from __future__ import annotations

import base64
import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris  # type: ignore[import-untyped]
from jwt.algorithms import get_default_algorithms

with atheris.instrument_imports(include=["audmw"]):
    from audmw import AuthError, Guard, Settings, TokenValidator
    from audmw.bearer import extract_bearer, header_credentials
    from audmw.jws import parse
    from audmw.request import IncomingRequest, token_in_form, token_in_query
    from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
SECRET = b"f" * 64
ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA", "HS256"]


def validate_target(issuer: LocalIssuer) -> Callable[[bytes], None]:
    validator = TokenValidator(
        Settings(
            issuer=issuer.issuer,
            audience=AUDIENCE,
            algorithms=ALGORITHMS,
            hmac_secret=SECRET,
            client_ids=["web-client"],
            required_claims={"token_use": "access"},
            token_cache_size=0,  # every input checked in full
        )
    )

    def one_input(data: bytes) -> None:
        with contextlib.suppress(AuthError):
            parse(data)
        with contextlib.suppress(AuthError):
            validator.validate(data)

    return one_input


def claims_target(issuer: LocalIssuer) -> Callable[[bytes], None]:
    """Header and payload JSON as the fuzzer writes them, encoded and signed (HS256) here:
    mutations reach the header and claim checks instead of dying at the signature."""
    validate = validate_target(issuer)
    hmac = get_default_algorithms()["HS256"]
    key = hmac.prepare_key(SECRET)

    def one_input(data: bytes) -> None:
        header, _, payload = data.partition(b"\n")
        signing_input = _b64(header) + b"." + _b64(payload)
        validate(signing_input + b"." + _b64(hmac.sign(signing_input, key)))

    return one_input


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def bearer_target(issuer: LocalIssuer) -> Callable[[bytes], None]:
    guard = Guard(validator=TokenValidator(Settings(issuer=issuer.issuer, audience=AUDIENCE)))

    def one_input(data: bytes) -> None:
        flags, values = data[:1], data[1:].split(b"\n")[:3]
        query, body = bool(flags and flags[0] & 1), bool(flags and flags[0] & 2)
        text = [value.decode("latin-1") for value in values]
        for call in (
            lambda: extract_bearer(text, token_in_query=query, token_in_body=body),
            lambda: header_credentials(text, "x-token"),
            lambda: guard.lookup(IncomingRequest("GET", "/", tuple(values), query, body)),
        ):
            with contextlib.suppress(AuthError):
                call()
        token_in_query(data)
        token_in_form(data)

    return one_input


def selftest_target(issuer: LocalIssuer) -> Callable[[bytes], None]:
    """A target that crashes on purpose, so the smoke test sees a crash being reported."""

    def one_input(data: bytes) -> None:
        if b"crash" in data:
            raise ValueError("the planted crash")

    return one_input


TARGETS = {
    "validate": validate_target,
    "claims": claims_target,
    "bearer": bearer_target,
    "selftest": selftest_target,
}


def seeds(issuer: LocalIssuer, directory: Path) -> None:
    tokens = [issuer.mint(alg=alg, aud=AUDIENCE, token_use="access") for alg in ALGORITHMS[:-1]]
    tokens.append(issuer.mint(alg="HS256", key=SECRET, aud=AUDIENCE, token_use="access"))
    for number, token in enumerate(tokens):
        (directory / f"token-{number}").write_bytes(token.encode())
        (directory / f"header-{number}").write_bytes(b"\x00Bearer " + token.encode())
        header, payload, _ = (
            base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")
        )
        (directory / f"json-{number}").write_bytes(header + b"\n" + payload)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv if argv is None else argv)
    if len(args) < 2 or args[1] not in TARGETS:
        print(f"usage: python -m tests.fuzz.targets {{{','.join(TARGETS)}}} [libFuzzer options]")
        return 2
    name = args.pop(1)
    with LocalIssuer(audience=AUDIENCE) as issuer, tempfile.TemporaryDirectory() as corpus:
        seeds(issuer, Path(corpus))
        one_input = TARGETS[name](issuer)
        if not any(not arg.startswith("-") for arg in args[1:]):
            args.append(corpus)  # no corpus directory given: start from the seeds
        atheris.Setup(args, one_input)
        atheris.Fuzz()  # exits the process when done: status 0, or 1 with the crashing input
    return 0


if __name__ == "__main__":
    sys.exit(main())
