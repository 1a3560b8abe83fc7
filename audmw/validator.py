"""``TokenValidator``: is this a current access token, from a trusted issuer, for this API?

The checks are written once, as a function that returns the issuer's keys instead of a token
when they must be fetched first (then it runs again, with them); ``validate`` and
``validate_async`` only differ in how they fetch.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

import httpx
from jwt.algorithms import Algorithm, get_default_algorithms

from audmw import diagnostics, jws
from audmw.cache import VerifiedTokens
from audmw.errors import AuthError, InvalidToken, KeysUnavailable
from audmw.keys import IssuerKeys, VerificationKey
from audmw.settings import HMAC_ALGORITHMS, TENANT_PLACEHOLDER, Settings
from audmw.token import CLIENT_ID_CLAIMS, AccessToken
from audmw.verifier import PendingToken, pending_token

_ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()
# RFC 9864's Ed25519 and Ed448 verify as EdDSA does; the key's curve is bound to the name.
_ALGORITHMS.update(dict.fromkeys(("Ed25519", "Ed448"), _ALGORITHMS["EdDSA"]))
_ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_ALLOWED_TYPES = _ACCESS_TOKEN_TYPES | {"jwt", "application/jwt"}
_NO_SCOPES: frozenset[str] = frozenset()
_EMPTY_WORD = frozenset({""})
_verified_token = AccessToken.verified
_MAX_KID = 256
# Claims that may mark an ID token ("token_use" is Cognito's, the body "typ" Keycloak's marker).
_ID_TOKEN_MARKS = frozenset({"nonce", "at_hash", "c_hash", "token_use", "typ"})
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

_KeysWanted = tuple[IssuerKeys, int]
# Introspection answers only about the issuer's access tokens: no ID-token heuristics apply.
_VOUCHED_HEADER: Mapping[str, Any] = MappingProxyType({"typ": "at+jwt"})


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by name, or a nested one by dotted path (``realm_access.roles``).

    A member name may itself contain dots (``resource_access.api.example.com.roles``, where
    the client is ``api.example.com``): the longest name present at each level wins.
    """
    if path in claims:
        return claims[path]
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in claims:
            inner = claims[head]
            if isinstance(inner, Mapping):
                found = _claim(inner, ".".join(parts[cut:]))
                if found is not None:
                    return found
    return None


def _same(value: Any, wanted: Any) -> bool:
    """JSON equality: ``true`` is not ``1``, ``"1"`` is not ``1``."""
    if isinstance(wanted, bool) or isinstance(value, bool):
        return value is wanted
    if isinstance(wanted, str):
        return isinstance(value, str) and value == wanted
    return type(value) in (int, float) and value == wanted


_NUMBERS = (int, float)  # by exact type: excludes bool, str and null (RFC 7519 §2)
_ABSENT: Any = object()
_DATE_LIMIT = float(2**53)  # seconds; beyond it a NumericDate is not a time (and inf, NaN fail)


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    if name not in claims:
        return None
    value = claims[name]
    if type(value) not in _NUMBERS:
        raise InvalidToken(f"bad_{name}", hint=f"{name} is not a JSON number")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    if not -_DATE_LIMIT < number < _DATE_LIMIT:  # also refuses 1e400, which parses as inf
        raise InvalidToken(f"bad_{name}", hint=f"{name} is not a plausible time")
    return number


class TokenValidator:
    """Validates access tokens for one ``Settings``; thread-safe, and safe in any event loop.

    A ``Verifier``: ``verify``/``verify_async`` check a token in full and remember it in
    ``cache`` (a ``VerifiedTokens``, given or made here), which ``validate`` looks in first.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        cache: VerifiedTokens | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._algorithms = frozenset(settings.algorithms)
        self._audiences = frozenset(settings.audience)
        self._leeway = settings.leeway
        self.max_token_bytes = settings.max_token_bytes
        self.cache = cache or VerifiedTokens(
            settings.token_cache_size, leeway=settings.leeway, clock=clock
        )
        self._remember = self.cache.remember if self.cache.size else None
        self._key = self.cache.key
        self._cached = self.cache.get
        self._headers: dict[bytes, dict[str, Any]] = {}
        self._scope_claims = settings.scope_claims
        # (name, dotted): a dotted name may also be a path into nested claims.
        self._scope_lookup = tuple((name, "." in name) for name in settings.scope_claims)
        self._client_ids = frozenset(settings.client_ids)
        self._types = _ACCESS_TOKEN_TYPES if settings.require_at_jwt else _ALLOWED_TYPES
        self._check_id_tokens = not settings.accept_id_tokens
        self._audience_claim = settings.audience_claim
        self._required_claims = settings.required_claims
        self._require_any_claim = settings.require_any_claim
        self._allowed_tenants = frozenset(t.lower() for t in settings.allowed_tenants)
        shared = None
        if settings.jwks_uri is not None:
            shared = IssuerKeys(
                settings.issuer[0],
                settings,
                transport=transport,
                async_transport=async_transport,
                clock=clock,
            )
        self.keys: dict[str, IssuerKeys] = {
            issuer: shared
            or IssuerKeys(
                issuer,
                settings,
                transport=transport,
                async_transport=async_transport,
                clock=clock,
            )
            for issuer in settings.issuer
        }
        # Exact issuers are one dict lookup; templates ({tenantid}) are tried only on a miss.
        self._exact: dict[str, IssuerKeys] = {
            issuer: keys for issuer, keys in self.keys.items() if TENANT_PLACEHOLDER not in issuer
        }
        self._templates: list[tuple[str, str, str, IssuerKeys]] = []
        for template in settings.issuer_templates:
            prefix, _, suffix = template.partition(TENANT_PLACEHOLDER)
            self._templates.append((template, prefix, suffix, self.keys[template]))

    # -- public API ------------------------------------------------------------------------

    def validate(self, token: str | bytes) -> AccessToken:
        """The verified ``AccessToken``, or an ``AuthError`` (logged with its reason)."""
        if type(token) is str and len(token) <= self.max_token_bytes and token.isascii():
            # The usual call: a hit costs the digest and the lookup, nothing allocated.
            raw = token.encode("ascii")
            key = self._key(raw)
            cached = self._cached(key)
            if cached is not None:
                return cached
            return self.verify(PendingToken(raw, key))
        pending = pending_token(token, self.max_token_bytes)
        cached = self._cached(pending.key)
        if cached is not None:
            return cached
        return self.verify(pending)

    async def validate_async(self, token: str | bytes) -> AccessToken:
        """``validate`` for async code: key fetches never block the event loop."""
        pending = pending_token(token, self.max_token_bytes)
        cached = self._cached(pending.key)
        if cached is not None:
            return cached
        return await self.verify_async(pending)

    def verify(self, pending: PendingToken) -> AccessToken:
        """The full checks of a token not looked up (or not found) in the cache."""
        raw, digest = pending
        try:
            result = self._checks(raw, digest, None)
            if isinstance(result, tuple):
                keys, generation = result
                keys.refresh(generation)
                result = self._checks(raw, digest, keys)
        except AuthError as error:
            diagnostics.log_refusal(error, digest[:8].hex())
            raise
        return cast(AccessToken, result)  # a second run uses the keys as they are

    async def verify_async(self, pending: PendingToken) -> AccessToken:
        raw, digest = pending
        try:
            result = self._checks(raw, digest, None)
            if isinstance(result, tuple):
                keys, generation = result
                await keys.refresh_async(generation)
                result = self._checks(raw, digest, keys)
        except AuthError as error:
            diagnostics.log_refusal(error, digest[:8].hex())
            raise
        return cast(AccessToken, result)  # a second run uses the keys as they are

    def check_claims(self, claims: dict[str, Any], iss: str, digest: bytes) -> AccessToken:
        """The claim checks of a verified JWT (times, audience, required claims, scopes) on
        claims an issuer vouched for another way (an introspection answer about its own
        access token), for the token whose digest is ``digest``."""
        return self._check_claims(claims, iss, _VOUCHED_HEADER, digest)

    def _checks(
        self, raw: bytes, digest: bytes, refreshed: IssuerKeys | None
    ) -> AccessToken | _KeysWanted:
        """The verified token, or the issuer's keys (and their generation) to refresh first.

        ``refreshed``: the keys just refreshed for this token; they are used as they are now.
        """
        header, claims, signing_input, signature = jws.parse(raw, self._headers)
        alg = self._check_header(header)

        iss = claims.get("iss")
        if isinstance(iss, str) and iss in self._exact:
            issuer_keys = self._exact[iss]
        else:
            iss, issuer_keys = self._issuer_template(iss, claims, header)

        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or len(kid) > _MAX_KID):
            raise InvalidToken("bad_kid", hint="kid is not a short string")

        algorithm = _ALGORITHMS[alg]
        key: VerificationKey | None = None
        keys: IssuerKeys | None = None
        if alg in HMAC_ALGORITHMS:
            assert self.settings.hmac_secret is not None  # Settings guarantees it
            verified = algorithm.verify(signing_input, self.settings.hmac_secret, signature)
        else:
            keys = issuer_keys
            generation = keys.generation
            candidates, kid_known = keys.candidates(kid, alg)
            if keys is not refreshed and (
                keys.should_refresh(self._clock(), kid_known)
                # A fetch under way, or ended since the candidates were read (a rotation seen
                # by many requests at once): wait for it and look again rather than refuse a
                # kid the new set may hold.
                or (not kid_known and (keys.fetching or keys.generation != generation))
            ):
                return keys, generation
            if not candidates:
                if not keys.loaded or (keys.failed_at is not None and not kid_known):
                    raise KeysUnavailable(
                        retry_after=keys.retry_after(self._clock()),
                        hint=f"no keys of {iss} are available to verify the token",
                    )
                if kid_known:
                    raise InvalidToken(
                        "key_alg_mismatch",
                        hint=f"key {diagnostics.shown(kid)} is not published for {alg}",
                    )
                raise InvalidToken(
                    "unknown_kid", hint=f"kid {diagnostics.shown(kid)} is not in the JWKS of {iss}"
                )
            verified = False
            for candidate in candidates:
                if algorithm.verify(signing_input, candidate.key, signature):
                    key, verified = candidate, True
                    break
        if not verified:
            hint = diagnostics.signature_hint(header)
            raise InvalidToken("bad_signature", hint=hint)
        if key is not None and key.issuer is not None:
            self._check_key_issuer(key, iss, claims)

        access_token = self._check_claims(claims, iss, header, digest)
        if self._remember is not None:
            self._remember(digest, access_token, key, keys)
        return access_token

    def _issuer_template(
        self, iss: Any, claims: Mapping[str, Any], header: Mapping[str, Any]
    ) -> tuple[str, IssuerKeys]:
        """The keys of the issuer template ``iss`` fits with the token's tenant, or a refusal."""
        if isinstance(iss, str):
            fitting = [
                (template, keys)
                for template, prefix, suffix, keys in self._templates
                if len(iss) > len(prefix) + len(suffix)
                and iss.startswith(prefix)
                and iss.endswith(suffix)
            ]
            if fitting:
                tid = claims.get("tid")
                if not isinstance(tid, str) or not _GUID.fullmatch(tid):
                    raise InvalidToken(
                        "tid_invalid",
                        hint=f"iss {diagnostics.shown(iss)} fits the issuer {fitting[0][0]!r}, "
                        "but the token's tid is missing or not a GUID",
                    )
                for template, keys in fitting:
                    if template.replace(TENANT_PLACEHOLDER, tid) == iss:
                        if self._allowed_tenants and tid.lower() not in self._allowed_tenants:
                            raise InvalidToken(
                                "tenant_not_allowed",
                                hint=f"tenant {tid} is not in allowed_tenants; add it there if "
                                "this API should accept its users",
                            )
                        return iss, keys
                raise InvalidToken(
                    "iss_mismatch",
                    hint=f"iss {diagnostics.shown(iss)} does not name the token's own tenant "
                    f"(tid {diagnostics.shown(tid)})",
                )
        raise InvalidToken(
            "iss_mismatch",
            hint=diagnostics.issuer_hint(iss, self.settings.issuer, header=header),
        )

    def _check_key_issuer(self, key: VerificationKey, iss: str, claims: Mapping[str, Any]) -> None:
        """A key published with its own ``issuer`` (Entra ID) verifies only that issuer's tokens."""
        tid = claims.get("tid")
        tenant = tid if isinstance(tid, str) else TENANT_PLACEHOLDER
        bound = key.issuer.replace(TENANT_PLACEHOLDER, tenant) if key.issuer else None
        if bound == iss:
            return
        # Entra ID binds its keys to the v2.0 issuer; a v1.0 token of the same tenant is signed
        # by the same keys. The key still belongs to an issuer trusted for this tenant.
        if isinstance(tid, str) and bound in {
            issuer.replace(TENANT_PLACEHOLDER, tid) for issuer in self.settings.issuer
        }:
            return
        raise InvalidToken(
            "key_issuer_mismatch",
            hint=f"key {key.kid!r} is published for issuer {bound!r}, the token says "
            f"{diagnostics.shown(iss)}",
        )

    def _check_header(self, header: Mapping[str, Any]) -> str:
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidToken(
                "alg_not_allowed",
                hint=f"alg {diagnostics.shown(alg)} is not in "
                f"{', '.join(self.settings.algorithms)}",
            )
        if "crit" in header:
            # No extension is understood here, so any critical one makes the token invalid.
            raise InvalidToken(
                "crit_unsupported",
                hint=f"crit lists {diagnostics.shown(header['crit'])}, none are supported",
            )
        typ = header.get("typ")
        if typ is not None:
            if not isinstance(typ, str):
                raise InvalidToken("typ_not_allowed", hint="typ is not a string")
            if typ.lower() not in self._types:
                raise InvalidToken(
                    "typ_not_allowed",
                    hint=diagnostics.typ_hint(typ)
                    + (
                        "; require_at_jwt accepts only at+jwt"
                        if self.settings.require_at_jwt
                        else ""
                    ),
                )
        elif self.settings.require_at_jwt:
            raise InvalidToken("typ_not_allowed", hint="no typ; require_at_jwt wants at+jwt")
        if "cty" in header:
            raise InvalidToken("nested_jwt", hint="a nested JWT (cty) is not an access token")
        return alg

    def _check_claims(
        self, claims: dict[str, Any], iss: str, header: Mapping[str, Any], digest: bytes
    ) -> AccessToken:
        now = self._clock()
        leeway = self._leeway
        get = claims.get
        exp: Any = get("exp")
        nbf: Any = get("nbf", _ABSENT)
        iat: Any = get("iat", _ABSENT)
        fast = (
            type(exp) in _NUMBERS
            and (nbf is _ABSENT or type(nbf) in _NUMBERS)
            and (iat is _ABSENT or type(iat) in _NUMBERS)
        )
        if fast:
            try:
                exp = float(exp)
                nbf = None if nbf is _ABSENT else float(nbf)
                iat = None if iat is _ABSENT else float(iat)
            except OverflowError:
                fast = False
            else:
                fast = (
                    -_DATE_LIMIT < exp < _DATE_LIMIT
                    and (nbf is None or -_DATE_LIMIT < nbf < _DATE_LIMIT)
                    and (iat is None or -_DATE_LIMIT < iat < _DATE_LIMIT)
                )
        if not fast:
            # A refusal: the same checks one claim at a time, in order, give the reason.
            exp = _numeric_date(claims, "exp")
            nbf = _numeric_date(claims, "nbf")
            iat = _numeric_date(claims, "iat")
            if exp is None:
                raise InvalidToken("exp_missing", hint="the token has no exp")
        if exp + leeway <= now:
            raise InvalidToken(
                "expired",
                hint=f"expired {int(now - exp)} s ago (leeway {int(leeway)} s); the client must "
                "get a new token",
            )
        if nbf is not None and nbf - leeway > now:
            raise InvalidToken("not_yet_valid", hint=f"nbf is {int(nbf - now)} s in the future")
        if iat is not None and iat - leeway > now:
            raise InvalidToken(
                "iat_in_future", hint=f"iat is {int(iat - now)} s in the future; check clocks"
            )

        typ = header.get("typ")
        if (
            self._check_id_tokens
            and not (isinstance(typ, str) and typ.lower() in _ACCESS_TOKEN_TYPES)
            and (not _ID_TOKEN_MARKS.isdisjoint(claims) or self._client_ids)
        ):
            why = diagnostics.id_token_signs(claims, self._client_ids)
            if why is not None:
                raise InvalidToken(
                    "id_token",
                    hint=f"this is an OpenID Connect ID token ({why}), not an access token; "
                    "send the access token",
                )

        aud = claims.get(self._audience_claim)
        if isinstance(aud, str):
            audience: tuple[str, ...] = (aud,)
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            audience = tuple(aud)
        elif aud is None:
            raise InvalidToken(
                "aud_missing",
                hint=diagnostics.audience_hint(None, self.settings.audience, self._audience_claim),
            )
        else:
            raise InvalidToken(
                "aud_invalid", hint=f"{self._audience_claim} is not a string or a list of strings"
            )
        if self._audiences.isdisjoint(audience):
            raise InvalidToken(
                "aud_mismatch",
                hint=diagnostics.audience_hint(
                    aud, self.settings.audience, self._audience_claim, self.settings.resource
                ),
            )
        if self._required_claims:
            self._check_required_claims(claims)
        if self._require_any_claim and not any(
            _claim(claims, name) not in (None, "", [], {}) for name in self._require_any_claim
        ):
            raise InvalidToken(
                "claim_missing", hint=diagnostics.any_claim_hint(self._require_any_claim)
            )

        scopes: frozenset[str] = _NO_SCOPES
        for name, dotted in self._scope_lookup:
            value = get(name, _ABSENT)
            if value is _ABSENT:
                if not dotted:
                    continue
                value = _claim(claims, name)
            if type(value) is str:
                # Only the space separates scope tokens (RFC 6749 §3.3), not tabs or controls.
                words = frozenset(value.split(" "))
                if "" in words:
                    words = words - _EMPTY_WORD
                scopes = words if scopes is _NO_SCOPES else scopes | words
            elif type(value) is list:
                scopes = scopes.union([v for v in value if type(v) is str])
        client_id = None
        for name in CLIENT_ID_CLAIMS:
            value = get(name)
            if type(value) is str:
                client_id = value
                break
        sub, jti = get("sub"), get("jti")
        return _verified_token(
            MappingProxyType(claims),
            sub if isinstance(sub, str) else None,
            iss,
            audience,
            scopes,
            client_id,
            exp,
            jti if isinstance(jti, str) else None,
            nbf,
            digest[:8].hex(),
        )

    def _check_required_claims(self, claims: Mapping[str, Any]) -> None:
        for name, allowed in self._required_claims:
            value = _claim(claims, name)
            if value is None:
                raise InvalidToken(
                    "claim_missing",
                    hint=f"the token has no {name}; expected {diagnostics.choices(allowed)}",
                )
            if not any(_same(value, wanted) for wanted in allowed):
                value_shown = (
                    diagnostics.shown(value)
                    if isinstance(value, (str, int, float, bool))
                    else "another value"
                )
                raise InvalidToken(
                    "claim_mismatch",
                    hint=f"{name} is {value_shown}, expected {diagnostics.choices(allowed)}",
                )
