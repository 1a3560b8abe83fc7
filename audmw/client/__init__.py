"""The calling side: tokens requested for the API they are meant for, as ``httpx.Auth``.

    auth = ClientCredentials(issuer="https://tenant.example/", client_id="svc",
                             client_secret=os.environ["CLIENT_SECRET"],
                             audience="https://api.example.com")
    httpx.get("https://api.example.com/api/me", auth=auth)

``TokenExchange`` (RFC 8693) and ``OnBehalfOf`` (Microsoft Entra) trade the request's
verified token (``incoming_token`` of the adapters) for one aimed at a downstream API; the
incoming token itself is never sent on. ``dpop=True`` (any grant) asks for DPoP-bound tokens
(RFC 9449) and sends each with a fresh proof.
"""

from audmw.client._authentication import (
    ClientAuthentication,
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
)
from audmw.client._dpop import DPoPPresentation
from audmw.client._errors import TokenEndpointUnavailable, TokenRequestError
from audmw.client._grants import (
    ClientCredentials,
    IssuedToken,
    OnBehalfOf,
    TokenCache,
    TokenExchange,
)
from audmw.client._presentation import BearerPresentation, Presentation
from audmw.client._subject import SubjectToken, verified_subject

__all__ = [
    "BearerPresentation",
    "ClientAuthentication",
    "ClientCredentials",
    "ClientSecretBasic",
    "ClientSecretPost",
    "DPoPPresentation",
    "IssuedToken",
    "OnBehalfOf",
    "Presentation",
    "PrivateKeyJwt",
    "SubjectToken",
    "TokenCache",
    "TokenEndpointUnavailable",
    "TokenExchange",
    "TokenRequestError",
    "verified_subject",
]
