"""Every claim and header member the checks read, in every JSON shape: a 401 with a reason or
an accepted token, never another exception (which an adapter would turn into a 500).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jwt.algorithms import get_default_algorithms

from audmw import Guard, InvalidToken, Settings, TokenValidator
from audmw.errors import RequirementNotMet
from audmw.requirements import DetailRequirement, Requirement
from audmw.testing import LocalIssuer, sign_compact

from .conftest import AUDIENCE, Clock
from .crafting import b64, sent

SECRET = b"k" * 64
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"

SHAPES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    1e308,
    10**400,
    "",
    "x",
    "x\nINFO forged\x1b[31m",
    [],
    [{}],
    [[]],
    [None],
    [1, True],
    {},
    {"x": {"y": []}},
    [AUDIENCE, {"x": 1}],
    [AUDIENCE, [AUDIENCE]],
    [AUDIENCE, "web-client"],
    {"roles": {"x": 1}},
]

CLAIMS = [
    "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "azp", "cid", "appid",
    "scope", "scp", "roles", "permissions", "tid", "typ", "token_use", "nonce", "at_hash",
    "c_hash", "realm_access", "acr", "gty", "cnf",
]  # fmt: skip
HEADER_MEMBERS = ["alg", "kid", "typ", "crit", "cty", "jku", "jwk", "x5u", "x5c", "nonce", "b64"]

SETTINGS: dict[str, dict[str, Any]] = {
    "plain": {},
    "client_ids": {"client_ids": ["web-client", "other"]},
    "required": {"required_claims": {"token_use": "access", "realm_access.roles": "x"}},
    "any_claim": {"require_any_claim": ["roles", "scp"]},
    "dotted_scopes": {"scope_claims": ["scope", "scp", "realm_access.roles", "roles"]},
    "audience_claim": {"audience_claim": "client_id"},
    "tenants": {"issuer_templates": None},
}


def _validator(issuer: LocalIssuer, clock: Clock, variant: str) -> TokenValidator:
    options: dict[str, Any] = {
        "issuer": issuer.issuer,
        "audience": AUDIENCE,
        "algorithms": ["HS256", "RS256"],
        "hmac_secret": SECRET,
    }
    options.update(SETTINGS[variant])
    if variant == "tenants":
        del options["issuer_templates"]
        options["issuer"] = [issuer.issuer, "https://login.example.com/{tenantid}/v2.0"]
        options["jwks_uri"] = issuer.jwks_uri
    return TokenValidator(Settings(**options), clock=clock)


def _claims(issuer: LocalIssuer) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer.issuer,
        "sub": "user-1",
        "aud": AUDIENCE,
        "exp": now + 300,
        "iat": now,
        "client_id": "c",
        "token_use": "access",
        "realm_access": {"roles": "x"},
        "roles": ["r"],
        "tid": TENANT,
    }


def _outcome(validator: TokenValidator, token: str) -> str:
    try:
        validator.validate(token)
    except InvalidToken as refused:
        reason = refused.reason
        assert reason, "a refusal without a reason"
        return reason
    return "accepted"


@pytest.mark.parametrize("variant", sorted(SETTINGS))
@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt"])
def test_every_claim_in_every_shape_is_a_401_or_an_accept(
    issuer: LocalIssuer, clock: Clock, variant: str, typ: str | None
) -> None:
    validator = _validator(issuer, clock, variant)
    header: dict[str, Any] = {"alg": "HS256"} if typ is None else {"alg": "HS256", "typ": typ}
    seen = set()
    for name in CLAIMS:
        for shape in SHAPES:
            claims = _claims(issuer)
            claims[name] = shape
            seen.add(_outcome(validator, sign_compact(header, claims, SECRET)))
            if name != "iss":
                # The template issuer's path: iss fits, so tid and the rest are read too.
                claims["iss"] = f"https://login.example.com/{TENANT}/v2.0"
                _outcome(validator, sign_compact(header, claims, SECRET))
    assert "accepted" in seen  # the shapes a claim may take are still accepted


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt"])
def test_every_header_member_in_every_shape_is_a_401_or_an_accept(
    issuer: LocalIssuer, clock: Clock, typ: str | None
) -> None:
    validator = _validator(issuer, clock, "client_ids")
    key = issuer.key_for("RS256")
    for name in HEADER_MEMBERS:
        for shape in SHAPES:
            header: dict[str, Any] = (
                {"alg": "HS256"} if typ is None else {"alg": "HS256", "typ": typ}
            )
            header[name] = shape
            _outcome(validator, signed(header, _claims(issuer), "HS256", SECRET))
            # The same header on an asymmetric token reaches the key lookup.
            if name != "alg":
                header["alg"] = "RS256"
                _outcome(validator, signed(header, _claims(issuer), "RS256", key.private_key))


def signed(header: dict[str, Any], claims: dict[str, Any], alg: str, key: Any) -> str:
    """A token whose header says anything, signed with ``alg``."""
    algorithm = get_default_algorithms()[alg]
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = algorithm.sign(signing_input.encode(), algorithm.prepare_key(key))
    return f"{signing_input}.{b64(signature)}"


@pytest.mark.parametrize("aud_entry", [{"x": 1}, ["nested"], [["deeper"]]])
@pytest.mark.parametrize("typ", ["JWT", None])
def test_an_unhashable_audience_with_client_ids_is_refused_with_a_reason(
    issuer: LocalIssuer, clock: Clock, aud_entry: Any, typ: str | None
) -> None:
    validator = _validator(issuer, clock, "client_ids")
    guard = Guard(validator=validator)
    token = issuer.mint(aud=[AUDIENCE, aud_entry], typ=typ)
    with pytest.raises(InvalidToken) as refused:
        guard.authorize(sent([f"Bearer {token}"]))
    assert refused.value.reason == "aud_invalid"
    token = issuer.mint(aud=["web-client", aud_entry], typ=typ)
    with pytest.raises(InvalidToken) as refused:
        guard.authorize(sent([f"Bearer {token}"]))
    assert refused.value.reason == "id_token"


# -- the requirements beyond scopes read claims too ------------------------------------------------

REQUIREMENTS = [
    Requirement.of(["read"]),
    Requirement.of(acr_values=["mfa", "phr"]),
    Requirement.of(max_age=300),
    Requirement.of(acr_values=["mfa"], max_age=60),
    Requirement.of(details=[DetailRequirement("payment")]),
    Requirement.of(details=[DetailRequirement("payment", lambda entry: entry["amount"] < 10)]),
    Requirement.of(kind="user"),
    Requirement.of(kind="app"),
]
REQUIREMENT_CLAIMS = [
    "acr", "auth_time", "authorization_details", "idtyp", "gty", "sub", "client_id", "azp",
    "tid", "oid", "scp", "preferred_username", "scope",
]  # fmt: skip
DETAIL_SHAPES: list[Any] = [
    *SHAPES,
    [{"type": "payment"}],
    [{"type": "payment", "amount": "x"}],
    [{"type": "payment", "amount": {"x": 1}}],
    [{"type": ["payment"]}],
    [{"type": {"x": 1}}],
    [{"type": "payment\\nINFO forged"}],
]


def test_every_claim_a_requirement_reads_in_every_shape_is_an_answer(
    issuer: LocalIssuer, clock: Clock
) -> None:
    validator = _validator(issuer, clock, "plain")
    header = {"alg": "HS256", "typ": "at+jwt"}
    for name in REQUIREMENT_CLAIMS:
        for shape in DETAIL_SHAPES if name == "authorization_details" else SHAPES:
            claims = _claims(issuer)
            claims[name] = shape
            try:
                token = validator.validate(sign_compact(header, claims, SECRET))
            except InvalidToken:
                continue
            for requirement in REQUIREMENTS:
                try:
                    requirement.check(token, clock())
                except RequirementNotMet as refused:
                    reason = refused.reason
                    assert reason, "a refusal without a reason"
