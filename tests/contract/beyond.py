"""Requirements beyond scopes, the same in every app: the user's authentication (RFC 9470),
authorization details (RFC 9396) and the kind of token (RFC 9700 §4.15).

Each route is marked with the adapter's own decorators (FastAPI also through its Security
dependencies); ``EXPECTED`` is the exact answer each token gets. Nothing here imports a web
framework, so the apps and the tests share it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PREFIX = "/beyond"
# A scope rule on one of the routes, with requirements beyond scopes (added to spec.RULES).
RULE: Mapping[str, object] = {
    "methods": ["GET"],
    "path": PREFIX + "/ruled",
    "acr_values": ["phrh"],
    "token_kind": "user",
}


def small_payment(entry: Mapping[str, Any]) -> bool:
    """A payment of at most 100 (in any currency, for the test's sake)."""
    amount = entry["instructedAmount"]["amount"]
    return isinstance(amount, int | float) and not isinstance(amount, bool) and amount <= 100


@dataclass(frozen=True)
class Use:
    """One decorator of the adapter applied to the view: ``name(*args, **kwargs)(view)``, or
    ``name(view)`` for a bare one."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    bare: bool = False


ROUTES: Mapping[str, tuple[Use, ...]] = {
    "acr": (Use("require_authentication", kwargs={"acr_values": ["phr", "phrh"]}),),
    "max-age": (Use("require_authentication", kwargs={"max_age": 300}),),
    "scoped-step-up": (Use("require_scopes", ("pay",), {"acr_values": ["phrh"], "max_age": 600}),),
    # Two marks combine: the acr values in common, the shorter age.
    "stacked": (
        Use("require_authentication", kwargs={"acr_values": ["phr", "phrh"], "max_age": 3000}),
        Use("require_authentication", kwargs={"acr_values": ["phrh"], "max_age": 600}),
    ),
    # @public never opens a view that asks for a requirement.
    "public-step-up": (
        Use("public", bare=True),
        Use("require_authentication", kwargs={"max_age": 300}),
    ),
    "payment": (Use("require_authorization_details", ("payment_initiation", small_payment)),),
    "user": (Use("require_user", bare=True),),
    "app": (Use("require_app", bare=True),),
    "ruled": (),  # RULE asks
}

# A class-based view (Starlette's HTTPEndpoint, DRF's APIView, Flask's MethodView; in
# FastAPI an APIRouter's dependencies) whose class asks for one thing and whose GET handler
# for another: the levels combine as marks on one function do.
CLASS_ROUTE = "class-levels"
CLASS_USES = (
    Use("require_authentication", kwargs={"acr_values": ["phr", "phrh"], "max_age": 3000}),
)
HANDLER_USES = (Use("require_authentication", kwargs={"acr_values": ["phrh"], "max_age": 600}),)

# FastAPI routes that ask through a Security dependency instead: the function's name in
# audmw.fastapi, its arguments.
FASTAPI_DEPENDENCIES: Mapping[str, tuple[str, tuple[Any, ...], Mapping[str, Any]]] = {
    "acr": ("RequireAuthentication", (), {"acr_values": ["phr", "phrh"]}),
    "scoped-step-up": ("RequireScopes", ("pay",), {"acr_values": ["phrh"], "max_age": 600}),
    "payment": ("RequireAuthorizationDetails", ("payment_initiation", small_payment), {}),
    "user": ("RequireUser", (), {}),
    "app": ("RequireApp", (), {}),
}


def path_of(route: str) -> str:
    return f"{PREFIX}/{route}"


def view_name(route: str) -> str:
    return f"beyond/{route}"


def apply_uses(
    target: Any, uses: tuple[Use, ...], decorators: Mapping[str, Callable[..., Any]]
) -> Any:
    for use in uses:
        decorator = decorators[use.name]
        if use.bare:
            decorator(target)
        else:
            decorator(*use.args, **use.kwargs)(target)
    return target


DECORATOR_NAMES = (
    "public",
    "require_scopes",
    "require_authentication",
    "require_authorization_details",
    "require_user",
    "require_app",
)


def decorators_of(module: Any) -> dict[str, Callable[..., Any]]:
    return {name: getattr(module, name) for name in DECORATOR_NAMES}


# -- tokens ----------------------------------------------------------------------------------------


def payment(amount: object) -> dict[str, Any]:
    return {
        "type": "payment_initiation",
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "creditorAccount": {"iban": "DE02100100109307118603"},
    }


FRESH, OLD = 5, 3600  # seconds since the user authenticated


def token_claims(now: float) -> dict[str, dict[str, Any]]:
    """Token name -> ``LocalIssuer.mint`` arguments. Without ``sub`` or ``client_id`` given,
    LocalIssuer's (a user and a client) make a user's token."""
    return {
        "plain": {"scopes": ["profile"]},
        "phr": {"scopes": ["pay"], "acr": "phr", "auth_time": int(now) - FRESH},
        "phrh": {"scopes": ["pay"], "acr": "phrh", "auth_time": int(now) - FRESH},
        "phrh-old": {"scopes": ["pay"], "acr": "phrh", "auth_time": int(now) - OLD},
        "phrh-unscoped": {"scopes": ["profile"], "acr": "phrh", "auth_time": int(now) - FRESH},
        "pay-50": {"authorization_details": [payment(50)]},
        "pay-500": {"authorization_details": [payment(500)]},
        "pay-text": {"authorization_details": [payment("50")]},
        "accounts": {"authorization_details": [{"type": "account_information"}]},
        "app": {"sub": None, "client_id": "svc"},  # no user at all
        "app-named": {"sub": "svc", "client_id": "svc"},  # RFC 9068 §2.2
        "kind-unknown": {"sub": "alice", "client_id": None},
    }


# -- answers ---------------------------------------------------------------------------------------

STEP_UP = "The user authentication does not meet the requirements of this resource"
RECENT = "A more recent authentication is required"
NO_SCOPE = "The access token lacks the scope this resource requires"
NO_DETAILS = "The access token lacks the authorization details this resource requires"
FOR_USER = "This resource requires an access token issued for a user"
FOR_APP = "This resource requires an access token a client obtained for itself"


# The DPoP challenge that follows the Bearer one (DPoP is allowed by default, RFC 9449 §7.1).
DPOP = ', DPoP algs="ES256 ES384 ES512 EdDSA PS256 RS256"'


@dataclass(frozen=True)
class Answer:
    """A refusal: status, the exact ``WWW-Authenticate`` and the JSON body."""

    status: int
    challenge: str
    body: Mapping[str, Any] | None


def _refusal(status: int, error: str, description: str, **extra: Any) -> Answer:
    params = [f'error="{error}"', f'error_description="{description}"']
    body: dict[str, Any] = {"error": error, "error_description": description}
    for name, value in extra.items():
        params.append(f'{name}="{value}"')
        body[name] = value
    return Answer(status, "Bearer " + ", ".join(params) + DPOP, body)


def step_up(description: str, **extra: Any) -> Answer:
    return _refusal(401, "insufficient_user_authentication", description, **extra)


BARE = Answer(401, "Bearer" + DPOP, None)
OK = None
DETAILS = _refusal(403, "insufficient_authorization_details", NO_DETAILS)
USER_NEEDED = _refusal(403, "insufficient_scope", FOR_USER)
APP_NEEDED = _refusal(403, "insufficient_scope", FOR_APP)

EXPECTED: Mapping[str, Mapping[str, Answer | None]] = {
    "acr": {
        "none": BARE,
        "plain": step_up(STEP_UP, acr_values="phr phrh"),
        "app": step_up(STEP_UP, acr_values="phr phrh"),
        "phr": OK,
        "phrh": OK,
        "phrh-old": OK,
    },
    "max-age": {
        "plain": step_up(RECENT, max_age=300),
        "phrh-old": step_up(RECENT, max_age=300),
        "phrh": OK,
    },
    "scoped-step-up": {
        "none": BARE,
        "plain": step_up(STEP_UP, acr_values="phrh", max_age=600),
        "phr": step_up(STEP_UP, acr_values="phrh", max_age=600),
        "phrh-old": step_up(RECENT, acr_values="phrh", max_age=600),
        "phrh-unscoped": _refusal(403, "insufficient_scope", NO_SCOPE, scope="pay"),
        "phrh": OK,
    },
    "stacked": {
        "phr": step_up(STEP_UP, acr_values="phrh", max_age=600),
        "phrh-old": step_up(RECENT, acr_values="phrh", max_age=600),
        "phrh": OK,
    },
    "public-step-up": {
        "none": BARE,
        "plain": step_up(RECENT, max_age=300),
        "phrh": OK,
    },
    "payment": {
        "none": BARE,
        "plain": DETAILS,
        "pay-500": DETAILS,
        "pay-text": DETAILS,
        "accounts": DETAILS,
        "pay-50": OK,
    },
    "user": {
        "app": USER_NEEDED,
        "app-named": USER_NEEDED,
        "kind-unknown": USER_NEEDED,
        "plain": OK,
    },
    "app": {
        "plain": APP_NEEDED,
        "kind-unknown": APP_NEEDED,
        "app": OK,
        "app-named": OK,
    },
    CLASS_ROUTE: {
        "phr": step_up(STEP_UP, acr_values="phrh", max_age=600),
        "phrh-old": step_up(RECENT, acr_values="phrh", max_age=600),
        "none": BARE,
        "phrh": OK,
    },
    "ruled": {
        "phr": step_up(STEP_UP, acr_values="phrh"),
        "app": USER_NEEDED,  # the kind of token first
        "phrh": OK,
    },
}
