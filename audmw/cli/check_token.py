"""``audmw check``: run the real validator on a token and show each check with its outcome.

The verdict, the reason code and the fix all come from ``TokenValidator`` and ``Requirement``
themselves; this module only lays them out. Checks are listed in the order the validator runs
them, so those before the failing one passed and those after it were not reached.
"""

from __future__ import annotations

import argparse
import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from audmw.cache import VerifiedTokens
from audmw.cli.console import Console, UsageError, read_token, safe, shown
from audmw.cli.inspect_token import fields
from audmw.errors import (
    AuthError,
    ConfigurationError,
    InsufficientAuthorizationDetails,
    InsufficientScope,
    InsufficientUserAuthentication,
    KeysUnavailable,
    RequirementNotMet,
)
from audmw.guard import Guard
from audmw.inspection import inspect_token, iso_time, relative_time
from audmw.introspection import IntrospectionEndpoint, IntrospectionVerifier
from audmw.keys import IssuerKeys
from audmw.request import IncomingRequest
from audmw.requirements import DetailRequirement, Requirement
from audmw.settings import DECLARED, ENV_PREFIX, HMAC_ALGORITHMS, PROVIDER_KEY, Setting, Settings
from audmw.token import AccessToken
from audmw.validator import TokenValidator
from audmw.values import shown as cut_short
from audmw.verifier import PendingToken, pending_token

ACCEPTED, REJECTED, NOT_CHECKED = 0, 1, 2
# The settings offered as options (--issuer, --timeout...), as their declaration says.
SETTING_OPTIONS: tuple[tuple[str, Setting], ...] = tuple(
    (setting.cli_option, setting) for setting in DECLARED if setting.cli_option
)


# The checks of the token's holder: DPoP proof (RFC 9449) and certificate binding (RFC 8705).
HOLDER_REASONS = frozenset(
    {
        "cnf_invalid",
        "dpop_bound_token_as_bearer",
        "dpop_token_unbound",
        "dpop_proof_missing",
        "dpop_proof_multiple",
        "dpop_proof_too_large",
        "dpop_proof_malformed",
        "dpop_bad_typ",
        "dpop_alg_not_allowed",
        "dpop_crit_unsupported",
        "dpop_jwk_missing",
        "dpop_jwk_private",
        "dpop_jwk_alg_mismatch",
        "dpop_jwk_invalid",
        "dpop_bad_signature",
        "dpop_jti_invalid",
        "dpop_htm_mismatch",
        "dpop_htu_mismatch",
        "dpop_iat_invalid",
        "dpop_iat_in_future",
        "dpop_proof_expired",
        "dpop_ath_mismatch",
        "dpop_key_mismatch",
        "dpop_nonce_required",
        "dpop_nonce_stale",
        "client_certificate_missing",
        "client_certificate_invalid",
        "client_certificate_mismatch",
    }
)


@dataclass(frozen=True)
class Check:
    id: str
    label: str
    reasons: frozenset[str]


CHECKS = (
    Check(
        "format",
        "token format",
        frozenset(
            {
                "token_too_large",
                "not_a_jwt",
                "malformed_jwt",
            }
        ),
    ),
    Check("algorithm", "algorithm", frozenset({"alg_not_allowed"})),
    Check(
        "header",
        "typ and header",
        frozenset({"crit_unsupported", "typ_not_allowed", "nested_jwt"}),
    ),
    Check("issuer", "issuer", frozenset({"iss_mismatch", "tid_invalid", "tenant_not_allowed"})),
    Check("keys", "keys fetched", frozenset({"keys_unavailable"})),
    Check("kid", "kid found", frozenset({"bad_kid", "unknown_kid", "key_alg_mismatch"})),
    Check("signature", "signature", frozenset({"bad_signature", "key_issuer_mismatch"})),
    Check(
        "times",
        "exp, nbf, iat",
        frozenset(
            {
                "exp_missing",
                "expired",
                "not_yet_valid",
                "iat_in_future",
                "bad_exp",
                "bad_nbf",
                "bad_iat",
            }
        ),
    ),
    Check("kind", "not an ID token", frozenset({"id_token"})),
    Check("audience", "audience", frozenset({"aud_missing", "aud_invalid", "aud_mismatch"})),
    Check("claims", "required claims", frozenset({"claim_missing", "claim_mismatch"})),
    Check("holder", "sender binding", HOLDER_REASONS),
    Check("token_kind", "user or app", frozenset({"user_token_required", "app_token_required"})),
    Check(
        "authentication",
        "authentication",
        frozenset(
            {
                "acr_not_accepted",
                "auth_time_missing",
                "auth_time_in_future",
                "authentication_too_old",
            }
        ),
    ),
    Check("scopes", "scopes", frozenset({"insufficient_scope"})),
    Check(
        "authorization_details",
        "authz details",
        frozenset({"insufficient_authorization_details"}),
    ),
)
KNOWN_REASONS = frozenset().union(*(check.reasons for check in CHECKS))
_CHECKS_BY_ID = {check.id: check for check in CHECKS}
# An opaque token (or any, with introspection = all) checked at the introspection endpoint:
# the endpoint's answer replaces the JWT's format, header, keys and signature.
INTROSPECTION_CHECKS = (
    Check(
        "introspection",
        "introspection",
        frozenset(
            {
                "token_too_large",
                "not_a_jwt",
                "introspection_unavailable",
                "introspection_failed",
                "introspection_malformed",
                "introspection_client_refused",
                "introspection_endpoint_unknown",
                "introspection_signature_invalid",
                "introspection_cache_malformed",
                "opaque_issuer_unknown",
            }
        ),
    ),
    Check("active", "active", frozenset({"token_inactive"})),
    Check("token_type", "token type", frozenset({"refresh_token"})),
    *(
        _CHECKS_BY_ID[name]
        for name in (
            "issuer",
            "times",
            "audience",
            "claims",
            "holder",
            "token_kind",
            "authentication",
            "scopes",
            "authorization_details",
        )
    ),
)


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        help="validate a token as your API would, and show each check",
        description="Validate a token with audmw's validator, exactly as your API would "
        "(discovery and JWKS fetched over the network), and show each check with its outcome "
        "and, for a failure, the reason code and the fix. Options default to the AUDMW_* "
        "environment. Exit status: 0 accepted, 1 rejected, 2 could not check.",
    )
    parser.add_argument(
        "token", nargs="?", help="the token, or '-' to read stdin (default: stdin, or a prompt)"
    )
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="a scope the route needs (all are needed; repeatable, or space-separated)",
    )
    parser.add_argument(
        "--any-scope",
        action="append",
        default=[],
        metavar="SCOPE",
        help="one of these scopes is needed (repeatable)",
    )
    parser.add_argument(
        "--acr",
        action="append",
        default=[],
        metavar="ACR",
        help="an authentication context class (acr) that will do; one of them is needed "
        "(repeatable, or space-separated; RFC 9470)",
    )
    parser.add_argument(
        "--max-age",
        type=int,
        metavar="SECONDS",
        help="the user must have authenticated (auth_time) at most this long ago (RFC 9470)",
    )
    parser.add_argument(
        "--authorization-details",
        action="append",
        default=[],
        metavar="TYPE",
        help="an authorization_details entry of this type is needed (repeatable; RFC 9396)",
    )
    parser.add_argument(
        "--token-kind",
        choices=("user", "app"),
        help="the token must be issued for a user, or to a client for itself (RFC 9700 §4.15)",
    )
    for option, setting in SETTING_OPTIONS:
        help_text = setting.help.replace("%", "%%")  # argparse formats help with %
        if isinstance(setting.default, bool):
            parser.add_argument(
                option,
                dest=setting.name,
                action="store_true",
                default=None,
                help=help_text,
            )
        else:
            metavar = option.removeprefix("--").upper().replace("-", "_")
            parser.add_argument(option, dest=setting.name, metavar=metavar, help=help_text)
    parser.add_argument(
        "--dpop-proof",
        metavar="PROOF",
        help="the DPoP proof sent with the token (its DPoP header): checked as the API would, "
        "for --method and --url (its jti is not remembered)",
    )
    parser.add_argument(
        "--method", default="GET", help="the request's method, for --dpop-proof (GET)"
    )
    parser.add_argument(
        "--url", help="the request's URL, for --dpop-proof (e.g. https://api.example.com/items)"
    )
    parser.add_argument(
        "--client-cert",
        metavar="FILE",
        help="the client certificate (PEM or DER file) the token is sent with, for a "
        "certificate-bound token",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--show-token", action="store_true", help="also print the token itself (off by default)"
    )
    parser.set_defaults(run=run)


# The settings a check cannot do without: what each is, and a stand-in value that lets the
# other settings be checked while it is missing.
REQUIRED_OPTIONS = {
    "issuer": (
        "the exact 'iss' your provider puts in access tokens, e.g. https://YOUR_TENANT.auth0.com/",
        "https://issuer.invalid/",
    ),
    "audience": (
        "this API's identifier as it appears in the token's 'aud', e.g. https://api.example.com",
        "https://api.invalid",
    ),
}


def settings_from(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The settings from the environment, overridden by the options given.

    A required setting given neither as an option nor in the environment is named as the
    command line knows it (``--issuer``, ``AUDMW_ISSUER``), once every other setting passed.
    """
    overrides = {
        setting.name: getattr(args, setting.name)
        for _, setting in SETTING_OPTIONS
        if getattr(args, setting.name) is not None
    }
    # The resource stands for the audience when no audience is given (Settings' default).
    resource = overrides.get("resource") or environ.get(ENV_PREFIX + "RESOURCE", "").strip()
    missing = [
        setting
        for _, setting in SETTING_OPTIONS
        if setting.name in REQUIRED_OPTIONS
        and setting.name not in overrides
        and not environ.get(setting.env_name, "").strip()
        and not (setting.name == "audience" and resource)
    ]
    if not missing or environ.get(ENV_PREFIX + PROVIDER_KEY):
        return Settings.from_env(environ, **overrides)  # a preset may supply them
    stand_ins = {setting.name: REQUIRED_OPTIONS[setting.name][1] for setting in missing}
    Settings.from_env(environ, **overrides, **stand_ins)  # raises for any other problem
    raise ConfigurationError(
        "; ".join(
            f"no {setting.name} configured: pass {setting.cli_option} with "
            f"{REQUIRED_OPTIONS[setting.name][0]} (or set {setting.env_name})"
            for setting in missing
        )
    )


class _FetchProblems(logging.Handler):
    """Collects why keys could not be fetched (logged by the key cache) while a check runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "audmw_reason", None) == "jwks_fetch_failed":
            self.messages.append(record.getMessage())


def run(args: argparse.Namespace, console: Console) -> int:
    token, notes = read_token(console, args.token)
    for note in notes:
        console.err(note)
    return check(token, args, console)


def check(token: str, args: argparse.Namespace, console: Console) -> int:
    """Check ``token`` with the options of ``args`` (those of this command's parser) and
    print the report; the exit status."""
    try:
        settings = settings_from(args, console.environ)
        acr = " ".join(args.acr).split()
        requirement = Requirement.of(
            " ".join(args.scope).split(),
            " ".join(args.any_scope).split(),
            acr_values=acr or None,
            max_age=args.max_age,
            details=[DetailRequirement(kind) for kind in args.authorization_details],
            kind=args.token_kind,
        )
    except ConfigurationError as problem:
        return _config_error(args, console, str(problem))

    introspection: IntrospectionVerifier | None = None
    target: IntrospectionEndpoint | None = None
    unknown_issuer: AuthError | None = None
    if settings.introspection != "off":
        try:
            introspection = IntrospectionVerifier(settings, clock=console.clock)
        except ConfigurationError as problem:
            return _config_error(args, console, str(problem))
        validator = introspection.jwt_validator
        try:
            target = introspection.endpoint_for(token.encode("utf-8", "replace"))
        except AuthError as refusal:
            unknown_issuer = refusal  # an opaque token no introspected issuer claims
        if target is None and unknown_issuer is None:
            introspection = None  # a JWT checked here, as the API would
    else:
        validator = TokenValidator(settings, clock=console.clock)
    problems = _FetchProblems()
    logger = logging.getLogger("audmw")
    # Our handler also keeps Python's last-resort handler from printing refusals to stderr.
    logger.addHandler(problems)
    access_token: AccessToken | None = None
    error: AuthError | None = None
    try:
        if unknown_issuer is not None:
            raise unknown_issuer
        if introspection is not None:
            verified = introspection.verify(pending_token(token, settings.max_token_bytes))
        else:
            verified = validator.validate(token)
        _check_holder(token, verified, settings, args, console)
        requirement.check(verified, console.clock())
        access_token = verified
    except AuthError as refusal:
        error = refusal
    finally:
        logger.removeHandler(problems)

    report = _report(
        token, settings, requirement, validator, access_token, error, problems, console
    )
    if introspection is not None:
        _introspection_report(
            report, introspection, target, access_token, error, requirement, console
        )
    if args.show_token:
        report["token"]["token"] = token
    if args.json:
        console.json(report)
    else:
        _print(report, console)
    code: int = report["exit_code"]
    return code


def _introspection_report(
    report: dict[str, Any],
    verifier: IntrospectionVerifier,
    target: IntrospectionEndpoint | None,
    access_token: AccessToken | None,
    error: AuthError | None,
    requirement: Requirement,
    console: Console,
) -> None:
    """The checks of a token looked up at the introspection endpoint, in place of a JWT's."""
    details: dict[str, str] = {}
    if access_token is not None:  # a refused answer is not shown: only its reason is
        claims = access_token.claims
        details = _pass_details(
            0, {}, claims, verifier.settings, requirement, verifier.jwt_validator, console.clock()
        )
        token_type = claims.get("token_type")
        details["token_type"] = shown(token_type) if token_type is not None else "not given"
    endpoint = target.endpoint if target is not None else None
    if target is not None:
        details["introspection"] = f"{target.issuer} asked at {endpoint}"
    details["active"] = "true"
    reason = error.reason if error is not None else None
    failed = next((check.id for check in INTROSPECTION_CHECKS if reason in check.reasons), None)
    checks = []
    state = "pass"
    for check in INTROSPECTION_CHECKS:
        detail: str | None = details.get(check.id)
        if error is not None and failed is None:
            status, detail = "unknown", None
        elif check.id == failed:
            status, detail, state = "fail", f"reason {reason}", "not_reached"
        else:
            status = state
            if status == "not_reached":
                detail = None
        checks.append({"id": check.id, "label": check.label, "status": status, "detail": detail})
    report["checks"] = checks
    report["introspection_endpoint"] = endpoint
    if error is not None and report["fix"] is None:
        report["fix"] = error.hint
    if access_token is not None:
        report["token"]["claims"] = dict(access_token.claims)
        report["token"]["verified"] = True


def _holder_request(token: str, args: argparse.Namespace) -> IncomingRequest:
    """The request ``--dpop-proof``, ``--method``, ``--url`` and ``--client-cert`` describe."""
    url = urlsplit(args.url or "")
    certificate = None
    if args.client_cert:
        try:
            data = Path(args.client_cert).read_bytes()
        except OSError as error:
            raise UsageError(f"--client-cert: {error.strerror}: {args.client_cert}") from None
        certificate = (
            data.decode("ascii", "replace")
            if data.lstrip().startswith(b"-----")
            else base64.b64encode(data).decode("ascii")
        )
    scheme = "DPoP" if args.dpop_proof else "Bearer"
    return IncomingRequest(
        args.method.upper(),
        url.path or "/",
        (f"{scheme} {token}",),
        scheme=url.scheme,
        host=url.netloc,
        dpop=(args.dpop_proof,) if args.dpop_proof else (),
        client_certificate=certificate,
    )


def _check_holder(
    token: str,
    verified: AccessToken,
    settings: Settings,
    args: argparse.Namespace,
    console: Console,
) -> None:
    """The holder's checks, as the API makes them (without the replay store)."""
    if args.dpop_proof and not args.url:
        raise UsageError("--dpop-proof needs --url, the URL the request was sent to")
    guard = Guard(settings, validator=_Verified(verified, settings))
    guard.confirm(_holder_request(token, args), verified)


class _Verified:
    """A verifier for a token ``audmw check`` verified already: the Guard's holder checks
    need a Guard, not a second validation."""

    def __init__(self, token: AccessToken, settings: Settings) -> None:
        self.settings = settings
        self.token = token
        self.cache = VerifiedTokens(0)
        self.max_token_bytes = settings.max_token_bytes

    def verify(self, pending: PendingToken) -> AccessToken:
        return self.token

    async def verify_async(self, pending: PendingToken) -> AccessToken:
        return self.token


def check_options(**given: Any) -> argparse.Namespace:
    """Every option of ``audmw check`` at its default, with ``given`` (for another command
    that shows the same report); read from this command's own parser, so none is missed."""
    parser = argparse.ArgumentParser(add_help=False)
    add_parser(parser.add_subparsers(dest="command"))
    options = parser.parse_args(["check"])
    for name, value in given.items():
        setattr(options, name, value)
    return options


def _config_error(args: argparse.Namespace, console: Console, message: str) -> int:
    message = message.removeprefix("audmw: ")  # the command's own prefix says it already
    if args.json:
        console.json({"verdict": "error", "exit_code": NOT_CHECKED, "message": message})
    else:
        console.err(f"audmw {getattr(args, 'command', 'check')}: {message}")
    return NOT_CHECKED


def _report(
    token: str,
    settings: Settings,
    requirement: Requirement,
    validator: TokenValidator,
    access_token: AccessToken | None,
    error: AuthError | None,
    problems: _FetchProblems,
    console: Console,
) -> dict[str, Any]:
    now = console.clock()
    inspection = inspect_token(token, client_ids=settings.client_ids)
    header, claims = inspection.header or {}, inspection.claims or {}
    reason = error.reason if error is not None else None
    failed = next((check.id for check in CHECKS if reason in check.reasons), None)
    details = _pass_details(
        inspection.length, header, claims, settings, requirement, validator, now
    )
    alg = header.get("alg")
    hmac = isinstance(alg, str) and alg in HMAC_ALGORITHMS  # a list or object is unhashable
    fix = _fix(error, header, claims, _keys_used(validator, claims), hmac)

    checks = []
    state = "pass"
    for check in CHECKS:
        detail: str | None = details.get(check.id)
        if error is not None and failed is None:
            status = "unknown"  # a reason this layout does not know: no per-check claims
            detail = None
        elif check.id == failed:
            status, detail, state = "fail", f"reason {reason}", "not_reached"
        elif check.id in ("keys", "kid") and hmac and state == "pass":
            status, detail = "skip", "shared-secret algorithm: no keys to fetch"
        elif reason == "bad_kid" and check.id == "keys":
            status, detail = "not_reached", None  # the kid is checked before any fetch
        else:
            status = state
            if status == "not_reached":
                detail = None
        checks.append({"id": check.id, "label": check.label, "status": status, "detail": detail})

    if error is None:
        verdict, exit_code = "accepted", ACCEPTED
    elif isinstance(error, KeysUnavailable):
        verdict, exit_code = "not_checked", NOT_CHECKED
    else:
        verdict, exit_code = "rejected", REJECTED

    report: dict[str, Any] = {
        "verdict": verdict,
        "exit_code": exit_code,
        "settings": {
            "issuer": list(settings.issuer),
            "audience": list(settings.audience),
            "jwks_uri": settings.jwks_uri,
            "algorithms": list(settings.algorithms),
            "require_at_jwt": settings.require_at_jwt,
            "leeway": settings.leeway,
            "scope_claims": list(settings.scope_claims),
            "required_scopes": {
                "all_of": sorted(requirement.all_of),
                "any_of": [sorted(group) for group in requirement.any_of],
            },
            "requirement": requirement.describe(),
        },
        "checks": checks,
        "reason": reason,
        "status": error.status if error is not None else None,
        "error": error.error if error is not None else None,
        "description": error.description if error is not None else None,
        "hint": error.hint if error is not None else None,
        "fix": fix,
        "retry_after": error.retry_after if isinstance(error, KeysUnavailable) else None,
        "fetch_problems": problems.messages,
        "token": {
            "fingerprint": inspection.fingerprint,
            "format": inspection.format,
            "header": inspection.header,
            "claims": inspection.claims,
            # A refusal for the holder or the route's requirement comes after every check of
            # the token itself passed.
            "verified": error is None
            or isinstance(error, RequirementNotMet)
            or error.reason in HOLDER_REASONS,
        },
        "access_token": None,
        "provider": None,
    }
    if isinstance(error, InsufficientScope):
        report["required_scope"] = list(error.scope)
    if isinstance(error, InsufficientUserAuthentication):
        # What the client asks the authorization server for (RFC 9470 §4).
        report["required_authentication"] = {
            "acr_values": list(error.acr_values),
            "max_age": error.max_age,
        }
    if isinstance(error, InsufficientAuthorizationDetails):
        report["required_authorization_details"] = list(error.types)
    if access_token is not None:
        report["access_token"] = {
            "subject": access_token.subject,
            "issuer": access_token.issuer,
            "audience": list(access_token.audience),
            "scopes": sorted(access_token.scopes),
            "client_id": access_token.client_id,
            "expires_at": access_token.expires_at,
            "token_id": access_token.token_id,
        }
    if inspection.provider is not None:
        report["provider"] = {
            "id": inspection.provider.id,
            "name": inspection.provider.name,
            "pitfalls": list(inspection.provider.pitfalls),
        }
    return report


def _keys_used(validator: TokenValidator, claims: Mapping[str, Any]) -> IssuerKeys | None:
    """The key set the validator looked in for this token, once fetched."""
    iss = claims.get("iss")
    keys = validator.keys.get(iss) if isinstance(iss, str) else None
    if keys is None:  # an issuer template ({tenantid}): the one set this check fetched
        fetched = [candidate for candidate in validator.keys.values() if candidate.loaded]
        keys = fetched[0] if len(fetched) == 1 else None
    return keys if keys is not None and keys.loaded else None


def _fix(
    error: AuthError | None,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    keys: IssuerKeys | None,
    hmac: bool,
) -> str | None:
    """What to do about the refusal: the validator's hint, or more where this check knows more
    (the key set it fetched). The validator's own log lines keep their hints."""
    if error is None:
        return None
    if error.reason == "dpop_bound_token_as_bearer":
        return (
            f"the token is DPoP-bound (cnf.jkt {cut_short(claims.get('cnf', {}).get('jkt'))}): "
            "an API accepts it only as 'Authorization: DPoP' with a proof signed by that key; "
            "to check one, pass --dpop-proof PROOF --method METHOD --url URL"
        )
    if error.reason == "client_certificate_missing":
        return (
            'the token is bound to a client certificate (cnf["x5t#S256"]): pass the '
            "certificate it is sent with as --client-cert FILE"
        )
    if error.reason == "unknown_kid" and keys is not None:
        return _unknown_kid_fix(header.get("kid"), header.get("alg"), keys)
    if error.reason == "bad_signature" and error.hint is None:
        return _bad_signature_fix(header, claims.get("iss"), keys, hmac)
    return error.hint


def _fetched(keys: IssuerKeys) -> str:
    return f"{keys.jwks_uri} (fetched {iso_time(keys.last_attempt)} by this check)"


def _unknown_kid_fix(kid: Any, alg: Any, keys: IssuerKeys) -> str:
    kids = [cut_short(key.kid) for key in keys.keys if key.kid is not None]
    listed = (", ".join(kids[:5]) + (", …" if len(kids) > 5 else "")) if kids else "none"
    if kid is None:  # no kid: no key of the set is for the token's algorithm
        missing = f"no {cut_short(alg)} key is in {_fetched(keys)}"
    else:
        missing = f"kid {cut_short(kid)} is not in {_fetched(keys)}"
    return (
        f"{missing}; its kids: {listed}. The issuer "
        "may have rotated its keys (a token signed with a retired key no longer verifies: get "
        "a new one), or the token comes from another tenant or issuer that signs with keys of "
        "its own (point --jwks-uri at their JWKS)"
    )


def _bad_signature_fix(
    header: Mapping[str, Any], iss: Any, keys: IssuerKeys | None, hmac: bool
) -> str:
    kid = header.get("kid")
    if hmac:
        checked = "the configured shared secret (AUDMW_HMAC_SECRET)"
    elif keys is None:
        checked = "the issuer's keys"
    elif kid is not None:
        checked = f"key {cut_short(kid)} of {_fetched(keys)}"
    else:
        checked = f"any {cut_short(header.get('alg'))} key of {_fetched(keys)}"
    return (
        f"the signature does not verify with {checked}: the token was signed by another "
        "issuer or key (another environment or tenant, or keys made anew under the same kid), "
        f"or changed after signing (edited, or cut short when copied); get a new token from "
        f"{cut_short(iss)}"
    )


def _pass_details(
    length: int,
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    settings: Settings,
    requirement: Requirement,
    validator: TokenValidator,
    now: float,
) -> dict[str, str]:
    """What each check found when it passed (read from the token the validator accepted
    up to that point)."""
    typ, kid, iss = header.get("typ"), header.get("kid"), claims.get("iss")
    details = {
        "format": f"compact JWS, {length} characters",
        "algorithm": f"{shown(header.get('alg'))} is allowed",
        "header": "no typ" if typ is None else f"typ {shown(typ)}",
        "issuer": shown(iss),
        "kid": shown(kid) if kid is not None else "no kid: every key for the algorithm was tried",
        "signature": "verified",
        "kind": "no nonce, at_hash, c_hash or token_use id",
    }
    keys = validator.keys.get(iss) if isinstance(iss, str) else None
    if keys is not None and keys.loaded:
        details["keys"] = f"{len(keys.keys)} keys from {keys.jwks_uri}"
    exp = claims.get("exp")
    if isinstance(exp, (int, float)):
        details["times"] = relative_time("exp", exp, now)
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    matched = [a for a in audiences if a in settings.audience]
    details["audience"] = ", ".join(shown(a) for a in matched)
    cnf = claims.get("cnf")
    bound = []
    if isinstance(cnf, Mapping) and "jkt" in cnf:
        bound.append(f"DPoP key {shown(cnf['jkt'])}: proof verified")
    if isinstance(cnf, Mapping) and "x5t#S256" in cnf:
        bound.append(f"client certificate {shown(cnf['x5t#S256'])}: matches")
    details["holder"] = "; ".join(bound) or "not bound (a bearer token)"
    scoped = Requirement(requirement.all_of, requirement.any_of)
    details["scopes"] = f"has {scoped.describe()}" if scoped else "none required by this check"
    kinds = {"user": "issued for a user", "app": "a client's own (client credentials)"}
    details["token_kind"] = (
        " and ".join(kinds[kind] for kind in sorted(requirement.kinds))
        if requirement.kinds
        else "none required by this check"
    )
    parts = []
    if requirement.acr_values is not None:
        parts.append(f"acr {shown(claims.get('acr'))}")
    auth_time = claims.get("auth_time")
    if requirement.max_age is not None and isinstance(auth_time, int | float):
        parts.append(relative_time("auth_time", auth_time, now))
    details["authentication"] = ", ".join(parts) or "none required by this check"
    details["authorization_details"] = (
        "has " + ", ".join(sorted({detail.type for detail in requirement.details}))
        if requirement.details
        else "none required by this check"
    )
    return details


_WORDS = {
    "pass": ("pass", "pass"),
    "fail": ("FAIL", "fail"),
    "skip": ("skip", "dim"),
    "not_reached": ("----", "dim"),
    "unknown": ("?", "dim"),
}


def _print(report: Mapping[str, Any], console: Console) -> None:
    settings = report["settings"]
    wanted = []
    required = settings["required_scopes"]
    if required["all_of"] or required["any_of"]:
        wanted.append(
            "scopes "
            + " ".join(required["all_of"] + ["(" + " | ".join(g) + ")" for g in required["any_of"]])
        )
    scoped = Requirement.of(required["all_of"])
    for group in required["any_of"]:
        scoped = scoped & Requirement.of(any_of=group)
    if settings["requirement"] != scoped.describe() and settings["requirement"] != (
        "any valid token"
    ):
        wanted = [f"needing {safe(settings['requirement'])}"]
    console.out(
        f"Checking against issuer {', '.join(settings['issuer'])}, "
        f"audience {', '.join(settings['audience'])}" + (f", {wanted[0]}" if wanted else "")
    )
    console.out()
    for check in report["checks"]:
        word, style = _WORDS[check["status"]]
        detail = check["detail"] or ("not reached" if check["status"] == "not_reached" else "")
        console.out(f"  {console.paint(f'{word:<5}', style)} {check['label']:<16} {detail}")
        if check["status"] == "fail":
            if report["fix"]:
                console.out(f"  {'':<5} {'':<16} fix: {safe(report['fix'])}")
            for problem in report["fetch_problems"]:
                console.out(f"  {'':<5} {'':<16} {safe(problem)}")
    console.out()

    verdict = report["verdict"]
    if verdict == "accepted":
        token = report["access_token"]
        scopes = " ".join(token["scopes"]) or "(none)"
        console.out(
            console.paint("Accepted", "pass")
            + f": sub {shown(token['subject'])}, client {shown(token['client_id'])}, "
            f"scopes {safe(scopes)}"
        )
    else:
        status = f"{report['status']} {report['error']}" if report["error"] else report["status"]
        if verdict == "not_checked":
            head = console.paint("Could not check", "warn")
            status = f"{status}, retry after {report['retry_after']} s"
        else:
            head = console.paint("Rejected", "fail")
        console.out(f"{head} ({status}): reason {report['reason']}")
        if report["fix"] and not any(c["status"] == "fail" for c in report["checks"]):
            console.out(f"Fix: {safe(report['fix'])}")

    token = report["token"]
    now = console.clock()
    if token["claims"] is not None:
        console.out()
        verified = "verified" if token["verified"] else "not verified"
        console.out(console.paint("Claims", "bold") + f" ({verified})")
        for line in fields(token["claims"], now):
            console.out(line)
    provider = report["provider"]
    if provider is not None and verdict != "accepted":
        console.out()
        console.out(console.paint("Provider", "bold") + f"   {provider['name']}")
        for pitfall in provider["pitfalls"]:
            console.out(f"  - {safe(pitfall)}")
    if "token" in token:
        console.out()
        console.out(console.paint("Token", "bold"))
        console.out("  " + safe(token["token"]))
