"""Every check of the validator: each refusal, and the acceptance it must not break."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from audmw import InvalidToken, Settings, TokenValidator
from audmw.testing import LocalIssuer, SigningKey, generate_key, sign_compact

from .conftest import AUDIENCE, Clock, MakeValidator
from .crafting import b64, claims_for, craft, segment

ALL_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
]


def reason_of(validator: TokenValidator, token: str | bytes) -> str:
    with pytest.raises(InvalidToken) as refused:
        validator.validate(token)
    assert refused.value.status == 401
    assert refused.value.error == "invalid_token"
    return refused.value.reason


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    return generate_key("rsa", kid="attacker")


@pytest.fixture
def other_issuer(attacker_key: SigningKey) -> Iterator[LocalIssuer]:
    with LocalIssuer(keys=[attacker_key, generate_key("ec-p256")]) as local:
        yield local


# -- acceptance ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_valid_tokens_of_every_algorithm_are_accepted(
    issuer: LocalIssuer, validator: TokenValidator, alg: str
) -> None:
    token = validator.validate(issuer.mint(alg=alg, scopes=["read"]))
    assert token.subject == "user-123"
    assert token.issuer == issuer.issuer
    assert token.audience == (AUDIENCE,)
    assert token.scopes == {"read"}


@pytest.mark.anyio
@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
async def test_valid_tokens_are_accepted_async(
    issuer: LocalIssuer, validator: TokenValidator, alg: str
) -> None:
    token = await validator.validate_async(issuer.mint(alg=alg))
    assert token.subject == "user-123"


def test_token_as_bytes(issuer: LocalIssuer, validator: TokenValidator) -> None:
    assert validator.validate(issuer.mint().encode()).subject == "user-123"


def test_token_without_kid_is_tried_against_fitting_keys(
    issuer: LocalIssuer, validator: TokenValidator
) -> None:
    issuer.rotate("ES256")  # two EC P-256 keys published
    assert validator.validate(issuer.mint(alg="ES256", include_kid=False)).subject == "user-123"
    assert validator.validate(issuer.mint(include_kid=False)).subject == "user-123"


# -- shape ------------------------------------------------------------------------------------


def test_size_cap_comes_before_any_decoding(validator: TokenValidator) -> None:
    assert reason_of(validator, "!" * (16 * 1024 + 1)) == "token_too_large"
    assert reason_of(validator, "!" * 100) == "not_a_jwt"


def test_size_cap_on_a_signed_token(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    token = issuer.mint(padding="x" * 17_000)
    assert reason_of(make_validator(), token) == "token_too_large"
    assert make_validator(max_token_bytes=64 * 1024).validate(token).subject == "user-123"
    assert reason_of(make_validator(max_token_bytes=400), issuer.mint()) == "token_too_large"


@pytest.mark.parametrize(
    "token",
    [
        "2YotnFZFEjr1zCsicMWpAA",  # opaque
        "eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn",  # JWE, five parts
        "",
        "a.b",
        "a.b.c.d",
        "a..c",
        "..",
        "a.b.",
        ".b.c",
        "YQ==.Yg==.Yw==",  # padding is not allowed in compact JWS
        "a+b.c/d.e",  # base64, not base64url
        "a.b.c ",
        "a.b.c\n",
        "é.b.c",
        "a.b.c\x00",
    ],
)
def test_anything_but_a_compact_jws_is_not_a_jwt(validator: TokenValidator, token: str) -> None:
    assert reason_of(validator, token) == "not_a_jwt"


@pytest.mark.parametrize("junk", ["!!!!", "\n\n\n\n", "~~~~", "    ", "\x00\x00\x00\x00"])
@pytest.mark.parametrize("part", ["header", "payload", "signature"])
def test_foreign_bytes_inside_a_valid_token_are_refused(
    issuer: LocalIssuer, validator: TokenValidator, junk: str, part: str
) -> None:
    """A lenient base64 decoder skips them, and the signature would still verify."""
    token = issuer.mint()
    validator.validate(token)  # its header is now known
    parts = token.split(".")
    index = ["header", "payload", "signature"].index(part)
    parts[index] = parts[index][:8] + junk + parts[index][8:]
    assert reason_of(validator, ".".join(parts)) == "not_a_jwt"


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b"not json", {"iss": "x"}),
        ({"alg": "RS256"}, b"not json"),
        ([1, 2], {"iss": "x"}),
        ({"alg": "RS256"}, "a string"),
        ({"alg": "RS256"}, None),
        (b'{"alg":"RS256"}', b"\xff\xfe{}"),  # not UTF-8
        (b'{"alg":"RS256"}', b'{"exp": NaN}'),
        (b'{"alg":"RS256"}', b'{"exp": Infinity}'),
        (b'{"alg":"RS256","alg":"none"}', {"iss": "x"}),  # duplicate header member
    ],
)
def test_segments_that_are_not_json_objects_are_malformed(
    validator: TokenValidator, header: Any, payload: Any
) -> None:
    token = f"{segment(header)}.{segment(payload)}.{b64(b'signature')}"
    assert reason_of(validator, token) == "malformed_jwt"


def test_impossible_base64_length_is_malformed(validator: TokenValidator) -> None:
    header = segment({"alg": "RS256"})
    assert reason_of(validator, f"{header}.{segment({'a': 1})}.abcde") == "malformed_jwt"
    assert reason_of(validator, f"{header}x.{segment({'a': 1})}.abcd") == "malformed_jwt"


def test_duplicate_claim_names_are_refused(issuer: LocalIssuer, validator: TokenValidator) -> None:
    claims = claims_for(issuer, aud="https://other.example.com")
    body = json.dumps(claims)[:-1] + f', "aud": "{AUDIENCE}"}}'
    assert json.loads(body)["aud"] == AUDIENCE  # a lenient parser would take the last one
    assert reason_of(validator, craft(issuer, payload=body.encode())) == "malformed_jwt"
    assert validator.validate(craft(issuer, payload=json.loads(body))).audience == (AUDIENCE,)


def test_random_garbage_is_always_an_invalid_token(validator: TokenValidator) -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible garbage, not secrets
    alphabet = "ABCabc0123456789-_.=+/ "
    for _ in range(300):
        token = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120)))
        with pytest.raises(InvalidToken):
            validator.validate(token)


# -- header -----------------------------------------------------------------------------------


def test_only_allowed_algorithms(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    validator = make_validator(algorithms=["ES256"])
    assert reason_of(validator, issuer.mint(alg="RS256")) == "alg_not_allowed"
    assert reason_of(validator, issuer.mint(alg="ES384")) == "alg_not_allowed"
    assert validator.validate(issuer.mint(alg="ES256")).subject == "user-123"


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "rs256", "", 256, None, ...])
def test_alg_none_missing_or_odd_is_refused(
    issuer: LocalIssuer, validator: TokenValidator, alg: Any
) -> None:
    header = {"typ": "at+jwt"} if alg is ... else {"alg": alg, "typ": "at+jwt"}
    token = f"{segment(header)}.{segment(claims_for(issuer))}.{b64(b'x')}"
    assert reason_of(validator, token) == "alg_not_allowed"


def test_unsigned_token_is_refused(issuer: LocalIssuer, validator: TokenValidator) -> None:
    unsigned = sign_compact({"alg": "none"}, claims_for(issuer), None)
    assert unsigned.endswith(".")
    assert reason_of(validator, unsigned) == "not_a_jwt"


@pytest.mark.parametrize("crit", [["exp"], ["b64"], [], "exp"])
def test_crit_is_refused(issuer: LocalIssuer, validator: TokenValidator, crit: Any) -> None:
    assert reason_of(validator, craft(issuer, {"crit": crit, "exp": 1})) == "crit_unsupported"
    assert validator.validate(craft(issuer, {"exp": 1})).subject == "user-123"


def test_nested_jwt_is_refused(issuer: LocalIssuer, validator: TokenValidator) -> None:
    assert reason_of(validator, craft(issuer, {"cty": "JWT"})) == "nested_jwt"


@pytest.mark.parametrize("kid", [7, ["a"], {"k": 1}, "k" * 257])
def test_odd_kid_is_refused(issuer: LocalIssuer, validator: TokenValidator, kid: Any) -> None:
    assert reason_of(validator, craft(issuer, {"kid": kid})) == "bad_kid"


def test_key_location_headers_are_never_followed(
    issuer: LocalIssuer,
    validator: TokenValidator,
    other_issuer: LocalIssuer,
    attacker_key: SigningKey,
) -> None:
    attacker_jwk = attacker_key.public_jwk()
    pointers = {
        "jku": other_issuer.jwks_uri,
        "x5u": other_issuer.origin + "/cert.pem",
        "jwk": attacker_jwk,
        "x5c": [b64(b"not a real certificate")],
    }
    # Signed by the attacker, pointing at the attacker's keys: refused.
    forged = craft(issuer, pointers, key=attacker_key)
    assert reason_of(validator, forged) == "unknown_kid"
    # The same with the kid of a real key of the issuer: the real key decides.
    real_kid = issuer.key_for("RS256").kid
    forged = craft(
        issuer,
        {**pointers, "kid": real_kid, "jwk": {**attacker_jwk, "kid": real_kid}},
        key=attacker_key,
    )
    assert reason_of(validator, forged) == "bad_signature"
    # A genuine token carrying such headers is judged by the issuer's JWKS alone.
    assert validator.validate(craft(issuer, pointers)).subject == "user-123"
    assert other_issuer.requests == []


@pytest.mark.parametrize(
    "typ",
    [
        "at+jwt",
        "AT+JWT",
        "At+Jwt",
        "application/at+jwt",
        "Application/AT+JWT",
        "JWT",
        "jwt",
        "application/jwt",
        ...,
    ],
)
def test_access_token_types_pass(issuer: LocalIssuer, validator: TokenValidator, typ: Any) -> None:
    assert validator.validate(craft(issuer, {"typ": typ})).subject == "user-123"


@pytest.mark.parametrize(
    "typ",
    [
        "dpop+jwt",
        "application/dpop+jwt",
        "logout+jwt",
        "client-authentication+jwt",
        "secevent+jwt",
        "JOSE",
        "application/okta-internal-at+jwt",
        "at+jwt; charset=utf-8",
        "",
        7,
        ["at+jwt"],
    ],
)
def test_other_token_types_are_refused(
    issuer: LocalIssuer, validator: TokenValidator, typ: Any
) -> None:
    assert reason_of(validator, craft(issuer, {"typ": typ})) == "typ_not_allowed"


def test_null_typ_counts_as_absent(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    assert make_validator().validate(craft(issuer, {"typ": None})).subject == "user-123"
    strict = make_validator(require_at_jwt=True)
    assert reason_of(strict, craft(issuer, {"typ": None})) == "typ_not_allowed"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "APPLICATION/At+JWT"])
def test_require_at_jwt_accepts_at_jwt(
    issuer: LocalIssuer, make_validator: MakeValidator, typ: str
) -> None:
    validator = make_validator(require_at_jwt=True)
    assert validator.validate(craft(issuer, {"typ": typ})).subject == "user-123"


@pytest.mark.parametrize("typ", ["JWT", "application/jwt", ..., "dpop+jwt"])
def test_require_at_jwt_refuses_everything_else(
    issuer: LocalIssuer, make_validator: MakeValidator, typ: Any
) -> None:
    validator = make_validator(require_at_jwt=True)
    assert reason_of(validator, craft(issuer, {"typ": typ})) == "typ_not_allowed"


# -- signature --------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "ES512", "EdDSA"])
def test_tampered_tokens_are_refused(
    issuer: LocalIssuer, validator: TokenValidator, alg: str
) -> None:
    token = issuer.mint(alg=alg, scopes="read")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "read admin"
    assert reason_of(validator, f"{header}.{segment(claims)}.{signature}") == "bad_signature"
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[len(raw) // 2] ^= 1
    assert reason_of(validator, f"{header}.{payload}.{b64(bytes(raw))}") == "bad_signature"
    assert reason_of(validator, f"{header}.{payload}.{b64(bytes(raw[:-1]))}") == "bad_signature"
    other = issuer.mint(alg=alg).split(".")[2]
    assert reason_of(validator, f"{header}.{payload}.{other}") == "bad_signature"
    assert validator.validate(token).scopes == {"read"}


def test_a_key_of_the_right_kid_but_another_issuer_is_refused(
    issuer: LocalIssuer, validator: TokenValidator, attacker_key: SigningKey
) -> None:
    token = issuer.mint(key=attacker_key, kid=issuer.key_for("RS256").kid)
    assert reason_of(validator, token) == "bad_signature"


def test_public_key_as_hmac_secret_is_refused(
    issuer: LocalIssuer, make_validator: MakeValidator
) -> None:
    """RS256 -> HS256 key confusion (RFC 8725 §2.1): the public key is no shared secret."""
    public = issuer.key_for("RS256").private_key.public_key()
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = json.dumps(issuer.key_for("RS256").public_jwk()).encode()

    def hs256(secret: bytes, kid: str | None) -> str:
        header = {"alg": "HS256", "typ": "at+jwt"} | ({"kid": kid} if kid else {})
        signing_input = f"{segment(header)}.{segment(claims_for(issuer))}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"

    kid = issuer.key_for("RS256").kid
    default = make_validator()
    for secret in (pem, jwk):
        assert reason_of(default, hs256(secret, kid)) == "alg_not_allowed"
    shared = b"s" * 32
    with_hmac = make_validator(algorithms=["RS256", "HS256"], hmac_secret=shared)
    for secret in (pem, jwk):
        assert reason_of(with_hmac, hs256(secret, kid)) == "bad_signature"
        assert reason_of(with_hmac, hs256(secret, None)) == "bad_signature"
    assert with_hmac.validate(hs256(shared, None)).subject == "user-123"
    assert with_hmac.validate(issuer.mint()).subject == "user-123"


@pytest.mark.parametrize(("alg", "size"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_tokens_with_the_shared_secret(
    issuer: LocalIssuer, make_validator: MakeValidator, alg: str, size: int
) -> None:
    secret = b"k" * size
    validator = make_validator(algorithms=[alg], hmac_secret=secret)
    assert validator.validate(issuer.mint(alg=alg, key=secret)).subject == "user-123"
    assert reason_of(validator, issuer.mint(alg=alg, key=b"j" * size)) == "bad_signature"
    assert issuer.requests == []  # shared-secret tokens never need the JWKS


def test_each_issuer_verifies_with_its_own_keys(
    issuer: LocalIssuer, other_issuer: LocalIssuer, clock: Clock, attacker_key: SigningKey
) -> None:
    validator = TokenValidator(
        Settings(issuer=[issuer.issuer, other_issuer.issuer], audience=AUDIENCE), clock=clock
    )
    assert validator.validate(issuer.mint()).issuer == issuer.issuer
    assert validator.validate(other_issuer.mint()).issuer == other_issuer.issuer
    # Signed by A's key (kid and all), claiming to come from B: B's keys do not have it.
    assert reason_of(validator, issuer.mint(iss=other_issuer.issuer)) == "unknown_kid"
    # Signed by A's key under B's kid: B's key does not verify it.
    token = issuer.mint(iss=other_issuer.issuer, kid=attacker_key.kid)
    assert reason_of(validator, token) == "bad_signature"
    # And the other way round.
    assert reason_of(validator, other_issuer.mint(iss=issuer.issuer)) == "unknown_kid"


# -- claims -----------------------------------------------------------------------------------


def test_exp_is_required(issuer: LocalIssuer, validator: TokenValidator) -> None:
    claims = claims_for(issuer)
    del claims["exp"]
    assert reason_of(validator, craft(issuer, payload=claims)) == "exp_missing"


@pytest.fixture
def fixed(make_validator: MakeValidator, clock: Clock) -> TokenValidator:
    clock.now = float(int(time.time()))
    return make_validator()


def test_expiry_with_leeway(issuer: LocalIssuer, fixed: TokenValidator, clock: Clock) -> None:
    now = clock.now
    assert fixed.validate(issuer.mint(exp=now + 1)).subject == "user-123"
    assert fixed.validate(issuer.mint(exp=now - 29)).subject == "user-123"
    assert reason_of(fixed, issuer.mint(exp=now - 30)) == "expired"
    assert reason_of(fixed, issuer.mint(exp=now - 3600)) == "expired"


def test_expiry_without_leeway(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    clock = Clock(float(int(time.time())))
    validator = TokenValidator(
        Settings(issuer=issuer.issuer, audience=AUDIENCE, leeway=0), clock=clock
    )
    assert validator.validate(issuer.mint(exp=clock.now + 1)).subject == "user-123"
    assert reason_of(validator, issuer.mint(exp=clock.now)) == "expired"
    assert reason_of(validator, issuer.mint(exp=clock.now - 5)) == "expired"


def test_fractional_exp(issuer: LocalIssuer, fixed: TokenValidator, clock: Clock) -> None:
    assert fixed.validate(issuer.mint(exp=clock.now + 0.5)).expires_at == clock.now + 0.5
    assert reason_of(fixed, issuer.mint(exp=clock.now - 30.5)) == "expired"


def test_not_before_with_leeway(issuer: LocalIssuer, fixed: TokenValidator, clock: Clock) -> None:
    assert fixed.validate(issuer.mint(nbf=clock.now + 30)).not_before == clock.now + 30
    assert reason_of(fixed, issuer.mint(nbf=clock.now + 31)) == "not_yet_valid"
    assert reason_of(fixed, issuer.mint(nbf=clock.now + 3600)) == "not_yet_valid"


def test_issued_in_the_future(issuer: LocalIssuer, fixed: TokenValidator, clock: Clock) -> None:
    assert fixed.validate(issuer.mint(iat=clock.now + 30)).subject == "user-123"
    assert reason_of(fixed, issuer.mint(iat=clock.now + 31)) == "iat_in_future"
    assert reason_of(fixed, issuer.mint(iat=clock.now + 3600)) == "iat_in_future"


def test_leeway_is_configurable(issuer: LocalIssuer) -> None:
    clock = Clock(float(int(time.time())))
    validator = TokenValidator(
        Settings(issuer=issuer.issuer, audience=AUDIENCE, leeway=120), clock=clock
    )
    assert validator.validate(issuer.mint(exp=clock.now - 100)).subject == "user-123"
    assert validator.validate(issuer.mint(nbf=clock.now + 100)).subject == "user-123"
    assert validator.validate(issuer.mint(iat=clock.now + 100)).subject == "user-123"
    assert reason_of(validator, issuer.mint(exp=clock.now - 121)) == "expired"


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("value", ["1900000000", True, False, None, [1900000000], {"t": 1}])
def test_dates_must_be_json_numbers(
    issuer: LocalIssuer, validator: TokenValidator, claim: str, value: Any
) -> None:
    token = craft(issuer, payload=claims_for(issuer, **{claim: value}))
    assert reason_of(validator, token) == f"bad_{claim}"


def test_issuer_must_match_exactly(issuer: LocalIssuer, validator: TokenValidator) -> None:
    for iss in (issuer.issuer + "/", issuer.issuer.upper(), "https://evil.example.com", ""):
        assert reason_of(validator, issuer.mint(iss=iss)) == "iss_mismatch"
    for iss in (None, 7, [issuer.issuer]):
        token = craft(issuer, payload=claims_for(issuer, iss=iss))
        assert reason_of(validator, token) == "iss_mismatch"


def test_issuer_with_trailing_slash_must_match_exactly(
    signing_keys: list[SigningKey], clock: Clock
) -> None:
    with LocalIssuer(keys=signing_keys) as issuer:
        validator = TokenValidator(
            Settings(issuer=issuer.issuer + "/", audience=AUDIENCE, jwks_uri=issuer.jwks_uri),
            clock=clock,
        )
        assert reason_of(validator, issuer.mint()) == "iss_mismatch"
        assert validator.validate(issuer.mint(iss=issuer.issuer + "/")).subject == "user-123"


@pytest.mark.parametrize(
    "aud",
    [
        AUDIENCE,
        [AUDIENCE],
        ["https://other.example.com", AUDIENCE],
        [AUDIENCE, "https://issuer.example.com/userinfo"],
    ],
)
def test_audience_containing_this_api_is_accepted(
    issuer: LocalIssuer, validator: TokenValidator, aud: Any
) -> None:
    expected = (aud,) if isinstance(aud, str) else tuple(aud)
    assert validator.validate(issuer.mint(aud=aud)).audience == expected


@pytest.mark.parametrize(
    ("aud", "reason"),
    [
        ("https://other.example.com", "aud_mismatch"),
        (AUDIENCE + "/", "aud_mismatch"),
        (AUDIENCE.upper(), "aud_mismatch"),
        (["https://other.example.com"], "aud_mismatch"),
        ("", "aud_mismatch"),
        (..., "aud_missing"),
        (None, "aud_missing"),
        ([], "aud_invalid"),
        ([AUDIENCE, 7], "aud_invalid"),
        ([[AUDIENCE]], "aud_invalid"),
        (7, "aud_invalid"),
        (True, "aud_invalid"),
        ({"aud": AUDIENCE}, "aud_invalid"),
    ],
)
def test_audience_not_naming_this_api_is_refused(
    issuer: LocalIssuer, validator: TokenValidator, aud: Any, reason: str
) -> None:
    claims = claims_for(issuer, aud=aud)
    if aud is ...:
        del claims["aud"]
    assert reason_of(validator, craft(issuer, payload=claims)) == reason


def test_any_of_several_audiences(issuer: LocalIssuer, make_validator: MakeValidator) -> None:
    validator = make_validator(audience=[AUDIENCE, "api://orders"])
    assert validator.validate(issuer.mint(aud="api://orders")).audience == ("api://orders",)
    assert validator.validate(issuer.mint(aud=AUDIENCE)).audience == (AUDIENCE,)
    assert reason_of(validator, issuer.mint(aud="api://billing")) == "aud_mismatch"


def test_id_token_is_refused(issuer: LocalIssuer, validator: TokenValidator) -> None:
    assert reason_of(validator, issuer.mint(typ="JWT", nonce="n-0S6")) == "id_token"
    assert reason_of(validator, issuer.mint(typ=None, at_hash="77QmUPtjPfzWtF2AnpK9RQ")) == (
        "id_token"
    )
    assert reason_of(validator, issuer.mint(typ="JWT", token_use="id")) == "id_token"
    assert validator.validate(issuer.mint(typ="JWT", token_use="access")).subject == "user-123"
