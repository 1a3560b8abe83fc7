"""Properties of bearer extraction, token parsing and the claim checks, over inputs
hypothesis makes up: nothing but the library's own refusals is ever raised, and nothing
that is not exactly a valid token is ever accepted.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audmw import AuthError, Guard, InvalidToken, Settings, TokenValidator
from audmw.bearer import extract_bearer, header_credentials
from audmw.cli import main
from audmw.cli.console import Console
from audmw.jws import CompactJWS, parse
from audmw.request import IncomingRequest, token_in_form, token_in_query
from audmw.testing import LocalIssuer, SigningKey, sign_compact

from .conftest import AUDIENCE

# Every test here once per base64 decoder: both refuse exactly the same tokens.
pytestmark = pytest.mark.usefixtures("each_base64_decoder")

SECRET = b"s" * 64
PROPERTIES = settings(
    max_examples=300,
    deadline=None,  # no timing in unit tests
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def module_issuer(hardening_keys: list[SigningKey]) -> Iterator[LocalIssuer]:
    with LocalIssuer(keys=hardening_keys, audience=AUDIENCE) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def validator(module_issuer: LocalIssuer) -> TokenValidator:
    checks = TokenValidator(
        Settings(
            issuer=module_issuer.issuer,
            audience=AUDIENCE,
            algorithms=["RS256", "PS256", "ES256", "ES384", "EdDSA", "HS256"],
            hmac_secret=SECRET,
            client_ids=["web-client"],
            token_cache_size=0,  # every example is checked in full
        )
    )
    checks.validate(module_issuer.mint())  # keys fetched once, before the examples run
    return checks


@pytest.fixture(scope="module")
def guard(validator: TokenValidator) -> Guard:
    return Guard(validator=validator)


# -- bearer extraction -------------------------------------------------------------------------

header_text = st.text(st.characters(codec="latin-1"), max_size=80)
header_values = st.lists(
    st.one_of(header_text, st.builds(lambda t: "Bearer " + t, header_text)), max_size=3
)


@PROPERTIES
@given(values=header_values, query=st.booleans(), body=st.booleans())
def test_bearer_extraction_refuses_or_returns_one_clean_token(
    values: list[str], query: bool, body: bool
) -> None:
    try:
        token = extract_bearer(values, token_in_query=query, token_in_body=body)
    except AuthError:
        return
    assert len(values) == 1
    assert not query
    assert not body
    assert token
    assert token.isascii()
    assert token.isprintable()
    assert " " not in token
    assert values[0].strip(" \t").partition(" ")[0].lower() == "bearer"
    assert values[0].strip(" \t").endswith(token)


@PROPERTIES
@given(values=header_values)
def test_raw_token_headers_refuse_or_return_a_value(values: list[str]) -> None:
    try:
        header_credentials(values, "x-token")
    except AuthError:
        return
    assert len(values) == 1


@PROPERTIES
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_token_parameters_in_query_or_form_never_raise(data: bytes) -> None:
    found = token_in_query(data) or token_in_form(data)
    assert found in (True, False)


@PROPERTIES
@given(values=st.lists(st.binary(max_size=120), max_size=3))
def test_the_guard_refuses_arbitrary_header_bytes(guard: Guard, values: list[bytes]) -> None:
    request = IncomingRequest("GET", "/", tuple(values))
    with pytest.raises(AuthError):
        guard.authorize(request)


# -- token parsing -----------------------------------------------------------------------------

segments = st.text(alphabet=BASE64URL + ".=+/ \x00\xff", max_size=60)


@PROPERTIES
@given(token=st.binary(max_size=300) | segments.map(str.encode))
def test_parse_refuses_or_returns_objects(token: bytes) -> None:
    try:
        parsed = parse(token)
    except InvalidToken:
        return
    assert isinstance(parsed, CompactJWS)
    assert isinstance(parsed.header, dict)
    assert isinstance(parsed.payload, dict)


@PROPERTIES
@given(token=st.binary(max_size=300) | st.text(max_size=300))
def test_validate_refuses_arbitrary_input(validator: TokenValidator, token: str | bytes) -> None:
    with pytest.raises(AuthError):
        validator.validate(token)


@pytest.fixture(scope="module")
def valid_tokens(module_issuer: LocalIssuer) -> list[str]:
    return [
        module_issuer.mint(alg=alg, expires_in=3600, scope="read")
        for alg in ("RS256", "PS256", "ES256", "ES384", "EdDSA")
    ] + [module_issuer.mint(alg="HS256", key=SECRET, expires_in=3600)]


@PROPERTIES
@given(which=st.integers(0, 5), data=st.data(), replacement=st.sampled_from(BASE64URL))
def test_a_valid_token_with_any_one_character_changed_is_refused(
    validator: TokenValidator,
    valid_tokens: list[str],
    which: int,
    data: st.DataObject,
    replacement: str,
) -> None:
    token = valid_tokens[which]
    # Any position, the last one of each segment as often as the rest: their unused bits
    # are where a lenient decoder gives one token several spellings.
    ends = [index - 1 for index, char in enumerate(token) if char == "."] + [len(token) - 1]
    index = data.draw(st.sampled_from(ends) | st.integers(0, len(token) - 1))
    assume(token[index] != replacement and token[index] != ".")
    assert validator.validate(token).subject == "user-123"
    changed = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(AuthError):
        validator.validate(changed)


# -- claims --------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
claim_names = st.sampled_from(
    ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "azp", "scope", "scp",
     "roles", "nonce", "typ", "token_use", "tid", "cnf", "acr"]
)  # fmt: skip


@PROPERTIES
@given(
    changes=st.dictionaries(claim_names, json_values, max_size=4),
    header_typ=st.sampled_from([None, "JWT", "at+jwt"]) | json_values,
)
def test_claims_of_any_shape_are_refused_with_a_reason_or_accepted_only_when_right(
    validator: TokenValidator,
    module_issuer: LocalIssuer,
    changes: dict[str, Any],
    header_typ: Any,
) -> None:
    now = time.time()
    claims: dict[str, Any] = {
        "iss": module_issuer.issuer,
        "sub": "user-1",
        "aud": AUDIENCE,
        "exp": int(now) + 300,
    }
    claims.update(changes)
    header: dict[str, Any] = {"alg": "HS256"}
    if header_typ is not None:
        header["typ"] = header_typ
    try:
        token = validator.validate(sign_compact(header, claims, SECRET))
    except InvalidToken as refused:
        reason = refused.reason
        assert reason, "a refusal without a reason"
        return
    # Accepted: then every check holds for what was signed.
    assert claims["iss"] == module_issuer.issuer
    aud = claims["aud"]
    assert aud == AUDIENCE or (isinstance(aud, list) and AUDIENCE in aud)
    assert type(claims["exp"]) in (int, float)
    assert claims["exp"] + 30 > now
    assert isinstance(header.get("typ", "JWT"), str)
    assert json.dumps(dict(token.claims), sort_keys=True) == json.dumps(claims, sort_keys=True)


@PROPERTIES
@given(
    changes=st.dictionaries(claim_names, json_values, max_size=4),
    header=st.dictionaries(
        st.sampled_from(["alg", "typ", "kid", "crit", "cty", "nonce", "jku", "x5c"]),
        json_values,
        max_size=3,
    ),
    iss=st.sampled_from(
        [
            None,  # the local issuer
            "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/",
            "https://dev-1.okta.com/oauth2/default",
            "https://dev-1.okta.com",
            "https://kc.example/realms/shop",
            "https://tenant.us.auth0.com/",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool",
            "https://accounts.google.com",
            "https://cloud.google.com/iap",
        ]
    ),
)
def test_the_cli_inspection_and_check_of_any_claims_never_raise(
    module_issuer: LocalIssuer, changes: dict[str, Any], header: dict[str, Any], iss: str | None
) -> None:
    claims: dict[str, Any] = {"iss": iss or module_issuer.issuer, "aud": AUDIENCE}
    claims["exp"] = 2_000_000_000
    claims.update(changes)
    token = f"{_segment(header)}.{_segment(claims)}.c2ln"  # inspected, never verified
    check = ["check", "--issuer", module_issuer.issuer, "--audience", AUDIENCE]
    for argv in (["inspect"], ["inspect", "--json"], check, [*check, "--json"]):
        out = io.StringIO()
        code = main(argv, console=Console(stdin=io.StringIO(token), stdout=out, stderr=out))
        assert code in (0, 1), out.getvalue()[-2000:]  # never a traceback
        assert out.getvalue().replace("\n", "").isprintable()


def _segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
