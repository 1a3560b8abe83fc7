"""The adversarial corpus: every request an attacker tried, and the one answer each must get.

Each case builds one request from the session's ``Kit`` and names the answer: HTTP status,
RFC 6750 error code (None for the bare challenge) and the reason code the log must show. The
same case runs against the core (``Guard``, sync and async) and through each adapter under
its real server. A case the project decides to let through says why in ``accepted_because``;
``on_servers`` lists where an HTTP server answers on its own, before any app code runs.
``defect`` names the numbered defect of the hardening issue a case reproduces.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from adversarial.kit import (
    ALG_FAMILY,
    AUDIENCE,
    CLIENT_ID,
    DROP,
    Kit,
    b64,
    dumps,
    self_signed,
    sign,
)

PROTECTED = "/files/other/a"  # any valid token (no rule, no mark)
PRIVATE = "/files/private/a"  # a rule asks for files:private
PRIVATE_SCOPE = "files:private"
POST_TARGET = "/marks/{style}/none/view"  # an unmarked view answering POST; style per app


@dataclass(frozen=True)
class Outcome:
    status: int
    error: str | None = None  # the RFC 6750 code; None for 200 and the bare challenge
    reason: str | None = None  # the reason code in the log line; None for 200


ACCEPT = Outcome(200)
SERVER_REFUSES = "server-refuses"  # the HTTP server answers 4xx itself; no app code runs


def token_refused(reason: str) -> Outcome:
    return Outcome(401, "invalid_token", reason)


def request_refused(reason: str) -> Outcome:
    return Outcome(400, "invalid_request", reason)


def challenge(reason: str) -> Outcome:
    return Outcome(401, None, reason)


SCOPE_REFUSED = Outcome(403, "insufficient_scope", "insufficient_scope")


@dataclass(frozen=True)
class Sent:
    """One request: every ``Authorization`` value as sent (latin-1), target, body."""

    authorization: tuple[str, ...] = ()
    method: str = "GET"
    target: str = PROTECTED
    body: bytes = b""
    content_type: str | None = None
    secret: str | None = None  # the token: none of it may appear in any answer or log line

    def __repr__(self) -> str:  # the token stays out of test reports
        return f"Sent({self.method} {self.target}, {len(self.authorization)} header value(s))"


@dataclass(frozen=True)
class Case:
    id: str
    area: str
    build: Callable[[Kit], Sent] = field(repr=False)
    expect: Outcome
    accepted_because: str = ""
    defect: int | None = None
    # Per HTTP server ("uvicorn", "waitress"): another Outcome, or SERVER_REFUSES.
    on_servers: Mapping[str, Outcome | str] = field(default_factory=dict)

    def expected_on(self, http_server: str) -> Outcome | str:
        return self.on_servers.get(http_server, self.expect)


def bearer(make: Callable[[Kit], str], **sent: Any) -> Callable[[Kit], Sent]:
    """``Authorization: Bearer <token>`` with the token ``make`` builds."""

    def build(kit: Kit) -> Sent:
        token = make(kit)
        return Sent((f"Bearer {token}",), secret=token, **sent)

    return build


def shaped(
    template: str, make: Callable[[Kit], str] | None = None, **sent: Any
) -> Callable[[Kit], Sent]:
    """An ``Authorization`` value from ``template``, ``{t}`` standing for a valid token."""
    return values([template], make, **sent)


def values(
    templates: list[str], make: Callable[[Kit], str] | None = None, **sent: Any
) -> Callable[[Kit], Sent]:
    """Several ``Authorization`` headers, each from a template (``{t}``: a valid token)."""

    def build(kit: Kit) -> Sent:
        token = (make or valid)(kit)
        return Sent(tuple(t.replace("{t}", token) for t in templates), secret=token, **sent)

    return build


def valid(kit: Kit) -> str:
    return kit.token()


def scoped(scope: Any, **claims: Any) -> Callable[[Kit], Sent]:
    """A valid token with ``scope`` (DROP: none) sent to the route that needs files:private."""
    return bearer(lambda kit: kit.token(scope=scope, **claims), target=PRIVATE)


def _with(header: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``header`` with members changed (DROP: left out)."""
    changed = {**header, **changes}
    return {name: value for name, value in changed.items() if value is not DROP}


# -- the cases, by area ------------------------------------------------------------------------

CASES: list[Case] = []


def case(
    id: str,
    area: str,
    build: Callable[[Kit], Sent],
    expect: Outcome,
    *,
    accepted_because: str = "",
    defect: int | None = None,
    on_servers: Mapping[str, Outcome | str] | None = None,
) -> None:
    assert all(existing.id != id for existing in CASES), id
    assert (expect.status == 200) == bool(accepted_because), f"{id}: say why it is accepted"
    CASES.append(Case(id, area, build, expect, accepted_because, defect, on_servers or {}))


# -- the baseline: what every other case changes one thing of

case(
    "valid-rs256",
    "baseline",
    bearer(valid),
    ACCEPT,
    accepted_because="an access token of the issuer's current key, for this API",
)
for _alg in ("RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"):
    case(
        f"valid-{_alg.lower()}",
        "baseline",
        bearer(lambda kit, alg=_alg: kit.token(alg)),
        ACCEPT,
        accepted_because=f"{_alg} is allowed by default and the issuer publishes a key for it",
    )
case("no-token", "baseline", lambda kit: Sent(), challenge("no_token"))

# -- algorithm confusion: none in every spelling, HS* keyed with the public key

for _spelling in ("none", "None", "NONE", "nOnE", "none ", ""):
    case(
        f"alg-{_spelling.strip() or 'empty'}{'-space' if _spelling.endswith(' ') else ''}-unsigned",
        "algorithm",
        bearer(
            lambda kit, a=_spelling: (
                f"{b64(dumps({'alg': a, 'typ': 'at+jwt'}))}.{b64(dumps(kit.claims()))}."
            )
        ),
        token_refused("not_a_jwt"),  # an empty signature segment is no compact JWS at all
    )
    case(
        f"alg-{_spelling.strip() or 'empty'}{'-space' if _spelling.endswith(' ') else ''}-signed",
        "algorithm",
        bearer(
            lambda kit, a=_spelling: kit.compact(
                {"alg": a, "typ": "at+jwt", "kid": kit.key("RS256").kid}, kit.claims(), alg="RS256"
            )
        ),
        token_refused("alg_not_allowed"),
    )
for _name, _value in (
    ("missing", DROP),
    ("null", None),
    ("number", 256),
    ("list", ["RS256"]),
    ("object", {"name": "RS256"}),
    ("lower-case", "rs256"),
    ("trailing-space", "RS256 "),
    ("unknown", "RS1024"),
    ("es256k", "ES256K"),
):
    case(
        f"alg-{_name}",
        "algorithm",
        bearer(
            lambda kit, v=_value: kit.compact(_with(kit.header(), alg=v), kit.claims(), alg="RS256")
        ),
        token_refused("alg_not_allowed"),
    )
for _hs in ("HS256", "HS384", "HS512"):
    for _form, _secret in (
        ("pem", Kit.public_pem),
        ("der", Kit.public_der),
        ("jwk", Kit.public_jwk_text),
    ):
        case(
            f"{_hs.lower()}-keyed-with-rsa-public-{_form}",
            "algorithm",
            bearer(
                lambda kit, hs=_hs, secret=_secret: kit.compact(
                    {"alg": hs, "typ": "at+jwt", "kid": kit.key("RS256").kid},
                    kit.claims(),
                    key=secret(kit),
                )
            ),
            token_refused("alg_not_allowed"),
        )
for _alg, _other in (
    ("ES256", "RS256"),
    ("RS256", "ES256"),
    ("EdDSA", "RS256"),
    ("ES384", "ES256"),
):
    # Signed correctly with the issuer's key for _alg, but naming the kid of _other's key.
    case(
        f"{_alg.lower()}-under-the-kid-of-{_other.lower()}",
        "algorithm",
        bearer(
            lambda kit, a=_alg, o=_other: kit.compact(
                kit.header(a, kid=kit.key(o).kid), kit.claims(), alg=a
            )
        ),
        token_refused("key_alg_mismatch"),
    )
case(
    "ps256-by-the-rs256-key",
    "algorithm",
    bearer(lambda kit: kit.token("PS256")),
    ACCEPT,
    accepted_because="RSA keys published without an alg member verify RS* and PS* alike "
    "(RFC 7518 §3.3, §3.5); the issuer signed it",
)


def _der_ecdsa(kit: Kit) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    header, payload = kit.header("ES256"), kit.claims()
    signing_input = f"{b64(dumps(header))}.{b64(dumps(payload))}"
    signature = kit.key("ES256").private_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{signing_input}.{b64(signature)}"


case("es256-der-signature", "algorithm", bearer(_der_ecdsa), token_refused("bad_signature"))

# -- attacker keys under a real kid, and kid oddities


for _alg in ("RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"):
    case(
        f"attacker-{_alg.lower()}-under-real-kid",
        "attacker-key",
        bearer(
            lambda kit, a=_alg: kit.compact(
                kit.header(a), kit.claims(), alg=a, key=kit.attacker[ALG_FAMILY[a]]
            )
        ),
        token_refused("bad_signature"),
    )
    case(
        f"attacker-{_alg.lower()}-own-kid",
        "attacker-key",
        bearer(
            lambda kit, a=_alg: kit.compact(
                kit.header(a, kid=kit.attacker[ALG_FAMILY[a]].kid),
                kit.claims(),
                alg=a,
                key=kit.attacker[ALG_FAMILY[a]],
            )
        ),
        token_refused("unknown_kid"),
    )


case(
    "attacker-key-no-kid",
    "attacker-key",
    bearer(lambda kit: kit.compact(kit.header(kid=DROP), kit.claims(), key=kit.attacker["rsa"])),
    token_refused("bad_signature"),
)
case(
    "no-kid",
    "kid",
    bearer(lambda kit: kit.token(header={"kid": DROP})),
    ACCEPT,
    accepted_because="kid is optional (RFC 7515 §4.1.4): the issuer's keys for the alg are tried",
)
case(
    "kid-null",
    "kid",
    bearer(lambda kit: kit.token(header={"kid": None})),
    ACCEPT,
    accepted_because="a null kid is read as no kid: only the issuer's own keys are tried",
)
for _name, _kid in (
    ("number", 1),
    ("true", True),
    ("list", ["x"]),
    ("object", {"kid": "x"}),
    ("257-chars", "k" * 257),
    ("huge-number", 10**30),
):
    case(
        f"kid-{_name}",
        "kid",
        bearer(lambda kit, k=_kid: kit.token(header={"kid": k})),
        token_refused("bad_kid"),
    )
for _name, _kid in (
    ("empty", ""),
    ("256-chars", "k" * 256),
    ("path-traversal", "../../../../etc/passwd"),
    ("sql", "' OR '1'='1"),
    ("nul", "rsa\x00"),
    ("newline-log-injection", "x\nINFO audmw forged\x1b[31m"),
    ("url", "https://attacker.example/jwks.json"),
    ("unicode", "k\u00e9y-\u202e"),
):
    case(
        f"kid-{_name}",
        "kid",
        bearer(lambda kit, k=_kid: kit.token(header={"kid": k})),
        token_refused("unknown_kid"),
    )
case(
    "kid-real-with-space",
    "kid",
    bearer(lambda kit: kit.token(header={"kid": kit.key("RS256").kid + " "})),
    token_refused("unknown_kid"),
)
case(
    "kid-real-upper-case",
    "kid",
    bearer(lambda kit: kit.token(header={"kid": kit.key("RS256").kid.upper() + "X"})),
    token_refused("unknown_kid"),
)

# -- embedded keys and key URLs: never followed, never trusted (the counting server must
#    stay at zero requests)


def _embedded(member: str, *, kid: str | None = None) -> Callable[[Kit], str]:
    def make(kit: Kit) -> str:
        attacker = kit.attacker["rsa"]
        values: dict[str, Any] = {
            "jwk": attacker.public_jwk(),
            "jku": kit.counting_url + "/jwks.json",
            "x5u": kit.counting_url + "/cert.pem",
            "x5c": [self_signed(attacker)],
        }
        header = kit.header(**{member: values[member]})
        header["kid"] = kid if kid is not None else attacker.kid
        return kit.compact(header, kit.claims(), key=attacker)

    return make


for _member in ("jwk", "jku", "x5u", "x5c"):
    case(
        f"embedded-{_member}-attacker-kid",
        "embedded",
        bearer(_embedded(_member)),
        token_refused("unknown_kid"),
    )
    case(
        f"embedded-{_member}-real-kid",
        "embedded",
        bearer(lambda kit, m=_member: _embedded(m, kid=kit.key("RS256").kid)(kit)),
        token_refused("bad_signature"),
    )
case(
    "embedded-jku-on-issuer-token",
    "embedded",
    bearer(lambda kit: kit.token(header={"jku": kit.counting_url + "/jwks.json"})),
    ACCEPT,
    accepted_because="jku is never fetched; the token is verified with the issuer's own key, "
    "so the member is inert",
)

# -- crit, b64, JWE, nested JWTs

for _name, _crit in (
    ("exp", ["exp"]),
    ("empty", []),
    ("b64", ["b64"]),
    ("string", "b64"),
    ("unknown", ["urn:example:x"]),
):
    case(
        f"crit-{_name}",
        "crit",
        bearer(lambda kit, c=_crit: kit.token(header={"crit": c, "b64": False})),
        token_refused("crit_unsupported"),
    )
case(
    "b64-false-signed-over-raw-payload",
    "crit",
    bearer(
        lambda kit: (
            lambda header, payload: (
                f"{b64(dumps(header))}.{b64(payload)}."
                + b64(
                    sign(
                        "RS256",
                        kit.key("RS256").private_key,
                        f"{b64(dumps(header))}.".encode() + payload,
                    )
                )
            )
        )({**kit.header(), "b64": False}, dumps(kit.claims()))
    ),
    token_refused("bad_signature"),
)
case(
    "b64-false-without-crit",
    "crit",
    bearer(lambda kit: kit.token(header={"b64": False})),
    ACCEPT,
    accepted_because="without crit, b64 has no effect (RFC 7797 §6): the issuer signed the "
    "encoded payload as usual",
)
case(
    "jwe-five-parts",
    "jwe",
    bearer(
        lambda kit: ".".join(
            [
                b64(dumps({"alg": "RSA-OAEP", "enc": "A256GCM"})),
                *(b64(part) for part in (b"k" * 256, b"i" * 12, b"c" * 64, b"t" * 16)),
            ]
        )
    ),
    token_refused("not_a_jwt"),
)
case(
    "jwe-dir-empty-key",
    "jwe",
    bearer(
        lambda kit: (
            f"{b64(dumps({'alg': 'dir', 'enc': 'A128GCM'}))}..{b64(b'i' * 12)}."
            f"{b64(b'c' * 40)}.{b64(b't' * 16)}"
        )
    ),
    token_refused("not_a_jwt"),
)
case(
    "nested-jwt-cty",
    "nested",
    bearer(lambda kit: kit.token(header={"cty": "JWT"})),
    token_refused("nested_jwt"),
)
case(
    "nested-jwt-payload-is-a-jwt",
    "nested",
    bearer(lambda kit: kit.compact({**kit.header(), "cty": "JWT"}, kit.token().encode())),
    token_refused("malformed_jwt"),
)
case(
    "nested-jwt-without-cty",
    "nested",
    bearer(lambda kit: kit.compact(kit.header(), kit.token().encode())),
    token_refused("malformed_jwt"),
)

# -- segments and base64


def _respelled(segment: str) -> str:
    """``segment`` with the unused low bits of its last character set (RFC 4648 §3.5)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3), "no unused bits in this segment"
    index = alphabet.index(segment[-1])
    return segment[:-1] + alphabet[index | 1]


def _respelled_signature(alg: str) -> Callable[[Kit], str]:
    def make(kit: Kit) -> str:
        head, body, signature = kit.token(alg).split(".")
        return f"{head}.{body}.{_respelled(signature)}"

    return make


def _respelled_signed(part: int) -> Callable[[Kit], str]:
    """Header (0) or payload (1) re-spelt, then signed by the issuer as spelt."""

    def make(kit: Kit) -> str:
        header, claims = kit.header(), kit.claims()
        for pad in range(4):
            segments = [
                b64(dumps({**header, "x": "p" * pad})),
                b64(dumps({**claims, "x": "p" * pad})),
            ]
            if len(segments[part]) % 4 in (2, 3):
                break
        segments[part] = _respelled(segments[part])
        signing_input = ".".join(segments).encode()
        signature = sign("RS256", kit.key("RS256").private_key, signing_input)
        return f"{signing_input.decode()}.{b64(signature)}"

    return make


for _alg in ("RS256", "PS512", "ES256", "EdDSA"):
    case(
        f"non-canonical-signature-{_alg.lower()}",
        "base64",
        bearer(_respelled_signature(_alg)),
        token_refused("malformed_jwt"),
        defect=1,
    )
case(
    "non-canonical-header",
    "base64",
    bearer(_respelled_signed(0)),
    token_refused("malformed_jwt"),
    defect=1,
)
case(
    "non-canonical-payload",
    "base64",
    bearer(_respelled_signed(1)),
    token_refused("malformed_jwt"),
    defect=1,
)


def _edit(change: Callable[[list[str]], str]) -> Callable[[Kit], str]:
    return lambda kit: change(kit.token().split("."))


for _name, _change, _outcome in (
    ("one-segment", lambda s: s[0] + s[1] + s[2], token_refused("not_a_jwt")),
    ("two-segments", lambda s: f"{s[0]}.{s[1]}", token_refused("not_a_jwt")),
    ("four-segments", lambda s: f"{s[0]}.{s[1]}.{s[2]}.{s[2]}", token_refused("not_a_jwt")),
    ("empty-header", lambda s: f".{s[1]}.{s[2]}", token_refused("not_a_jwt")),
    ("empty-payload", lambda s: f"{s[0]}..{s[2]}", token_refused("not_a_jwt")),
    ("empty-signature", lambda s: f"{s[0]}.{s[1]}.", token_refused("not_a_jwt")),
    ("trailing-dot", lambda s: f"{s[0]}.{s[1]}.{s[2]}.", token_refused("not_a_jwt")),
    ("leading-dot", lambda s: f".{s[0]}.{s[1]}.{s[2]}", token_refused("not_a_jwt")),
    ("padded-signature", lambda s: f"{s[0]}.{s[1]}.{s[2]}==", token_refused("not_a_jwt")),
    (
        "padded-header",
        lambda s: f"{s[0]}=.{s[1]}.{s[2]}",
        request_refused("malformed_authorization"),
    ),
    (
        "plus-for-minus",
        lambda s: f"{s[0]}.{s[1]}.{s[2].replace('-', '+').replace('_', '/')}+/",
        token_refused("not_a_jwt"),
    ),
    ("tilde", lambda s: f"{s[0]}.{s[1]}~.{s[2]}", token_refused("not_a_jwt")),
    (
        "signature-length-4n+1",
        lambda s: (
            f"{s[0]}.{s[1]}.{s[2]}A"
            if len(s[2]) % 4 == 0
            else f"{s[0]}.{s[1]}.{s[2]}" + "A" * ((1 - len(s[2])) % 4)
        ),
        token_refused("malformed_jwt"),
    ),
    ("signature-truncated", lambda s: f"{s[0]}.{s[1]}.{s[2][:-2]}", token_refused("bad_signature")),
    ("signature-extended", lambda s: f"{s[0]}.{s[1]}.{s[2]}AAAA", token_refused("bad_signature")),
    ("swapped-segments", lambda s: f"{s[1]}.{s[0]}.{s[2]}", token_refused("alg_not_allowed")),
    (
        "bang-in-token",
        lambda s: f"{s[0]}.{s[1]}!.{s[2]}",
        request_refused("malformed_authorization"),
    ),
    (
        # A comma, then a token: how a server joins two header fields (RFC 9110 §5.3).
        "comma-in-token",
        lambda s: f"{s[0]}.{s[1]},{s[2]}",
        request_refused("multiple_authorization_headers"),
    ),
    (
        "quote-in-token",
        lambda s: f'"{s[0]}.{s[1]}.{s[2]}"',
        request_refused("malformed_authorization"),
    ),
    (
        "percent-encoded-dot",
        lambda s: f"{s[0]}%2E{s[1]}.{s[2]}",
        request_refused("malformed_authorization"),
    ),
):
    case(f"segment-{_name}", "segments", bearer(_edit(_change)), _outcome)


case(
    "segment-signature-of-other-payload",
    "segments",
    bearer(
        lambda kit: (lambda s: f"{s[0]}.{b64(dumps(kit.claims(sub='admin')))}.{s[2]}")(
            kit.token().split(".")
        )
    ),
    token_refused("bad_signature"),
)


def _payload_bytes(raw: bytes) -> Callable[[Kit], str]:
    """The issuer's signature over a payload of exactly these bytes."""
    return lambda kit: kit.compact(kit.header(), raw)


def _header_bytes(raw: Callable[[Kit], bytes]) -> Callable[[Kit], str]:
    return lambda kit: kit.compact(raw(kit), kit.claims(), alg="RS256")


def _claims_text(kit: Kit, **replace: str) -> bytes:
    """The claims as JSON text, some members' values written out by hand."""
    claims = kit.claims()
    parts = [
        f"{json.dumps(name)}:{replace.pop(name, json.dumps(value))}"
        for name, value in claims.items()
    ]
    parts += [f"{json.dumps(name)}:{text}" for name, text in replace.items()]
    return ("{" + ",".join(parts) + "}").encode()


# -- JSON defects

case(
    "json-duplicate-alg",
    "json",
    bearer(
        _header_bytes(
            lambda kit: (
                f'{{"alg":"RS256","typ":"at+jwt","kid":"{kit.key("RS256").kid}","alg":"none"}}'.encode()
            )
        )
    ),
    token_refused("malformed_jwt"),
)
case(
    "json-duplicate-aud",
    "json",
    bearer(
        lambda kit: kit.compact(
            kit.header(), _claims_text(kit)[:-1] + b',"aud":"https://other.example"}'
        )
    ),
    token_refused("malformed_jwt"),
)
case(
    "json-duplicate-exp-escaped-name",
    "json",
    bearer(lambda kit: kit.compact(kit.header(), _claims_text(kit)[:-1] + b',"\\u0065xp":1}')),
    token_refused("malformed_jwt"),
)
case(
    "json-deep-payload",
    "json",
    bearer(lambda kit: kit.compact(kit.header(), _claims_text(kit, nest="[" * 3000 + "]" * 3000))),
    token_refused("malformed_jwt"),
)
case(
    "json-deep-header",
    "json",
    bearer(_header_bytes(lambda kit: b'{"alg":"RS256","x":' + b"[" * 3000 + b"]" * 3000 + b"}")),
    token_refused("malformed_jwt"),
)
for _name, _text, _outcome in (
    ("nan-exp", "NaN", token_refused("malformed_jwt")),
    ("infinity-exp", "Infinity", token_refused("malformed_jwt")),
    ("minus-infinity-nbf", "-Infinity", token_refused("malformed_jwt")),
    ("huge-float-exp", "1e400", token_refused("bad_exp")),
    ("huge-integer-exp", "1" + "0" * 400, token_refused("bad_exp")),
    ("exponent-exp", "9.9e15", token_refused("bad_exp")),
):
    _member = "nbf" if "nbf" in _name else "exp"
    case(
        f"json-{_name}",
        "json",
        bearer(
            lambda kit, m=_member, t=_text: kit.compact(kit.header(), _claims_text(kit, **{m: t}))
        ),
        _outcome,
    )
for _name, _raw, _outcome in (
    ("payload-array", b"[1,2]", token_refused("malformed_jwt")),
    ("payload-string", b'"claims"', token_refused("malformed_jwt")),
    ("payload-null", b"null", token_refused("malformed_jwt")),
    ("payload-number", b"1", token_refused("malformed_jwt")),
    ("payload-empty-object", b"{}", token_refused("iss_mismatch")),
    ("payload-trailing-data", b'{"a":1} x', token_refused("malformed_jwt")),
    ("payload-two-objects", b'{"a":1}{"b":2}', token_refused("malformed_jwt")),
    ("payload-single-quotes", b"{'a':1}", token_refused("malformed_jwt")),
    ("payload-comment", b'{"a":1 /* c */}', token_refused("malformed_jwt")),
    ("payload-bom", b'\xef\xbb\xbf{"a":1}', token_refused("malformed_jwt")),
    ("payload-latin-1", b'{"a":"\xe9"}', token_refused("malformed_jwt")),
    ("payload-overlong-utf8", b'{"a":"\xc0\xaf"}', token_refused("malformed_jwt")),
    ("payload-empty", b"", token_refused("not_a_jwt")),
):
    case(f"json-{_name}", "json", bearer(_payload_bytes(_raw)), _outcome)
for _name, _raw in (
    ("header-array", b'["RS256"]'),
    ("header-null", b"null"),
    ("header-trailing-comma", b'{"alg":"RS256",}'),
    ("header-not-utf8", b'{"alg":"RS256\xff"}'),
):
    case(
        f"json-{_name}",
        "json",
        bearer(_header_bytes(lambda kit, r=_raw: r)),
        token_refused("malformed_jwt"),
    )
case(
    "json-whitespace-around",
    "json",
    bearer(lambda kit: kit.compact(kit.header(), b"\n " + dumps(kit.claims()) + b" \t")),
    ACCEPT,
    accepted_because="whitespace around a JSON value is JSON (RFC 8259 §2); the issuer signed "
    "these exact bytes",
)

# -- dates

for _name, _changes, _outcome in (
    ("exp-missing", {"exp": DROP}, token_refused("exp_missing")),
    ("exp-null", {"exp": None}, token_refused("bad_exp")),
    ("exp-string", {"exp": "9999999999"}, token_refused("bad_exp")),
    ("exp-true", {"exp": True}, token_refused("bad_exp")),
    ("exp-list", {"exp": [9999999999]}, token_refused("bad_exp")),
    ("exp-object", {"exp": {"$date": 9999999999}}, token_refused("bad_exp")),
    ("exp-zero", {"exp": 0}, token_refused("expired")),
    ("exp-negative", {"exp": -1}, token_refused("expired")),
    ("exp-2-pow-53", {"exp": 2**53}, token_refused("bad_exp")),
    ("exp-1e308", {"exp": 1e308}, token_refused("bad_exp")),
    ("exp-huge-integer", {"exp": 10**30}, token_refused("bad_exp")),
    ("nbf-string", {"nbf": "0"}, token_refused("bad_nbf")),
    ("nbf-null", {"nbf": None}, token_refused("bad_nbf")),
    ("iat-string", {"iat": "0"}, token_refused("bad_iat")),
    ("iat-bool", {"iat": False}, token_refused("bad_iat")),
):
    case(f"date-{_name}", "dates", bearer(lambda kit, c=_changes: kit.token(**c)), _outcome)
for _name, _offsets, _outcome in (
    ("expired-beyond-leeway", {"exp": -31}, token_refused("expired")),
    ("expired-an-hour-ago", {"exp": -3600}, token_refused("expired")),
    ("nbf-beyond-leeway", {"nbf": 120}, token_refused("not_yet_valid")),
    ("iat-beyond-leeway", {"iat": 120}, token_refused("iat_in_future")),
    ("exp-before-nbf", {"exp": -60, "nbf": 60}, token_refused("expired")),
):
    case(
        f"date-{_name}",
        "dates",
        bearer(lambda kit, o=_offsets: kit.token(**{k: int(kit.now) + v for k, v in o.items()})),
        _outcome,
    )
for _name, _offsets, _why in (
    (
        "expired-within-leeway",
        {"exp": -10},
        "expired 10 s ago, inside the 30 s leeway (RFC 7519 §4.1.4)",
    ),
    ("nbf-within-leeway", {"nbf": 10}, "nbf 10 s ahead, inside the 30 s leeway for clock skew"),
    ("iat-within-leeway", {"iat": 10}, "iat 10 s ahead, inside the 30 s leeway for clock skew"),
    ("exp-fractional", {"exp": 3600.5}, "a NumericDate may be fractional (RFC 7519 §2)"),
):
    case(
        f"date-{_name}",
        "dates",
        bearer(lambda kit, o=_offsets: kit.token(**{k: kit.now // 1 + v for k, v in o.items()})),
        ACCEPT,
        accepted_because=_why,
    )
case(
    "date-iat-missing",
    "dates",
    bearer(lambda kit: kit.token(iat=DROP)),
    ACCEPT,
    accepted_because="iat is informational; exp bounds the token (many providers omit iat)",
)

# -- audience

for _name, _aud, _outcome in (
    ("missing", DROP, token_refused("aud_missing")),
    ("null", None, token_refused("aud_missing")),
    ("empty-string", "", token_refused("aud_mismatch")),
    ("other", "https://other.example", token_refused("aud_mismatch")),
    ("trailing-slash", AUDIENCE + "/", token_refused("aud_mismatch")),
    ("upper-case", AUDIENCE.upper(), token_refused("aud_mismatch")),
    ("leading-space", " " + AUDIENCE, token_refused("aud_mismatch")),
    ("prefix", AUDIENCE + ".evil.example", token_refused("aud_mismatch")),
    ("empty-list", [], token_refused("aud_invalid")),
    ("list-of-others", ["https://a.example", "https://b.example"], token_refused("aud_mismatch")),
    ("list-with-number", [AUDIENCE, 1], token_refused("aud_invalid")),
    ("list-with-null", [AUDIENCE, None], token_refused("aud_invalid")),
    ("number", 1, token_refused("aud_invalid")),
    ("true", True, token_refused("aud_invalid")),
    ("object", {"aud": AUDIENCE}, token_refused("aud_invalid")),
    ("nested-list", [[AUDIENCE]], token_refused("aud_invalid")),
    ("client-id-typ-jwt", CLIENT_ID, token_refused("id_token")),
):
    _header = {"typ": "JWT"} if "typ-jwt" in _name else None
    case(
        f"aud-{_name}",
        "audience",
        bearer(lambda kit, a=_aud, h=_header: kit.token(header=h, aud=a)),
        _outcome,
    )
for _name, _aud in (
    ("with-object-typ-jwt", [AUDIENCE, {"x": 1}]),
    ("with-nested-list-typ-jwt", [AUDIENCE, [AUDIENCE]]),
    ("with-object-no-typ", [AUDIENCE, {"x": 1}]),
):
    _header = {"typ": DROP} if "no-typ" in _name else {"typ": "JWT"}
    case(
        f"aud-{_name}",
        "audience",
        bearer(lambda kit, a=_aud, h=_header: kit.token(header=h, aud=a)),
        token_refused("aud_invalid"),
        defect=5,
    )
case(
    "aud-list-with-ours",
    "audience",
    bearer(lambda kit: kit.token(aud=["https://other.example", AUDIENCE])),
    ACCEPT,
    accepted_because="aud may be an array; one of its strings names this API (RFC 7519 §4.1.3)",
)

# -- issuer

for _name, _iss in (
    ("missing", DROP),
    ("null", None),
    ("other", "https://attacker.example"),
    ("number", 1),
    ("list", "LIST"),
    ("trailing-slash", "SLASH"),
    ("upper-case", "UPPER"),
    ("https-for-http", "HTTPS"),
    ("path-suffix", "SUFFIX"),
    ("empty", ""),
):
    case(
        f"iss-{_name}",
        "issuer",
        bearer(
            lambda kit, i=_iss: kit.token(
                iss={
                    "LIST": [kit.issuer.issuer],
                    "SLASH": kit.issuer.issuer + "/",
                    "UPPER": kit.issuer.issuer.upper(),
                    "HTTPS": kit.issuer.issuer.replace("http:", "https:"),
                    "SUFFIX": kit.issuer.issuer + "/../",
                }.get(i, i)
                if isinstance(i, str)
                else i
            )
        ),
        token_refused("iss_mismatch"),
    )

# -- scopes, at the route that needs files:private

for _name, _scope in (
    ("missing", DROP),
    ("other", "profile"),
    ("longer", PRIVATE_SCOPE + "2"),
    ("shorter", "files:privat"),
    ("upper-case", PRIVATE_SCOPE.upper()),
    ("tab-separated", "profile\t" + PRIVATE_SCOPE),
    ("comma-separated", "profile," + PRIVATE_SCOPE),
    ("number", 1),
    ("object", {PRIVATE_SCOPE: True}),
    ("nested-list", [[PRIVATE_SCOPE]]),
    ("log-injection", "x\nINFO audmw forged\x1b[31m"),
):
    case(
        f"scope-{_name}",
        "scope",
        scoped(_scope),
        SCOPE_REFUSED,
        defect=7 if _name in ("log-injection", "tab-separated") else None,
    )
for _name, _scope, _why in (
    ("exact", PRIVATE_SCOPE, "the scope the rule asks for"),
    (
        "among-others",
        "profile " + PRIVATE_SCOPE + " email",
        "scope is space-separated (RFC 6749 §3.3)",
    ),
    ("extra-spaces", "  " + PRIVATE_SCOPE + "  ", "empty items between spaces name no scope"),
    ("list", ["profile", PRIVATE_SCOPE], "providers issue scope arrays (scp); strings in it count"),
    (
        "list-with-number",
        [1, PRIVATE_SCOPE],
        "a non-string item names no scope; the string one counts",
    ),
):
    case(f"scope-{_name}", "scope", scoped(_scope), ACCEPT, accepted_because=_why)
case(
    "scope-in-scp",
    "scope",
    bearer(lambda kit: kit.token(scope=DROP, scp=[PRIVATE_SCOPE]), target=PRIVATE),
    ACCEPT,
    accepted_because="scp is a default scope claim (Entra ID, Okta)",
)

# -- ID tokens and typ

for _name, _typ in (
    ("id-token", "id_token"),
    ("jose", "JOSE"),
    ("dpop", "dpop+jwt"),
    ("logout", "logout+jwt"),
    ("empty", ""),
    ("number", 1),
    ("list", ["at+jwt"]),
):
    case(
        f"typ-{_name}",
        "typ",
        bearer(lambda kit, t=_typ: kit.token(header={"typ": t})),
        token_refused("typ_not_allowed"),
    )
for _name, _typ, _why in (
    ("jwt", "JWT", "typ JWT is what many providers write on access tokens (RFC 7519 §5.1)"),
    ("upper-case", "AT+JWT", "typ is compared case-insensitively (RFC 7515 §4.1.9)"),
    ("media-type", "application/at+jwt", "the full media type names the same type (RFC 9068 §2.1)"),
    ("missing", DROP, "typ is optional unless require_at_jwt is set"),
):
    case(
        f"typ-{_name}",
        "typ",
        bearer(lambda kit, t=_typ: kit.token(header={"typ": t})),
        ACCEPT,
        accepted_because=_why,
    )
for _name, _claims in (
    ("nonce", {"nonce": "n"}),
    ("at-hash", {"at_hash": "h"}),
    ("token-use-id", {"token_use": "id"}),
    ("body-typ-id", {"typ": "ID"}),
):
    case(
        f"id-token-{_name}",
        "typ",
        bearer(lambda kit, c=_claims: kit.token(header={"typ": "JWT"}, **c)),
        token_refused("id_token"),
    )
case(
    "id-token-marks-under-at-jwt",
    "typ",
    bearer(lambda kit: kit.token(nonce="n")),
    ACCEPT,
    accepted_because="typ at+jwt says the issuer made an access token (RFC 9068 §2.1)",
)

# -- weak and mismatched keys the issuer's JWKS publishes

for _kid, _alg, _outcome in (
    ("weak-rsa-1024", "RS256", token_refused("unknown_kid")),
    ("rsa-use-enc", "RS256", token_refused("unknown_kid")),
    ("ec-ops-sign-only", "ES256", token_refused("unknown_kid")),
    ("ec-p384-says-p256", "ES384", token_refused("unknown_kid")),
    ("ec-with-private-d", "ES256", token_refused("unknown_kid")),
    ("rsa-alg-rs384", "RS256", token_refused("key_alg_mismatch")),
):
    case(
        f"key-{_kid}",
        "keys",
        bearer(
            lambda kit, k=_kid, a=_alg: kit.compact(
                kit.header(a, kid=k), kit.claims(), alg=a, key=kit.weak[k]
            )
        ),
        _outcome,
    )
case(
    "key-oct-hs256",
    "keys",
    bearer(
        lambda kit: kit.compact({"alg": "HS256", "kid": "oct-secret"}, kit.claims(), key=b"s" * 32)
    ),
    token_refused("alg_not_allowed"),
)
case(
    "key-rsa-e-1",
    "keys",
    bearer(lambda kit: kit.compact(kit.header(kid="rsa-e-1"), kit.claims())),
    token_refused("unknown_kid"),
)

# -- sizes

MAX_TOKEN_BYTES = 16 * 1024


def _sized(length: int) -> Callable[[Kit], str]:
    def make(kit: Kit) -> str:
        header = kit.header()
        for pad in range(4):
            header["x"] = "p" * pad
            base = len(kit.compact(header, kit.claims(pad="")))
            for extra in range(max(0, (length - base) * 3 // 4 - 8), (length - base) * 3 // 4 + 8):
                token = kit.compact(header, kit.claims(pad="q" * extra))
                if len(token) == length:
                    return token
        raise AssertionError(f"no token of {length} bytes")

    return make


case(
    "size-at-limit",
    "size",
    bearer(_sized(MAX_TOKEN_BYTES)),
    ACCEPT,
    accepted_because="max_token_bytes (16 KiB) is the largest token read",
)
case(
    "size-limit-minus-1",
    "size",
    bearer(_sized(MAX_TOKEN_BYTES - 1)),
    ACCEPT,
    accepted_because="under max_token_bytes",
)
case(
    "size-limit-plus-1",
    "size",
    bearer(_sized(MAX_TOKEN_BYTES + 1)),
    token_refused("token_too_large"),
)
case(
    "size-1-mib",
    "size",
    bearer(lambda kit: "A" * (1 << 20)),
    token_refused("token_too_large"),
    on_servers={"waitress": SERVER_REFUSES},  # header section over 256 KiB: 431 or 400
)

# -- header-level defects

case(
    "header-bearer-lower-case",
    "header",
    shaped("bearer {t}"),
    ACCEPT,
    accepted_because="auth-scheme names are case-insensitive (RFC 9110 §11.1)",
)
case(
    "header-bearer-upper-case",
    "header",
    shaped("BEARER {t}"),
    ACCEPT,
    accepted_because="auth-scheme names are case-insensitive (RFC 9110 §11.1)",
)
case(
    "header-two-spaces",
    "header",
    shaped("Bearer  {t}"),
    ACCEPT,
    accepted_because="RFC 9110 §11.4 allows 1*SP between scheme and credentials",
)
case(
    "header-trailing-space-tab",
    "header",
    shaped("Bearer {t} \t"),
    ACCEPT,
    accepted_because="servers strip optional whitespace around a field value (RFC 9110 §5.5)",
)
case(
    "header-leading-space",
    "header",
    shaped("  Bearer {t}"),
    ACCEPT,
    accepted_because="servers strip optional whitespace around a field value (RFC 9110 §5.5)",
)
for _name, _template in (
    ("nbsp-after", "Bearer {t}\xa0"),
    ("nbsp-before", "\xa0Bearer {t}"),
    ("nel-after", "Bearer {t}\x85"),
    ("nbsp-between", "Bearer\xa0{t}"),
    ("nbsp-and-space", "Bearer \xa0{t}"),
    ("tab-between", "Bearer\t{t}"),  # RFC 9110 §11.4: 1*SP after the scheme, never HTAB
    ("utf8-line-separator-after", "Bearer {t}\xe2\x80\xa8"),
    ("utf8-nbsp-after", "Bearer {t}\xc2\xa0"),
    ("ideographic-space-after", "Bearer {t}\xe3\x80\x80"),
):
    case(
        f"header-{_name}",
        "header",
        shaped(_template),
        request_refused("malformed_authorization"),
        defect=2,
    )
for _name, _template in (
    ("vertical-tab-after", "Bearer {t}\x0b"),
    ("form-feed-after", "Bearer {t}\x0c"),
    ("file-separator-after", "Bearer {t}\x1c"),
    ("unit-separator-before", "\x1fBearer {t}"),
):
    # Control characters in a field value: the servers refuse the request themselves (RFC
    # 9110 §5.5); the core refuses them as any adapter behind a laxer server would see them.
    case(
        f"header-{_name}",
        "header",
        shaped(_template),
        request_refused("malformed_authorization"),
        defect=2,
        on_servers={"uvicorn": SERVER_REFUSES, "waitress": SERVER_REFUSES},
    )
for _name, _template in (
    ("bare-cr", "Bearer {t}\rX"),
    ("nul", "Bearer {t}\x00"),
):
    case(
        f"header-{_name}",
        "header",
        shaped(_template),
        request_refused("malformed_authorization"),
        on_servers={"uvicorn": SERVER_REFUSES, "waitress": SERVER_REFUSES},
        defect=8 if _name == "bare-cr" else None,
    )
for _name, _template, _outcome in (
    ("scheme-only", "Bearer", request_refused("malformed_authorization")),
    ("scheme-and-space", "Bearer ", request_refused("malformed_authorization")),
    ("two-tokens", "Bearer {t} {t}", request_refused("malformed_authorization")),
    ("token-and-word", "Bearer {t} x", request_refused("malformed_authorization")),
    ("padding-inside", "Bearer ={t}", request_refused("malformed_authorization")),
    ("padded-token", "Bearer {t}=", token_refused("not_a_jwt")),
    ("quoted-token", 'Bearer "{t}"', request_refused("malformed_authorization")),
    ("comma-joined", "Bearer {t}, Bearer {t}", request_refused("multiple_authorization_headers")),
    ("leading-comma", ", Bearer {t}", request_refused("multiple_authorization_headers")),
    (
        "basic-then-bearer",
        "Basic dXNlcjpwYXNz, Bearer {t}",
        request_refused("multiple_authorization_headers"),
    ),
    ("basic", "Basic dXNlcjpwYXNz", challenge("unsupported_scheme")),
    # DPoP is allowed by default: a token without cnf.jkt is not one to send that way.
    ("dpop-scheme-unbound-token", "DPoP {t}", token_refused("dpop_token_unbound")),
    ("no-scheme", "{t}", challenge("unsupported_scheme")),
    ("no-scheme-opaque-and-word", "{t} x", challenge("unsupported_scheme")),
    ("bearer-prefix-word", "Bearerx {t}", challenge("unsupported_scheme")),
    ("empty", "", challenge("unsupported_scheme")),
):
    case(
        f"header-{_name}",
        "header",
        shaped(_template),
        _outcome,
        defect=4
        if _name in ("comma-joined", "leading-comma", "basic-then-bearer")
        else 7
        if "no-scheme" in _name
        else None,
    )
# Two header fields: ASGI servers hand both over; WSGI servers fold them into one value.
for _name, _templates in (
    ("two-bearer", ["Bearer {t}", "Bearer {t}"]),
    ("basic-and-bearer", ["Basic dXNlcjpwYXNz", "Bearer {t}"]),
    ("empty-and-bearer", ["", "Bearer {t}"]),
    ("bearer-and-garbage", ["Bearer {t}", "x"]),
):
    case(
        f"header-{_name}",
        "header",
        values(_templates),
        request_refused("multiple_authorization_headers"),
        defect=4,
    )

# -- a token sent two ways (RFC 6750 §2) or in a place this API does not read

_FORM = "application/x-www-form-urlencoded"
for _name, _query in (
    ("query", "access_token=x"),
    ("query-encoded-name", "access%5Ftoken=x"),
    ("query-fully-encoded-name", "%61ccess_token=x"),
    ("query-second-parameter", "a=1&access_token=x"),
    ("query-empty-value", "access_token="),
):
    case(
        f"two-ways-header-and-{_name}",
        "methods",
        bearer(valid, target=f"{PROTECTED}?{_query}"),
        request_refused("multiple_methods"),
        defect=3 if "encoded" in _name else None,
    )
case(
    "query-only",
    "methods",
    lambda kit: Sent(target=f"{PROTECTED}?access_token={kit.token()}", secret=kit.token()),
    challenge("token_in_query"),
)
for _name, _body, _content_type in (
    ("form", b"access_token=x", _FORM),
    ("form-charset", b"access_token=x", _FORM + "; charset=utf-8"),
    ("form-upper-case-type", b"a=1&access_token=x", "Application/X-WWW-Form-Urlencoded"),
    ("form-encoded-name", b"access%5Ftoken=x", _FORM),
):
    case(
        f"two-ways-header-and-{_name}",
        "methods",
        bearer(valid, method="POST", target=POST_TARGET, body=_body, content_type=_content_type),
        request_refused("multiple_methods"),
        defect=3,
    )
case(
    "form-only",
    "methods",
    lambda kit: Sent(
        method="POST",
        target=POST_TARGET,
        body=b"access_token=" + kit.token().encode(),
        content_type=_FORM,
    ),
    challenge("token_in_body"),
)
case(
    "json-body-access-token",
    "methods",
    bearer(
        valid,
        method="POST",
        target=POST_TARGET,
        body=b'{"access_token":"x"}',
        content_type="application/json",
    ),
    ACCEPT,
    accepted_because="only a form body is a way to send a token (RFC 6750 §2.2); JSON is data",
)
case(
    "query-other-name",
    "methods",
    bearer(valid, target=f"{PROTECTED}?ACCESS_TOKEN=x&access_tokens=y"),
    ACCEPT,
    accepted_because="parameter names are case-sensitive; neither is access_token",
)

# -- paths (the router's path, not the bytes, decides)

for _name, _target in (
    ("nul", "/files/other/a%00"),
    ("newline", "/files/other/a%0A"),
    ("carriage-return", "/files/other/a%0D"),
    ("delete", "/files/other/a%7F"),
    ("escape", "/files/other/a%1B"),
    ("exempt-with-newline", "/health%0A"),
):
    case(
        f"path-{_name}",
        "path",
        bearer(valid, target=_target),
        request_refused("path_control_characters"),
    )
for _name, _target in (
    ("dot-dot-out-of-exempt", "/files/public/../private/a"),
    ("encoded-dot-dot-out-of-exempt", "/files/public/%2e%2e/private/a"),
    ("upper-encoded-dot-dot", "/files/public/%2E%2E/private/a"),
    ("dot-segment", "/files/./private/a"),
    ("deep-dot-dot", "/files/public/a/../../private/a"),
    ("trailing-slash", "/files/private/a/"),
    ("double-slash", "/files//private/a"),
    ("encoded-slash", "/files/private%2Fa"),
    ("encoded-letter", "/files/%70rivate/a"),
    ("inner-dot-segment", "/files/private/./a"),
    ("encoded-slash-dot-dot", "/files/public/..%2Fprivate/a"),
    ("all-encoded-dot-dot", "/files/public/%2e%2e%2fprivate/a"),
):
    # The valid token has only "profile": the private folder behind the path needs more.
    case(f"path-{_name}", "path", bearer(valid, target=_target), SCOPE_REFUSED)
case(
    "path-head-under-a-get-rule",
    "path",
    bearer(valid, method="HEAD", target=PRIVATE),
    SCOPE_REFUSED,  # a rule for GET also holds for HEAD
)
for _name, _target in (
    ("unknown-url", "/nowhere"),
    ("exempt-upper-case", "/HEALTH"),
    ("exempt-dot-segment", "/./health"),
):
    case(
        f"path-{_name}-no-token",
        "path",
        lambda kit, t=_target: Sent(target=t),
        challenge("no_token"),
    )
case(
    "path-exempt-garbage-token",
    "path",
    shaped("Bearer garbage", target="/health"),
    ACCEPT,
    accepted_because="an exempt path never reads the token",
)
