"""Introspection per issuer: an opaque token goes to the one issuer it belongs to, and no
other; the API's credentials (secret or key) come from the settings of each issuer.

Two local issuers, A and B, each with its own introspection endpoint and its own client
registration for the API. Requests at each endpoint are counted: a token of A must never
reach B (it would give B a token it could replay at the API).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from audmw import Guard, Settings
from audmw.errors import AuthError, ConfigurationError
from audmw.introspection import IntrospectionVerifier
from audmw.testing import LocalIssuer, generate_key
from audmw.verifier import pending_token

ID_AT_A, SECRET_AT_A = "api-at-a", "secret-of-the-api-at-a"
ID_AT_B, SECRET_AT_B = "api-at-b", "secret-of-the-api-at-b"
KEY_CLIENT = "api-with-a-key"


@pytest.fixture(scope="module")
def issuers() -> Iterator[tuple[LocalIssuer, LocalIssuer]]:
    with LocalIssuer(path="/a") as a, LocalIssuer(path="/b") as b:
        a.register_client(ID_AT_A, secret=SECRET_AT_A)
        b.register_client(ID_AT_B, secret=SECRET_AT_B)
        a.token_endpoint.opaque_prefix = "a_"
        b.token_endpoint.opaque_prefix = "b_"
        yield a, b


def requests_at(issuer: LocalIssuer) -> int:
    return issuer.token_endpoint.introspection_requests


def two_issuer_settings(a: LocalIssuer, b: LocalIssuer, **options: Any) -> Settings:
    values: dict[str, Any] = {
        "issuer": [a.issuer, b.issuer],
        "audience": a.audience,
        "introspection": "opaque",
        "introspection_issuers": {
            a.issuer: {"token_prefix": "a_", "client_id": ID_AT_A, "client_secret": SECRET_AT_A},
            b.issuer: {
                "token_prefix": "b_",
                "client_id": ID_AT_B,
                "client_secret": SECRET_AT_B,
                "client_auth": "client_secret_post",
            },
        },
        **options,
    }
    return Settings(**values)


def check(verifier: IntrospectionVerifier, token: str) -> Any:
    return verifier.verify(pending_token(token, 16384))


def refusal(verifier: IntrospectionVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        check(verifier, token)
    return caught.value


# -- where a token goes -------------------------------------------------------------------------


def test_each_opaque_token_goes_to_its_own_issuer_only(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    verifier = IntrospectionVerifier(two_issuer_settings(a, b))
    before_a, before_b = requests_at(a), requests_at(b)
    from_a = check(verifier, a.mint_opaque(sub="alice"))
    assert (requests_at(a), requests_at(b)) == (before_a + 1, before_b)
    from_b = check(verifier, b.mint_opaque(sub="bob"))
    assert (requests_at(a), requests_at(b)) == (before_a + 1, before_b + 1)
    assert (from_a.issuer, from_a.subject) == (a.issuer, "alice")
    assert (from_b.issuer, from_b.subject) == (b.issuer, "bob")
    # Each issuer saw the API's own registration there, authenticated its own way.
    assert a.token_endpoint.introspection_clients[-1] == (ID_AT_A, "client_secret_basic")
    assert b.token_endpoint.introspection_clients[-1] == (ID_AT_B, "client_secret_post")
    assert verifier.endpoints[a.issuer].endpoint == a.introspection_url  # discovered
    assert verifier.endpoints[b.issuer].endpoint == b.introspection_url


def test_an_opaque_token_of_no_known_prefix_is_sent_nowhere(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    verifier = IntrospectionVerifier(two_issuer_settings(a, b))
    before = requests_at(a), requests_at(b)
    for token in ("c_" + "x" * 40, "A_" + "x" * 40, "x" * 43):
        error = refusal(verifier, token)
        assert (error.status, error.reason) == (401, "opaque_issuer_unknown")
    assert (requests_at(a), requests_at(b)) == before


def test_a_token_of_a_never_reaches_b_even_when_a_refuses_it(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    verifier = IntrospectionVerifier(two_issuer_settings(a, b))
    revoked = a.mint_opaque()
    a.revoke(revoked)
    before_b = requests_at(b)
    assert refusal(verifier, revoked).reason == "token_inactive"
    assert refusal(verifier, a.mint_opaque(aud="https://other.example")).reason == "aud_mismatch"
    assert requests_at(b) == before_b


def test_the_answer_must_name_the_issuer_asked(issuers: tuple[LocalIssuer, LocalIssuer]) -> None:
    # A's endpoint vouching for a token as B's: the issuer asked is the one that counts.
    a, b = issuers
    verifier = IntrospectionVerifier(two_issuer_settings(a, b))
    error = refusal(verifier, a.mint_opaque(iss=b.issuer))
    assert (error.status, error.reason) == (401, "iss_mismatch")


def test_under_all_a_jwt_goes_to_the_issuer_its_iss_names(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    verifier = IntrospectionVerifier(two_issuer_settings(a, b, introspection="all"))
    before_a, before_b = requests_at(a), requests_at(b)
    assert check(verifier, b.mint(sub="bob")).subject == "bob"
    assert (requests_at(a), requests_at(b)) == (before_a, before_b + 1)
    revoked = a.mint()
    a.revoke(revoked)
    assert refusal(verifier, revoked).reason == "token_inactive"
    assert (requests_at(a), requests_at(b)) == (before_a + 1, before_b + 1)
    # An issuer nobody configured: refused by the JWT validator, sent nowhere.
    with LocalIssuer(path="/stranger") as stranger:
        error = refusal(verifier, stranger.mint())
    assert error.reason == "iss_mismatch"
    assert (requests_at(a), requests_at(b)) == (before_a + 1, before_b + 1)


def test_with_one_introspecting_issuer_the_other_issuers_jwts_stay_local(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    settings = Settings(
        issuer=[a.issuer, b.issuer],
        audience=a.audience,
        introspection="all",
        introspection_issuers=a.issuer,  # the environment's comma-list form
        introspection_client_id=ID_AT_A,
        introspection_client_secret=SECRET_AT_A,
    )
    verifier = IntrospectionVerifier(settings)
    before_a, before_b = requests_at(a), requests_at(b)
    assert check(verifier, b.mint(sub="bob")).subject == "bob"  # verified locally
    assert check(verifier, a.mint_opaque(sub="alice")).subject == "alice"
    assert check(verifier, a.mint(sub="carol")).subject == "carol"
    assert (requests_at(a), requests_at(b)) == (before_a + 2, before_b)
    # The one introspecting issuer takes every opaque token, B's too: B's tokens are
    # opaque only if the settings say B introspects.
    assert refusal(verifier, b.mint_opaque()).reason == "token_inactive"
    assert requests_at(b) == before_b


def test_a_token_prefix_with_one_issuer_keeps_other_tokens_home(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, _ = issuers
    settings = Settings(
        issuer=a.issuer,
        audience=a.audience,
        introspection="opaque",
        introspection_issuers={a.issuer: {"token_prefix": "a_"}},
        introspection_client_id=ID_AT_A,
        introspection_client_secret=SECRET_AT_A,
    )
    verifier = IntrospectionVerifier(settings)
    before = requests_at(a)
    assert check(verifier, a.mint_opaque(sub="alice")).subject == "alice"
    assert refusal(verifier, "someone-elses-" + "x" * 30).reason == "opaque_issuer_unknown"
    assert requests_at(a) == before + 1


def test_the_async_path_routes_the_same_way(issuers: tuple[LocalIssuer, LocalIssuer]) -> None:
    a, b = issuers
    verifier = IntrospectionVerifier(two_issuer_settings(a, b))
    before_a, before_b = requests_at(a), requests_at(b)

    async def both() -> tuple[Any, Any]:
        return (
            await verifier.verify_async(pending_token(a.mint_opaque(sub="alice"), 16384)),
            await verifier.verify_async(pending_token(b.mint_opaque(sub="bob"), 16384)),
        )

    alice, bob = asyncio.run(both())
    assert (alice.issuer, bob.issuer) == (a.issuer, b.issuer)
    assert (requests_at(a), requests_at(b)) == (before_a + 1, before_b + 1)
    with pytest.raises(AuthError) as caught:
        asyncio.run(verifier.verify_async(pending_token("c_" + "x" * 40, 16384)))
    assert caught.value.reason == "opaque_issuer_unknown"


# -- ambiguity stops the app at start-up --------------------------------------------------------


def _options(a: LocalIssuer, b: LocalIssuer, **options: Any) -> dict[str, Any]:
    return {
        "issuer": [a.issuer, b.issuer],
        "audience": a.audience,
        "introspection": "opaque",
        "introspection_client_id": ID_AT_A,
        "introspection_client_secret": SECRET_AT_A,
        **options,
    }


@pytest.mark.parametrize(
    ("issuers_value", "message"),
    [
        (None, "several issuers"),
        ("{a}, {b}", "each needs a token_prefix"),
        ({"{a}": {"token_prefix": "a_"}, "{b}": {}}, "each needs a token_prefix"),
        ({"{a}": {"token_prefix": "tok"}, "{b}": {"token_prefix": "tok_b"}}, "also starts"),
        ({"{a}": {"token_prefix": "same"}, "{b}": {"token_prefix": "same"}}, "also starts"),
        ({"https://elsewhere.example/": {}}, "not one of the issuers"),
        ({"{a}": {"token_prefx": "a_"}}, "did you mean 'token_prefix'"),
        ({"{a}": {"token_prefix": "a b"}}, "without spaces"),
    ],
)
def test_an_ambiguous_configuration_is_refused_at_start_up(
    issuers: tuple[LocalIssuer, LocalIssuer], issuers_value: Any, message: str
) -> None:
    a, b = issuers
    text = json.dumps(issuers_value).replace("{a}", a.issuer).replace("{b}", b.issuer)
    options = _options(a, b)
    if issuers_value is not None:
        options["introspection_issuers"] = json.loads(text)
    with pytest.raises(ConfigurationError, match=message):
        Settings(**options)
    with pytest.raises(ConfigurationError, match=message):
        Guard(**options)  # the app's start-up


def test_one_endpoint_for_several_issuers_is_refused(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    options = _options(
        a,
        b,
        introspection_endpoint=a.introspection_url,
        introspection_issuers={a.issuer: {"token_prefix": "a_"}, b.issuer: {"token_prefix": "b_"}},
    )
    with pytest.raises(ConfigurationError, match="introspection_endpoint"):
        Settings(**options)


def test_the_environment_takes_json_and_hides_the_secrets(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    per_issuer = {
        a.issuer: {"token_prefix": "a_", "client_id": ID_AT_A, "client_secret": SECRET_AT_A},
        b.issuer: {"token_prefix": "b_", "client_id": ID_AT_B, "client_secret": SECRET_AT_B},
    }
    settings = Settings.from_env(
        {
            "AUDMW_ISSUER": f"{a.issuer},{b.issuer}",
            "AUDMW_AUDIENCE": a.audience,
            "AUDMW_INTROSPECTION": "opaque",
            "AUDMW_INTROSPECTION_ISSUERS": json.dumps(per_issuer),
        }
    )
    targets = {target.issuer: target for target in settings.introspection_targets}
    assert targets[b.issuer].client_id == ID_AT_B
    assert targets[b.issuer].client_auth == "client_secret_basic"  # the default
    verifier = IntrospectionVerifier(settings)
    for shown in (repr(settings), repr(settings.introspection_targets), repr(verifier.endpoints)):
        assert SECRET_AT_A not in shown
        assert SECRET_AT_B not in shown
    assert check(verifier, b.mint_opaque(sub="bob")).subject == "bob"


def test_introspection_issuers_need_introspection_on(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, _ = issuers
    with pytest.raises(ConfigurationError, match="introspection is off"):
        Settings(issuer=a.issuer, audience=a.audience, introspection_issuers=a.issuer)


# -- client authentication from the settings ----------------------------------------------------


def _pem(key: Any) -> bytes:
    pem: bytes = key.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem


def _one_issuer(a: LocalIssuer, **options: Any) -> Settings:
    values: dict[str, Any] = {
        "issuer": a.issuer,
        "audience": a.audience,
        "introspection": "opaque",
        "introspection_client_id": ID_AT_A,
        "introspection_client_secret": SECRET_AT_A,
        **options,
    }
    return Settings(**values)


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_secret_is_sent_the_way_the_settings_say(
    issuers: tuple[LocalIssuer, LocalIssuer], method: str
) -> None:
    a, _ = issuers
    verifier = IntrospectionVerifier(_one_issuer(a, introspection_client_auth=method))
    assert check(verifier, a.mint_opaque(sub="alice")).subject == "alice"
    assert a.token_endpoint.introspection_clients[-1] == (ID_AT_A, method)
    wrong = IntrospectionVerifier(
        _one_issuer(a, introspection_client_auth=method, introspection_client_secret="wrong")
    )
    assert refusal(wrong, a.mint_opaque()).reason == "introspection_client_refused"


@pytest.mark.parametrize("given_as", ["text", "file"])
def test_private_key_jwt_from_the_settings(
    issuers: tuple[LocalIssuer, LocalIssuer], tmp_path: Path, given_as: str
) -> None:
    a, _ = issuers
    key = generate_key("ec-p256")
    a.register_client(KEY_CLIENT, keys=[key])
    pem = _pem(key)
    value: Any = pem.decode()
    if given_as == "file":
        path = tmp_path / "introspection-key.pem"
        path.write_bytes(pem)
        value = str(path)
    settings = _one_issuer(
        a,
        introspection_client_id=KEY_CLIENT,
        introspection_client_secret=None,
        introspection_client_auth="private_key_jwt",
        introspection_client_key=value,
        introspection_client_key_id=key.kid,
    )
    verifier = IntrospectionVerifier(settings)
    assert check(verifier, a.mint_opaque(sub="alice")).subject == "alice"
    assert check(verifier, a.mint_opaque(sub="bob")).subject == "bob"  # a new assertion
    assert a.token_endpoint.introspection_clients[-1] == (KEY_CLIENT, "private_key_jwt")
    body = pem.decode().splitlines()[1]
    shown_values = (
        settings,
        settings.introspection_targets,
        verifier.client_auth,
        verifier.endpoints,
    )
    for shown in map(repr, shown_values):
        assert body not in shown
        assert "PRIVATE KEY" not in shown

    other = _pem(generate_key("ec-p256"))
    wrong = IntrospectionVerifier(
        _one_issuer(
            a,
            introspection_client_id=KEY_CLIENT,
            introspection_client_auth="private_key_jwt",
            introspection_client_key=other,
        )
    )
    assert refusal(wrong, a.mint_opaque()).reason == "introspection_client_refused"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"introspection_client_secret": None}, "introspection_client_secret is not set"),
        (
            {"introspection_client_auth": "private_key_jwt"},
            "private_key_jwt needs introspection_client_key",
        ),
        ({"introspection_client_auth": "tls_client_auth"}, "must be client_secret_basic"),
        ({"introspection_client_key": "/no/such/key.pem"}, "neither PEM text nor a readable"),
        ({"introspection_client_key": "-----BEGIN PRIVATE KEY-----\nnope"}, "not an unencrypted"),
    ],
)
def test_missing_or_bad_credentials_stop_the_app(
    issuers: tuple[LocalIssuer, LocalIssuer], options: dict[str, Any], message: str
) -> None:
    a, _ = issuers
    values: dict[str, Any] = {
        "issuer": a.issuer,
        "audience": a.audience,
        "introspection": "opaque",
        "introspection_client_id": ID_AT_A,
        "introspection_client_secret": SECRET_AT_A,
        **options,
    }
    with pytest.raises(ConfigurationError, match=message):
        Guard(**values)


def test_the_rsa_key_algorithm_is_the_settings_one(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, _ = issuers
    key = generate_key("rsa")
    a.register_client("api-with-an-rsa-key", keys=[key])
    settings = _one_issuer(
        a,
        introspection_client_id="api-with-an-rsa-key",
        introspection_client_auth="private_key_jwt",
        introspection_client_key=_pem(key),
        introspection_client_key_alg="PS256",
    )
    verifier = IntrospectionVerifier(settings)
    assert check(verifier, a.mint_opaque(sub="alice")).subject == "alice"
    assert "PS256" in repr(verifier.client_auth)
    with pytest.raises(ConfigurationError, match="does not fit introspection_client_key"):
        _one_issuer(a, introspection_client_key=_pem(key), introspection_client_key_alg="ES256")


# -- username -----------------------------------------------------------------------------------


def test_username_comes_from_the_answer(issuers: tuple[LocalIssuer, LocalIssuer]) -> None:
    a, _ = issuers
    verifier = IntrospectionVerifier(_one_issuer(a))
    assert check(verifier, a.mint_opaque(username="alice")).username == "alice"
    assert check(verifier, a.mint_opaque()).username is None


def test_client_authentication_given_in_code_by_issuer(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    from audmw.client import ClientSecretBasic, ClientSecretPost

    a, b = issuers
    settings = two_issuer_settings(a, b)
    verifier = IntrospectionVerifier(
        settings, client_auth={b.issuer: ClientSecretBasic(ID_AT_B, SECRET_AT_B)}
    )
    assert check(verifier, b.mint_opaque(sub="bob")).subject == "bob"
    assert b.token_endpoint.introspection_clients[-1] == (ID_AT_B, "client_secret_basic")
    assert check(verifier, a.mint_opaque(sub="alice")).subject == "alice"  # from the settings
    with pytest.raises(ValueError, match="by issuer"):
        IntrospectionVerifier(settings, client_auth=ClientSecretPost(ID_AT_A, SECRET_AT_A))
    with pytest.raises(ValueError, match="do not introspect"):
        IntrospectionVerifier(
            settings, client_auth={"https://c.example/": ClientSecretPost("x", "y")}
        )


def test_a_signed_answer_is_verified_with_the_keys_of_the_issuer_asked(
    issuers: tuple[LocalIssuer, LocalIssuer],
) -> None:
    a, b = issuers
    endpoint = b.token_endpoint
    endpoint.signed_introspection = True
    try:
        verifier = IntrospectionVerifier(two_issuer_settings(a, b))
        assert check(verifier, b.mint_opaque(sub="bob")).subject == "bob"
        # B's answer signed with A's key: a good signature of another issuer is no answer.
        endpoint.introspection_signing_key = a.key_for("RS256")
        error = refusal(verifier, b.mint_opaque())
        assert (error.status, error.reason) == (503, "introspection_signature_invalid")
    finally:
        endpoint.signed_introspection = False
        endpoint.introspection_signing_key = None
