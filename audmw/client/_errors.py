"""What a token request can fail with, and the fix to name for the provider at hand."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_MAX_DESCRIPTION = 300


class TokenRequestError(Exception):
    """The token endpoint refused the request with an OAuth error (RFC 6749 §5.2).

    ``error`` and ``error_description`` are the server's; ``hint`` names the fix for the
    provider at hand. None of them, nor the message or repr, holds a secret, an assertion
    or a token.
    """

    def __init__(
        self,
        error: str | None,
        error_description: str | None,
        *,
        status: int | None,
        token_url: str,
        hint: str | None,
    ) -> None:
        self.error = error
        self.error_description = error_description
        self.status = status
        self.token_url = token_url
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        what = f"{self.error}" if self.error else f"HTTP {self.status}"
        text = f"token endpoint {self.token_url} refused the request: {what}"
        if self.error_description:
            text += f" ({self.error_description})"
        if self.hint:
            text += f"; fix: {self.hint}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error={self.error!r}, "
            f"error_description={self.error_description!r}, status={self.status!r})"
        )


class TokenEndpointUnavailable(TokenRequestError):
    """No usable answer: the server could not be reached or discovered, answered 5xx, or sent
    something that is not a token response. Retrying later may help."""

    def __init__(self, message: str, *, token_url: str, status: int | None = None) -> None:
        self.detail = message
        super().__init__(None, None, status=status, token_url=token_url, hint=None)

    def _message(self) -> str:
        return f"no token from {self.token_url}: {self.detail}"


def cleaned(text: object, secrets: Iterable[str]) -> str | None:
    """A server-chosen text made safe to show: secrets it echoes removed, escaped, cut short."""
    if not isinstance(text, str) or not text:
        return None
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    text = text[:_MAX_DESCRIPTION]
    # Server-chosen text must not drive a terminal or forge log lines.
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def provider_of(url: str) -> str:
    """Which provider a token endpoint or issuer belongs to, from its host and path."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith((".auth0.com", ".auth0app.com")):
        return "auth0"
    if host in ("login.microsoftonline.com", "sts.windows.net") or host.endswith(
        (".ciamlogin.com", ".microsoftonline.us", ".b2clogin.com")
    ):
        return "entra"
    if host.endswith((".okta.com", ".oktapreview.com", ".okta-emea.com")):
        return "okta"
    if host.endswith(".amazoncognito.com") or host.startswith("cognito-idp."):
        return "cognito"
    if "/realms/" in parts.path:
        return "keycloak"
    return "rfc8707"


_TARGET = {
    "auth0": "pass audience=<the API's Identifier> (Auth0 dashboard: Applications > APIs)",
    "entra": "ask with scope=<the API's Application ID URI or client id>/.default",
    "okta": "call the custom authorization server's token endpoint (/oauth2/<id>/v1/token, "
    "issuer=https://<org>/oauth2/<id>) with a scope it defines",
    "keycloak": "add an Audience mapper (or a client scope carrying one) for the API to this "
    "client; token exchange takes audience=<the API's client id>",
    "cognito": "ask with scope=<resource server identifier>/<scope>; Cognito tokens carry no aud",
    "rfc8707": "pass resource=<the API's identifier> exactly as the server registers it (RFC 8707)",
}


def hint_for(
    error: str | None,
    description: str | None,
    provider: str,
    *,
    grant: str,
    auth_method: str,
) -> str | None:
    """The fix for an OAuth error from ``provider``'s token endpoint."""
    described = (description or "").lower()
    if error == "access_denied" and "audience" in described:
        return _TARGET["auth0"] if provider == "auth0" else _TARGET[provider]
    if error == "invalid_client":
        if auth_method == "private_key_jwt":
            return (
                "check client_id and that the server holds this key's public half (its kid); "
                "a server that still wants the token endpoint URL as the assertion's aud "
                "needs assertion_audience='token_endpoint'"
                + (" (Entra and Okta do)" if provider in ("entra", "okta") else "")
            )
        return (
            "check client_id and the secret, and that the client is registered for "
            f"{auth_method} (its token_endpoint_auth_method); a secret with special "
            "characters may need client_secret_post"
        )
    if error == "use_dpop_nonce":
        return (
            "the server asked for a DPoP nonce again after a retry with the one it gave; "
            "it rotates nonces faster than a client can use them"
        )
    if error == "invalid_dpop_proof":
        return (
            "the server refused the DPoP proof: check that it allows the key's algorithm "
            "(dpop_signing_alg_values_supported) and that this machine's clock is right (iat)"
        )
    if error == "invalid_target":
        return (
            "the server does not know this target or refuses it to the client: "
            + (_TARGET[provider])
        )
    if error == "invalid_scope":
        return {
            "auth0": "grant the application these scopes of the API (Applications > APIs > "
            "Machine to Machine Applications)",
            "entra": "client credentials take exactly one scope: <Application ID URI>/.default "
            "(application permissions are granted by admin consent)",
            "okta": "define the scope on the custom authorization server and allow it in an "
            "access policy rule for this client",
            "keycloak": "assign the client scope to the client (Client scopes tab)",
            "cognito": "scopes are <resource server identifier>/<scope>, and the app client "
            "must allow them (Allowed custom scopes)",
        }.get(provider, "ask only for scopes the server defines and grants this client")
    if error == "unauthorized_client":
        if grant == "client_credentials":
            return {
                "auth0": "authorize the application for the API (Applications > APIs > "
                "Machine to Machine Applications) and enable its Client Credentials grant",
                "keycloak": "enable Service accounts roles on the client",
                "okta": "enable the Client Credentials grant on the app and in the "
                "authorization server's access policy",
            }.get(provider, "allow the client_credentials grant for this client")
        return (
            "allow this client the "
            + grant
            + " grant"
            + (
                " (Keycloak: token exchange permission on the target client)"
                if provider == "keycloak"
                else ""
            )
        )
    if error == "unsupported_grant_type":
        return f"this server does not offer the {grant} grant to this client"
    if error == "invalid_grant":
        return (
            "the subject token or assertion was refused: it may have expired, or not be "
            "meant for this client"
        )
    return None
