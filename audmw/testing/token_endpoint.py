"""The local issuer's token endpoint: client credentials, token exchange, on-behalf-of.

Registered clients authenticate with a secret (``client_secret_basic`` or
``client_secret_post``) or a key (``private_key_jwt``, whose assertion must name this
issuer as its only ``aud``). Refusals are RFC 6749 §5.2 error answers.

A request with a valid DPoP proof (RFC 9449 §5) gets a token bound to the proof's key
(``cnf.jkt``, ``token_type`` DPoP); ``dpop_nonce`` makes the endpoint demand its nonces.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote_plus, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from audmw.dpop import jwk_thumbprint
from audmw.forwarded import normalise_url

if TYPE_CHECKING:
    from audmw.testing.issuer import LocalIssuer

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a name
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a name
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a name
GRANTS = frozenset({"client_credentials", TOKEN_EXCHANGE, JWT_BEARER})
_REPEATABLE = frozenset({"resource", "audience"})
_ASSERTION_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
_ASSERTION_ALGS += ["ES512", "EdDSA"]
MAX_BODY = 64 * 1024
SIGNED_ANSWER = "application/token-introspection+jwt"
MAX_ASSERTION_LIFETIME = 300
DPOP_ALGS = ["ES256", "ES384", "ES512", "EdDSA", "PS256", "RS256"]
DPOP_MAX_AGE = 60
_PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
LOG_SIZE = 100


@dataclass
class RegisteredClient:
    """A client of the local issuer and what it may ask for.

    ``audiences``/``scopes`` limit the targets and scopes it may request (None: any);
    without a target its tokens are for ``default_audience`` (else the issuer's audience),
    unless ``require_audience`` (Auth0 without a default audience: ``access_denied``).
    ``assertion_audience="token_endpoint"`` makes it behave like a server that still wants
    the endpoint URL as a ``private_key_jwt`` assertion's ``aud``.
    """

    client_id: str
    secret: str | None = field(default=None, repr=False)
    keys: tuple[Any, ...] = ()
    grant_types: frozenset[str] = GRANTS
    audiences: frozenset[str] | None = None
    scopes: frozenset[str] | None = None
    default_audience: str | None = None
    require_audience: bool = False
    assertion_audience: Literal["issuer", "token_endpoint"] = "issuer"


class Refusal(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.headers = dict(headers or {})


def public_key_of(key: Any) -> Any:
    """The public key of a ``SigningKey``, a private or public key object, or a JWK."""
    key = getattr(key, "private_key", key)
    if isinstance(key, Mapping):
        names = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA"}
        algorithm = jwt.algorithms.get_default_algorithms()[names[str(key.get("kty"))]]
        key = algorithm.from_jwk(dict(key))
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.public_key()
    return key


class TokenEndpoint:
    """``POST {issuer}/token`` of a ``LocalIssuer``."""

    def __init__(self, issuer: LocalIssuer) -> None:
        self.issuer = issuer
        self.clients: dict[str, RegisteredClient] = {}
        self.token_lifetime = 300
        self.requests = 0
        # What the last requests carried (form fields, Authorization header), for tests.
        self.log: list[dict[str, Any]] = []
        self._seen_jtis: dict[str, float] = {}
        self._lock = threading.Lock()
        # Opaque (reference) tokens: the token -> what the introspection endpoint says of it.
        self.opaque: dict[str, dict[str, Any]] = {}
        self.revoked: set[str] = set()
        self.introspection_requests = 0
        # Who asked, and how it authenticated (client_secret_basic, client_secret_post,
        # private_key_jwt), for each introspection request whose client authenticated.
        self.introspection_clients: list[tuple[str, str]] = []
        # What every new opaque token starts with (a provider's recognisable prefix).
        self.opaque_prefix = ""
        # RFC 9701: answer with a signed JWT when the client accepts one; the key (a
        # ``SigningKey``) defaults to the issuer's current RS256 key.
        self.signed_introspection = False
        self.introspection_signing_key: Any = None
        # When set, the introspection endpoint answers only once this event is set.
        self.introspection_gate: threading.Event | None = None
        self.dpop_nonce: Literal["off", "required", "rotating"] = "off"
        """``required``: DPoP proofs must carry the current nonce (``use_dpop_nonce`` with a
        ``DPoP-Nonce`` header otherwise); ``rotating``: a new one on every request, so every
        proof carries a stale one (a server a client must not loop with)."""
        self._nonce = secrets.token_urlsafe(16)
        self._proof_jtis: dict[str, float] = {}

    @property
    def url(self) -> str:
        return self.issuer.origin + self.issuer.path + "/token"

    @property
    def introspection_url(self) -> str:
        return self.issuer.origin + self.issuer.path + "/introspect"

    # -- introspection (RFC 7662) ------------------------------------------------------------

    def issue_opaque(self, claims: Mapping[str, Any]) -> str:
        """A new opaque token standing for ``claims`` (``active`` is added on introspection)."""
        token = self.opaque_prefix + secrets.token_urlsafe(32)
        with self._lock:
            self.opaque[token] = dict(claims)
        return token

    def revoke(self, token: str) -> None:
        """From now on the introspection endpoint says ``token`` is not active."""
        with self._lock:
            self.revoked.add(token)

    def signed_answer(
        self, headers: Mapping[str, str], answer: Mapping[str, Any], body: bytes = b""
    ) -> bytes | None:
        """The RFC 9701 form of an introspection ``answer`` when signed answers are on and
        the request (its ``headers`` and form ``body``) accepts them, else None."""
        if not self.signed_introspection or SIGNED_ANSWER not in headers.get("accept", ""):
            return None
        if "error" in answer:
            return None
        from audmw.testing.issuer import sign_compact

        key = self.introspection_signing_key or self.issuer.key_for("RS256")
        authorization = headers.get("authorization", "")
        client_id = ""
        if authorization.lower().startswith("basic "):
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
            client_id = unquote_plus(decoded.partition(":")[0])
        else:  # client_secret_post, private_key_jwt: the form names the client
            client_id = _one(self._form(headers, body), "client_id") or ""
        claims = {
            "iss": self.issuer.issuer,
            "aud": client_id,
            "iat": int(time.time()),
            "token_introspection": dict(answer),
        }
        header = {"alg": "RS256", "typ": "token-introspection+jwt", "kid": key.kid}
        return sign_compact(header, claims, key.private_key).encode("ascii")

    def introspect(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """``POST {issuer}/introspect``: any registered client may ask, authenticated as at
        the token endpoint; an opaque token it issued or a JWT it signed, unless revoked."""
        with self._lock:
            self.introspection_requests += 1
        gate = self.introspection_gate
        if gate is not None:
            gate.wait(timeout=30)
        try:
            form = self._form(headers, body)
            client = self._authenticate(headers, form)
            method = (
                "client_secret_basic"
                if "authorization" in headers
                else "client_secret_post"
                if "client_secret" in form
                else "private_key_jwt"
            )
            with self._lock:
                self.introspection_clients.append((client.client_id, method))
                del self.introspection_clients[:-LOG_SIZE]
            token = _one(form, "token")
            if not token:
                raise Refusal("invalid_request", "the token parameter is required")
        except (TypeError, ValueError, KeyError, AttributeError):
            return 400, {"error": "invalid_request", "error_description": "malformed request"}
        except Refusal as refusal:
            return refusal.status, {
                "error": refusal.error,
                "error_description": refusal.description,
            }
        with self._lock:
            claims = None if token in self.revoked else self.opaque.get(token)
        if claims is None and token not in self.revoked and token.count(".") == 2:
            try:
                claims = self._subject(token, ACCESS_TOKEN_TYPE)
            except Refusal:
                claims = None
        exp = claims.get("exp") if claims is not None else None
        if claims is None or (isinstance(exp, (int, float)) and exp <= time.time()):
            return 200, {"active": False}
        return 200, {"active": True, **claims}

    def register(self, client: RegisteredClient) -> RegisteredClient:
        self.clients[client.client_id] = client
        return client

    # -- the request -------------------------------------------------------------------------

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer for a request with these (lower-case) headers and body."""
        status, answer, _ = self.respond(headers, body)
        return status, answer

    def respond(
        self, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """``handle``'s answer and the headers that go with it (``DPoP-Nonce``)."""
        with self._lock:
            self.requests += 1
        extra: dict[str, str] = {}
        try:
            form = self._form(headers, body)
            with self._lock:
                self.log.append(
                    {
                        "form": form,
                        "authorization": headers.get("authorization"),
                        "dpop": headers.get("dpop"),
                    }
                )
                del self.log[:-LOG_SIZE]  # a long-running serve-issuer must not grow forever
            client = self._authenticate(headers, form)
            nonce = self._next_nonce()
            if nonce is not None:
                extra["DPoP-Nonce"] = nonce
            jkt = self._proof_key(headers.get("dpop"), nonce) if "dpop" in headers else None
            return 200, self._grant(client, form, jkt), extra
        except (TypeError, ValueError, KeyError, AttributeError):
            # Anything odd enough to trip a parser: a refusal, never a crash of the handler.
            answer = {"error": "invalid_request", "error_description": "malformed request"}
            return 400, answer, extra
        except Refusal as refusal:
            answer = {"error": refusal.error, "error_description": refusal.description}
            return refusal.status, answer, {**extra, **refusal.headers}

    # -- DPoP (RFC 9449 §4.3, §5, §8) ------------------------------------------------------

    def _next_nonce(self) -> str | None:
        if self.dpop_nonce == "off":
            return None
        with self._lock:
            if self.dpop_nonce == "rotating":
                self._nonce = secrets.token_urlsafe(16)
            return self._nonce

    def _proof_key(self, proof: str | None, nonce: str | None) -> str:
        """The thumbprint of the key of a valid proof of this request, else a refusal."""

        def refused(description: str) -> Refusal:
            return Refusal("invalid_dpop_proof", description)

        if not proof or "," in proof:
            raise refused("exactly one DPoP header is required")
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError:
            raise refused("the DPoP proof is not a JWS") from None
        jwk, alg = header.get("jwk"), header.get("alg")
        if str(header.get("typ")).lower() != "dpop+jwt" or "crit" in header:
            raise refused("the DPoP proof's typ must be dpop+jwt, without crit")
        if alg not in DPOP_ALGS or not isinstance(jwk, dict):
            raise refused("the DPoP proof needs an asymmetric alg and a jwk")
        if _PRIVATE_JWK_MEMBERS.intersection(jwk):
            raise refused("the DPoP proof's jwk holds private members")
        thumbprint = jwk_thumbprint(jwk)
        try:
            key = jwt.PyJWK(jwk, str(alg)).key
            claims: dict[str, Any] = jwt.decode(
                proof,
                key,
                algorithms=[str(alg)],
                options={"verify_aud": False, "require": ["iat", "jti", "htm", "htu"]},
                leeway=5,
            )
        except (jwt.PyJWTError, TypeError, ValueError):
            raise refused("the DPoP proof's signature is not by its jwk") from None
        htu = claims.get("htu")
        if claims.get("htm") != "POST" or not isinstance(htu, str):
            raise refused("the DPoP proof's htm must be POST")
        if normalise_url(htu) != normalise_url(self.url):
            raise refused("the DPoP proof's htu is not this token endpoint")
        now = time.time()
        iat, jti = claims.get("iat"), claims.get("jti")
        if not isinstance(iat, (int, float)) or iat < now - DPOP_MAX_AGE:
            raise refused("the DPoP proof is too old")
        if thumbprint is None or not isinstance(jti, str) or not jti:
            raise refused("the DPoP proof has no jti or an unusable jwk")
        if nonce is not None and claims.get("nonce") != nonce:
            raise Refusal(
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof",
                headers={"DPoP-Nonce": nonce},
            )
        with self._lock:
            self._proof_jtis = {seen: ends for seen, ends in self._proof_jtis.items() if ends > now}
            replay_key = f"{thumbprint} {jti}"
            if replay_key in self._proof_jtis:
                raise refused("the DPoP proof was used before (jti)")
            self._proof_jtis[replay_key] = now + DPOP_MAX_AGE + 10
        return thumbprint

    def _form(self, headers: Mapping[str, str], body: bytes) -> dict[str, list[str]]:
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise Refusal("invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            pairs = parse_qsl(
                body.decode("utf-8"),
                keep_blank_values=True,
                strict_parsing=False,
                max_num_fields=100,
            )
        except (UnicodeDecodeError, ValueError):
            raise Refusal("invalid_request", "the form cannot be read") from None
        form: dict[str, list[str]] = {}
        for name, value in pairs:
            if name in form and name not in _REPEATABLE:
                raise Refusal("invalid_request", f"parameter {name} is given more than once")
            form.setdefault(name, []).append(value)
        return form

    # -- client authentication -----------------------------------------------------------

    def _authenticate(
        self, headers: Mapping[str, str], form: Mapping[str, list[str]]
    ) -> RegisteredClient:
        authorization = headers.get("authorization")
        methods = [
            authorization is not None,
            "client_secret" in form,
            "client_assertion" in form,
        ]
        if sum(methods) != 1:
            raise Refusal(
                "invalid_client" if sum(methods) == 0 else "invalid_request",
                "no client authentication"
                if sum(methods) == 0
                else "more than one client authentication method",
                401 if sum(methods) == 0 else 400,
            )
        if authorization is not None:
            return self._basic(authorization, form)
        if "client_secret" in form:
            client = self._client(_one(form, "client_id"))
            self._check_secret(client, _one(form, "client_secret"))
            return client
        return self._assertion(form)

    def _client(self, client_id: str | None) -> RegisteredClient:
        client = self.clients.get(client_id or "")
        if client is None:
            raise Refusal("invalid_client", "unknown client", 401)
        return client

    def _check_secret(self, client: RegisteredClient, secret: str | None) -> None:
        if (
            client.secret is None
            or secret is None
            or not hmac.compare_digest(client.secret.encode(), secret.encode())
        ):
            raise Refusal("invalid_client", "client authentication failed", 401)

    def _basic(self, authorization: str, form: Mapping[str, list[str]]) -> RegisteredClient:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise Refusal("invalid_client", "only Basic client authentication is accepted", 401)
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Refusal("invalid_client", "malformed Basic credentials", 401) from None
        client_id, colon, secret = decoded.partition(":")
        if not colon:
            raise Refusal("invalid_client", "malformed Basic credentials", 401)
        client = self._client(unquote_plus(client_id))
        if "client_id" in form and _one(form, "client_id") != client.client_id:
            raise Refusal("invalid_request", "client_id differs from the authenticated client")
        self._check_secret(client, unquote_plus(secret))
        return client

    def _assertion(self, form: Mapping[str, list[str]]) -> RegisteredClient:
        if _one(form, "client_assertion_type") != ASSERTION_TYPE:
            raise Refusal("invalid_client", "client_assertion_type must be jwt-bearer", 401)
        assertion = _one(form, "client_assertion") or ""
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refusal("invalid_client", "the client assertion is not a JWT", 401) from None
        iss = unverified.get("iss")
        client = self._client(iss if isinstance(iss, str) else None)
        if "client_id" in form and _one(form, "client_id") != client.client_id:
            raise Refusal("invalid_client", "client_id differs from the assertion's iss", 401)
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in (
            "client-authentication+jwt",
            "application/client-authentication+jwt",
            "jwt",
        ):
            raise Refusal("invalid_client", "the assertion's typ names another kind of JWT", 401)
        claims = self._verified_assertion(client, assertion, header)
        if claims.get("sub") != client.client_id or claims.get("iss") != client.client_id:
            raise Refusal("invalid_client", "the assertion's iss and sub must be the client", 401)
        self._check_assertion_audience(client, claims.get("aud"))
        iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Refusal("invalid_client", "the assertion has no jti", 401)
        if (
            not isinstance(iat, (int, float))
            or not isinstance(exp, (int, float))
            or exp - iat > MAX_ASSERTION_LIFETIME
        ):
            raise Refusal("invalid_client", "the assertion lives too long (iat to exp)", 401)
        now = time.time()
        with self._lock:
            self._seen_jtis = {key: ends for key, ends in self._seen_jtis.items() if ends > now}
            replay_key = f"{client.client_id} {jti}"
            if replay_key in self._seen_jtis:
                raise Refusal("invalid_client", "the assertion was used before (jti)", 401)
            self._seen_jtis[replay_key] = float(exp) + 60
        return client

    def _verified_assertion(
        self, client: RegisteredClient, assertion: str, header: Mapping[str, Any]
    ) -> dict[str, Any]:
        if header.get("alg") not in _ASSERTION_ALGS or not client.keys:
            raise Refusal("invalid_client", "the assertion's alg or key is not accepted", 401)
        kid = header.get("kid")
        keys = [key for key in client.keys if kid is None or getattr(key, "kid", kid) == kid]
        for key in keys or client.keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    assertion,
                    public_key_of(key),
                    algorithms=[str(header["alg"])],
                    options={"verify_aud": False, "require": ["exp", "iat", "iss", "sub"]},
                    leeway=5,
                )
            except jwt.ExpiredSignatureError:
                raise Refusal("invalid_client", "the assertion has expired", 401) from None
            except (jwt.PyJWTError, TypeError, ValueError):  # a key of another type, too
                continue
            return claims
        raise Refusal("invalid_client", "the assertion's signature does not verify", 401)

    def _check_assertion_audience(self, client: RegisteredClient, aud: Any) -> None:
        """The issuer identifier as the only value (draft-ietf-oauth-rfc7523bis)."""
        expected = self.issuer.issuer if client.assertion_audience == "issuer" else self.url
        values = aud if isinstance(aud, list) else [aud]
        if values != [expected]:
            raise Refusal(
                "invalid_client",
                f"the assertion's aud must be {expected} as its only value",
                401,
            )

    # -- grants ----------------------------------------------------------------------------

    def _grant(
        self, client: RegisteredClient, form: Mapping[str, list[str]], jkt: str | None = None
    ) -> dict[str, Any]:
        grant = _one(form, "grant_type")
        if grant not in GRANTS:
            raise Refusal(
                "unsupported_grant_type", f"grant_type {str(grant)[:60]!r} is not offered"
            )
        if grant not in client.grant_types:
            raise Refusal("unauthorized_client", f"the client may not use {grant}")
        scopes = (_one(form, "scope") or "").split()
        targets, scopes = self._targets(form, scopes, on_behalf_of=grant == JWT_BEARER)
        bound = {"cnf": {"jkt": jkt}} if jkt is not None else {}
        if grant == "client_credentials":
            return self._issue(client, client.client_id, targets, scopes, None, bound)
        if grant == TOKEN_EXCHANGE:
            subject = self._subject(_one(form, "subject_token"), _one(form, "subject_token_type"))
            requested = _one(form, "requested_token_type") or ACCESS_TOKEN_TYPE
            if requested not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
                raise Refusal("invalid_request", "only access tokens are issued here")
            extra: dict[str, Any] = dict(bound)
            if "actor_token" in form:
                actor = self._subject(_one(form, "actor_token"), _one(form, "actor_token_type"))
                extra["act"] = {"sub": actor.get("sub")}
            return self._issue(client, subject.get("sub"), targets, scopes, requested, extra)
        if _one(form, "requested_token_use") != "on_behalf_of":
            raise Refusal("invalid_request", "requested_token_use=on_behalf_of is required")
        if not scopes and not targets:
            raise Refusal("invalid_request", "on-behalf-of needs a scope")
        subject = self._subject(_one(form, "assertion"), ACCESS_TOKEN_TYPE)
        return self._issue(client, subject.get("sub"), targets, scopes, None, bound)

    def _targets(
        self, form: Mapping[str, list[str]], scopes: list[str], *, on_behalf_of: bool
    ) -> tuple[list[str], list[str]]:
        targets = list(form.get("audience", []))
        for resource in form.get("resource", []):
            parts = urlsplit(resource)
            if not parts.scheme or not parts.netloc or "#" in resource:
                raise Refusal("invalid_target", "resource must be an absolute URI, no fragment")
            targets.append(resource)
        kept = []
        for scope in scopes:
            # Entra's spelling: <API>/.default, and (on-behalf-of) <API>/<permission>.
            api, slash, name = scope.rpartition("/")
            if slash and api and (name == ".default" or (on_behalf_of and "://" in api)):
                targets.append(api)
                if name != ".default":
                    kept.append(name)
            else:
                kept.append(scope)
        return list(dict.fromkeys(targets)), kept

    def _subject(self, token: str | None, token_type: str | None) -> dict[str, Any]:
        if not token or token_type not in (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
            raise Refusal("invalid_request", "a subject token and its type are required")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.issuer.signing_keys.get(kid) if isinstance(kid, str) else None
            if key is None or kid not in self.issuer.published:
                raise Refusal("invalid_grant", "the subject token is not signed by this issuer")
            claims: dict[str, Any] = jwt.decode(
                token,
                key.private_key.public_key(),
                algorithms=_ASSERTION_ALGS,
                options={"verify_aud": False, "require": ["exp", "iss"]},
                issuer=self.issuer.issuer,
            )
        except jwt.PyJWTError:
            raise Refusal("invalid_grant", "the subject token is invalid or expired") from None
        return claims

    def _issue(
        self,
        client: RegisteredClient,
        subject: Any,
        targets: list[str],
        scopes: list[str],
        issued_token_type: str | None,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        if client.audiences is not None:
            refused = [target for target in targets if target not in client.audiences]
            if refused:
                raise Refusal("invalid_target", f"the client may not ask for {refused[0][:100]}")
        if not targets:
            if client.require_audience:
                raise Refusal(
                    "access_denied",
                    "No audience parameter was provided, and no default audience has been "
                    "configured",
                    403,
                )
            targets = [client.default_audience or self.issuer.audience]
        if client.scopes is not None:
            refused = [scope for scope in scopes if scope not in client.scopes]
            if refused:
                raise Refusal("invalid_scope", f"scope {refused[0][:60]} is not granted")
        token = self.issuer.mint(
            sub=subject if isinstance(subject, str) else client.client_id,
            aud=targets[0] if len(targets) == 1 else targets,
            scopes=scopes or None,
            expires_in=self.token_lifetime,
            client_id=client.client_id,
            **extra,
        )
        answer: dict[str, Any] = {
            "access_token": token,
            "token_type": "DPoP" if "cnf" in extra else "Bearer",
            "expires_in": self.token_lifetime,
        }
        if scopes:
            answer["scope"] = " ".join(scopes)
        if issued_token_type is not None:
            answer["issued_token_type"] = issued_token_type
        return answer


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None
