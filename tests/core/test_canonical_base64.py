"""One token, one spelling: base64url segments whose unused bits are not zero are refused.

RFC 4648 §3.5 lets a decoder accept them; RFC 7515 §2 asks for the canonical form, and a
token with several spellings would have a cache entry and a fingerprint for each.
"""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audmw import InvalidToken, TokenValidator, jws
from audmw.jws import b64decode
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE, MakeValidator

# Every test here once per base64 decoder: both refuse exactly the same tokens.
pytestmark = pytest.mark.usefixtures("each_base64_decoder")

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def other_spellings(segment: str) -> list[str]:
    """The segment with its last character's unused bits set in every other way."""
    unused = {2: 0b1111, 3: 0b11}.get(len(segment) % 4, 0)
    value = _ALPHABET.index(segment[-1])
    return [
        segment[:-1] + _ALPHABET[value | bits]
        for bits in range(1, unused + 1)
        if bits & unused == bits and value & unused == 0
    ]


@pytest.mark.parametrize("alg", ["RS256", "PS512", "ES256", "EdDSA"])
def test_a_signature_with_unused_bits_set_is_refused(
    issuer: LocalIssuer, make_validator: MakeValidator, alg: str
) -> None:
    validator = make_validator(algorithms=["RS256", "PS512", "ES256", "EdDSA"])
    token = issuer.mint(aud=AUDIENCE, alg=alg)
    header, payload, signature = token.split(".")
    assert validator.validate(token).subject == "user-123"
    spellings = other_spellings(signature)
    assert spellings, f"{alg} signatures have unused bits"
    assert b64decode(signature.encode()) == _lenient(spellings[0])  # the same signature bytes
    for spelling in spellings:
        with pytest.raises(InvalidToken) as refused:
            validator.validate(f"{header}.{payload}.{spelling}")
        assert refused.value.reason == "malformed_jwt"


@pytest.mark.parametrize("filler", ["", "x", "xx"])
def test_a_header_or_payload_with_unused_bits_set_is_refused(
    issuer: LocalIssuer, validator: TokenValidator, filler: str
) -> None:
    # The fillers move both segments' lengths through the remainders modulo 4.
    token = issuer.mint(aud=AUDIENCE, filler=filler, headers={"pad": filler})
    header, payload, signature = token.split(".")
    tried = 0
    for index, segment in enumerate((header, payload)):
        for spelling in other_spellings(segment):
            parts = [header, payload, signature]
            parts[index] = spelling
            with pytest.raises(InvalidToken) as refused:
                validator.validate(".".join(parts))
            assert refused.value.reason == "malformed_jwt"
            tried += 1
    if len(header) % 4 or len(payload) % 4:
        assert tried


def test_every_canonical_spelling_still_decodes() -> None:
    import base64

    for size in range(64):
        data = bytes(range(size))
        assert b64decode(base64.urlsafe_b64encode(data).rstrip(b"=")) == data


@pytest.mark.anyio
async def test_the_async_path_refuses_the_same(
    issuer: LocalIssuer, validator: TokenValidator
) -> None:
    token = issuer.mint(aud=AUDIENCE)
    header, payload, signature = token.split(".")
    with pytest.raises(InvalidToken):
        await validator.validate_async(f"{header}.{payload}.{other_spellings(signature)[0]}")


def _lenient(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_the_tests_run_both_decoders() -> None:
    # requirements-dev.lock installs the speedups extra: the C decoder is tested beside binascii.
    assert jws.BASE64_DECODERS == ("binascii", "pybase64")


_URL_SAFE = st.sampled_from(
    list(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
)
_FOREIGN = st.sampled_from(list(b"+/= \t\r\n\x00.\x80\xff"))


@settings(max_examples=500, deadline=None)
@given(segment=st.lists(_URL_SAFE | _FOREIGN, max_size=48).map(bytes) | st.binary(max_size=48))
def test_the_decoders_refuse_and_decode_alike(segment: bytes) -> None:
    results = []
    for name in jws.BASE64_DECODERS:
        previous = jws.use_base64(name)
        try:
            results.append(jws.b64decode(segment))
        except ValueError:
            results.append(None)
        finally:
            jws.use_base64(previous)
    assert results.count(results[0]) == len(results)
    if results[0] is not None:
        assert base64.urlsafe_b64encode(results[0]).rstrip(b"=") == segment
