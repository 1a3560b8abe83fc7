"""Settings presets for providers that shape access tokens their own way.

Each preset turns a few provider facts (tenant, domain, realm, user pool…) into ordinary
``Settings`` values: issuer (or issuer template), ``jwks_uri``, audience rule, scope and role
claims. Nothing here is special-cased in the validator, so an unlisted provider is described
with the same settings. Use them through ``Settings.for_provider``, ``AUDMW_PROVIDER`` or
``AUDMW = {"PROVIDER": ...}``; any explicit setting overrides the preset's value.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from audmw.errors import ConfigurationError
from audmw.settings import TENANT_PLACEHOLDER, _comma_strings, _flag

Preset = Callable[..., dict[str, Any]]

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_MULTI_TENANT = ("common", "organizations", "consumers")
_ENTRA_VERSIONS = ("1.0", "2.0")
_COGNITO_POOL = re.compile(r"([a-z]{2}(?:-[a-z]+)+-\d+)_[A-Za-z0-9]+")


def _required(value: Any, provider: str, name: str, example: str) -> str:
    text = str(value).strip() if value is not None else ""
    if not text:
        raise ConfigurationError(
            f"audmw: the {provider} preset needs {name}= (AUDMW_{name.upper()}), e.g. {example}"
        )
    return text


def _host(value: Any, provider: str, name: str, example: str) -> str:
    """``tenant.auth0.com`` from ``tenant.auth0.com``, ``https://tenant.auth0.com/`` or similar."""
    text = _required(value, provider, name, example)
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme != "https" or not parts.hostname or parts.path.strip("/"):
        raise ConfigurationError(f"audmw: {name} {text!r} is not a host name, e.g. {example}")
    return parts.netloc


def entra(
    *,
    tenant_id: str | None = None,
    client_id: str | None = None,
    app_id_uri: str | None = None,
    versions: str | Iterable[str] = _ENTRA_VERSIONS,
    allowed_tenants: str | Iterable[str] | None = None,
    require_app_roles: bool | str = False,
) -> dict[str, Any]:
    """Microsoft Entra ID (Azure AD): v1.0 and v2.0 access tokens of one tenant, or of many.

    ``tenant_id`` is the directory (tenant) GUID, or ``organizations``/``common`` for a
    multi-tenant API (then ``allowed_tenants`` may list the accepted tenant GUIDs). The
    audience is the API's client id and, for v1.0 tokens, its App ID URI. Scopes come from
    ``scp``, application permissions from ``roles``; ``require_app_roles`` refuses app-only
    tokens (no ``scp``) that carry no ``roles``.
    """
    tenant = _required(tenant_id, "entra", "tenant_id", "the Directory (tenant) ID GUID")
    client = _required(client_id, "entra", "client_id", "the API's Application (client) ID")
    accepted = _comma_strings(versions, "versions")
    unknown = [v for v in accepted if v not in _ENTRA_VERSIONS]
    if unknown or not accepted:
        raise ConfigurationError(
            f"audmw: entra versions must be 1.0 and/or 2.0 (accessTokenAcceptedVersion), "
            f"not {', '.join(unknown) or 'nothing'}"
        )
    multi = tenant.lower() in _MULTI_TENANT
    if not multi and not _GUID.fullmatch(tenant):
        raise ConfigurationError(
            f"audmw: entra tenant_id {tenant!r} must be the Directory (tenant) ID, a GUID, as in "
            "the token's iss and tid; or 'organizations'/'common' for a multi-tenant API"
        )
    if allowed_tenants and not multi:
        raise ConfigurationError(
            "audmw: entra allowed_tenants needs tenant_id='organizations' or 'common'"
        )
    iss_tenant = TENANT_PLACEHOLDER if multi else tenant.lower()
    issuers = []
    if "1.0" in accepted:
        issuers.append(f"https://sts.windows.net/{iss_tenant}/")
    if "2.0" in accepted:
        issuers.append(f"https://login.microsoftonline.com/{iss_tenant}/v2.0")
    # The v2.0 key set binds each key to the v2.0 issuer; the v1.0 set serves v1.0 tokens.
    keys_path = "discovery/v2.0/keys" if "2.0" in accepted else "discovery/keys"
    keys_tenant = "common" if multi else tenant.lower()
    settings: dict[str, Any] = {
        "issuer": issuers,
        "jwks_uri": f"https://login.microsoftonline.com/{keys_tenant}/{keys_path}",
        "audience": [client] + ([app_id_uri.strip()] if app_id_uri and app_id_uri.strip() else []),
        "scope_claims": ("scp", "roles"),
        "algorithms": ("RS256",),
    }
    if allowed_tenants:
        settings["allowed_tenants"] = allowed_tenants
    if _flag(require_app_roles, "require_app_roles"):
        settings["require_any_claim"] = ("scp", "roles")
    return settings


def auth0(*, domain: str | None = None, permissions: bool | str = True) -> dict[str, Any]:
    """Auth0: issuer ``https://{domain}/`` (trailing slash); ``audience`` is the API Identifier.

    ``permissions`` (RBAC, "Add Permissions in the Access Token") count as scopes.
    """
    host = _host(domain, "auth0", "domain", "your-tenant.us.auth0.com or a custom domain")
    return {
        "issuer": f"https://{host}/",
        "jwks_uri": f"https://{host}/.well-known/jwks.json",
        "scope_claims": ("scope", "permissions")
        if _flag(permissions, "permissions")
        else ("scope",),
    }


def okta(*, domain: str | None = None, authorization_server: str = "default") -> dict[str, Any]:
    """Okta custom authorization server ``https://{domain}/oauth2/{authorization_server}``.

    The default server's audience is ``api://default``; other servers need ``audience=``.
    Tokens of the org authorization server (``https://{domain}``) are only for Okta's own APIs.
    """
    host = _host(domain, "okta", "domain", "your-org.okta.com")
    server = (authorization_server or "").strip().strip("/")
    if not server:
        raise ConfigurationError(
            "audmw: okta needs a custom authorization_server (default, or its ID such as "
            "aus1a2b3c4); tokens of the org authorization server cannot be verified by an API"
        )
    issuer = f"https://{host}/oauth2/{server}"
    settings: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/v1/keys",
        "scope_claims": ("scp",),
    }
    if server == "default":
        settings["audience"] = "api://default"
    return settings


def keycloak(
    *,
    base_url: str | None = None,
    realm_name: str | None = None,
    client_id: str | None = None,
    roles: bool | str = True,
) -> dict[str, Any]:
    """Keycloak realm ``{base_url}/realms/{realm_name}`` (base_url ends in ``/auth`` before v17).

    ``client_id`` is this API's client in Keycloak: the default audience (put there by an
    Audience mapper) and, with ``roles``, the client whose roles count with the realm roles.
    """
    base = _required(base_url, "keycloak", "base_url", "https://keycloak.example.com")
    name = _required(realm_name, "keycloak", "realm_name", "myrealm")
    issuer = f"{base.rstrip('/')}/realms/{name}"
    claims = ["scope"]
    if _flag(roles, "roles"):
        claims.append("realm_access.roles")
        if client_id:
            claims.append(f"resource_access.{client_id}.roles")
    settings: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
        "scope_claims": tuple(claims),
    }
    if client_id:
        settings["audience"] = client_id
    return settings


def cognito(
    *,
    user_pool_id: str | None = None,
    client_id: str | Iterable[str] | None = None,
    region: str | None = None,
    groups: bool | str = True,
) -> dict[str, Any]:
    """Amazon Cognito user pool: access tokens have no ``aud``, so ``client_id`` is checked.

    ``client_id`` lists the app clients allowed to call this API; ``token_use`` must be
    ``access`` (ID tokens are refused). ``groups`` (``cognito:groups``) count as scopes.
    """
    pool = _required(user_pool_id, "cognito", "user_pool_id", "eu-west-1_AbCdEf123")
    match = _COGNITO_POOL.fullmatch(pool)
    if match is None:
        raise ConfigurationError(
            f"audmw: cognito user_pool_id {pool!r} is not of the form <region>_<id>, "
            "e.g. eu-west-1_AbCdEf123"
        )
    clients = _comma_strings(client_id, "client_id")
    if not clients:
        raise ConfigurationError(
            "audmw: the cognito preset needs client_id= (AUDMW_CLIENT_ID): the app client "
            "id(s) allowed to call this API, since Cognito access tokens carry no aud"
        )
    issuer = f"https://cognito-idp.{region or match.group(1)}.amazonaws.com/{pool}"
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "audience": clients,
        "audience_claim": "client_id",
        "required_claims": {"token_use": "access"},
        "scope_claims": ("scope", "cognito:groups") if _flag(groups, "groups") else ("scope",),
        "algorithms": ("RS256",),
    }


def google(*, allowed_emails: str | Iterable[str] | None = None) -> dict[str, Any]:
    """Google-signed ID tokens sent as bearer tokens (Cloud Run, Cloud Functions, Pub/Sub push).

    ``audience`` is the URL the caller requested the token for (the service URL). Any Google
    account can obtain such a token for any audience, so ``allowed_emails`` (the callers'
    service accounts) is required. Google writes ``iss`` as ``https://accounts.google.com`` or
    as the legacy ``accounts.google.com``; both are accepted.
    """
    emails = _comma_strings(allowed_emails, "allowed_emails")
    if not emails:
        raise ConfigurationError(
            "audmw: the google preset needs allowed_emails= (AUDMW_ALLOWED_EMAILS): any Google "
            "account can get an ID token for any audience, so name the calling service accounts"
        )
    return {
        "issuer": ("https://accounts.google.com", "accounts.google.com"),
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "accept_id_tokens": True,
        "required_claims": {"email": list(emails), "email_verified": True},
        "algorithms": ("RS256",),
    }


def google_iap(
    *,
    project_number: str | None = None,
    backend_service_id: str | None = None,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Identity-Aware Proxy signed headers: the raw JWT in ``x-goog-iap-jwt-assertion``, ES256.

    The token is read from that header only (``token_header``), never from ``Authorization``.
    The audience is ``/projects/{project_number}/global/backendServices/{backend_service_id}``
    (load balancer) or ``/projects/{project_number}/apps/{project_id}`` (App Engine).
    """
    number = _required(project_number, "google-iap", "project_number", "123456789012")
    if not number.isdigit():
        raise ConfigurationError(f"audmw: google-iap project_number {number!r} is not a number")
    if bool(backend_service_id) == bool(project_id):
        raise ConfigurationError(
            "audmw: google-iap needs exactly one of backend_service_id= (load balancer) or "
            "project_id= (App Engine)"
        )
    audience = (
        f"/projects/{number}/global/backendServices/{backend_service_id}"
        if backend_service_id
        else f"/projects/{number}/apps/{project_id}"
    )
    return {
        "issuer": "https://cloud.google.com/iap",
        "jwks_uri": "https://www.gstatic.com/iap/verify/public_key-jwk",
        "audience": audience,
        "algorithms": ("ES256",),
        "token_header": "x-goog-iap-jwt-assertion",
    }


def rfc9068() -> dict[str, Any]:
    """Any server issuing RFC 9068 access tokens (node oidc-provider, Duende, Curity…).

    ``typ`` must be ``at+jwt`` and ``client_id`` present; ``scope`` may be a string or an array.
    Give ``issuer`` and ``audience`` (the resource indicator the client requests).
    """
    return {"require_at_jwt": True, "scope_claims": ("scope",), "require_any_claim": ("client_id",)}


PRESETS: dict[str, Preset] = {
    "entra": entra,
    "auth0": auth0,
    "okta": okta,
    "keycloak": keycloak,
    "cognito": cognito,
    "google": google,
    "google-iap": google_iap,
    "rfc9068": rfc9068,
}


def _preset(name: str) -> Preset:
    preset = PRESETS.get(name.strip().lower().replace("_", "-"))
    if preset is None:
        raise ConfigurationError(
            f"audmw: unknown provider {name!r}; choose from {', '.join(PRESETS)}"
        )
    return preset


def parameters(name: str) -> tuple[str, ...]:
    """The names of a preset's own parameters (besides the ordinary settings)."""
    return tuple(inspect.signature(_preset(name)).parameters)


def settings_values(
    name: str, options: dict[str, Any], setting_names: Iterable[str]
) -> dict[str, Any]:
    """Keyword arguments for ``Settings``: the preset's values, overridden by ``options``."""
    preset = _preset(name)
    own = set(inspect.signature(preset).parameters)
    known = set(setting_names)
    unknown = sorted(k for k in options if k not in own and k not in known)
    if unknown:
        raise ConfigurationError(
            f"audmw: unknown option {', '.join(unknown)} for provider {name!r}; its own "
            f"options are {', '.join(sorted(own)) or 'none'}, besides every setting"
        )
    values = preset(**{k: v for k, v in options.items() if k in own})
    values.update((k, v) for k, v in options.items() if k not in own)
    return values
