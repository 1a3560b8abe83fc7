"""Protected-resource metadata (RFC 9728): the document, where it is served, and its URL.

The core builds the document and its answer as it builds refusals (``audmw.answer``);
adapters only serve it, before any token check, at the two well-known locations of the
resource: ``/.well-known/oauth-protected-resource`` with the resource's path inserted
(§3.1), and the same name at the root. Every challenge names the first one in its
``resource_metadata`` parameter (§5.1).

Members come from the settings through the functions of ``MEMBERS``: one function per part
of the library, each returning the members it owns (None or an empty list leaves a member
out). A new part of the library that advertises something (proof-of-possession algorithms,
authentication levels, authorization-details types) adds one function there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from audmw import dpop
from audmw.answer import Answer
from audmw.requirements import Requirement, acr_values_of, authorization_details_types_of
from audmw.settings import Settings

__all__ = [
    "MEMBERS",
    "WELL_KNOWN",
    "ResourceMetadata",
    "document",
    "metadata_url",
    "scopes_of",
    "well_known_path",
]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
# The document changes only when the app is deployed again.
_CACHE_CONTROL = "public, max-age=3600"
_SERVED_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Browser-based clients (MCP inspectors) read the document from other origins. It is public
# and sent without credentials, so any origin may read it; "*" never allows credentials.
_CORS = (("Access-Control-Allow-Origin", "*"),)
_PREFLIGHT = Answer(
    204,
    (
        *_CORS,
        ("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS"),
        ("Access-Control-Allow-Headers", "*"),
        ("Access-Control-Max-Age", "86400"),
    ),
    b"",
)

Member = Callable[[Settings, tuple[Requirement, ...]], Mapping[str, Any]]
"""A function from the settings and the requirements of the app's routes and scope rules to
members of the document (None, an empty string or an empty list: left out). Lists may be
tuples."""


def well_known_path(resource: str) -> str:
    """The path of the metadata of ``resource`` on its host (RFC 9728 §3.1): the well-known
    name inserted between the host and the resource's path, a lone ``/`` path dropped."""
    path = urlsplit(resource).path
    return WELL_KNOWN + ("" if path == "/" else path)


def metadata_url(resource: str) -> str:
    """The URL of the metadata of ``resource``, as ``resource_metadata`` names it."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}{well_known_path(resource)}"


def scopes_of(requirements: Iterable[Requirement | None]) -> tuple[str, ...]:
    """Every scope the ``requirements`` name (all-of and any-of alike), sorted."""
    scopes: set[str] = set()
    for requirement in requirements:
        if requirement is not None:
            scopes.update(requirement.all_of)
            for group in requirement.any_of:
                scopes.update(group)
    return tuple(sorted(scopes))


def _resource_members(settings: Settings, needs: tuple[Requirement, ...]) -> Mapping[str, Any]:
    """The members every protected resource has: who issues its tokens, for which scopes."""
    scopes = settings.scopes_supported
    return {
        "authorization_servers": list(settings.metadata_authorization_servers),
        "scopes_supported": list(scopes_of(needs) if scopes is None else scopes),
        "bearer_methods_supported": list(settings.bearer_methods_supported),
        "resource_name": settings.resource_name,
        "resource_documentation": settings.resource_documentation,
    }


def _requirement_members(settings: Settings, needs: tuple[Requirement, ...]) -> Mapping[str, Any]:
    """What routes ask for beyond scopes: authentication levels (RFC 9470) and kinds of
    authorization details (RFC 9396)."""
    return {
        "acr_values_supported": list(acr_values_of(needs)),
        "authorization_details_types_supported": list(authorization_details_types_of(needs)),
    }


MEMBERS: tuple[Member, ...] = (_resource_members, _requirement_members, dpop.metadata_members)
"""The functions the document's members come from, in the order they appear."""


def _present(value: Any) -> bool:
    # RFC 9728 §2: a member with no value is left out, never sent empty.
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    return value is not None


def document(settings: Settings, requirements: Iterable[Requirement | None] = ()) -> dict[str, Any]:
    """The metadata document of ``settings.resource``; ``requirements`` are those of the
    app's routes (``scopes_supported`` and the like default to what they and the settings'
    scope rules ask for)."""
    if settings.resource is None:
        raise ValueError("the settings name no resource")
    needs = _needs(settings, requirements)
    found: dict[str, Any] = {"resource": settings.resource}  # §3.3: exactly as configured
    for member in MEMBERS:
        for name, value in member(settings, needs).items():
            if _present(value) and name not in found and name != "signed_metadata":
                found[name] = value
    if settings.metadata_signing_key is not None:
        found["signed_metadata"] = signed_metadata(settings, found)
    return found


def _needs(
    settings: Settings, requirements: Iterable[Requirement | None]
) -> tuple[Requirement, ...]:
    """The distinct requirements of the routes and the scope rules (members sort what they
    take from them)."""
    found = {r for r in requirements if r is not None}
    found.update(rule.requirement for rule in settings.rules)
    return tuple(found)


def signed_metadata(settings: Settings, members: Mapping[str, Any]) -> str:
    """RFC 9728 §2.2: the members as the claims of a JWT signed with the metadata key, with
    ``iss`` the resource (the party attesting them) and ``kid`` the key's RFC 7638
    thumbprint."""
    pem, alg = settings.metadata_signing_key, settings.metadata_signing_alg
    if pem is None or alg is None:
        raise ValueError("the settings name no metadata signing key")
    key = load_pem_private_key(pem, password=None)
    public = json.loads(jwt.get_algorithm_by_name(alg).to_jwk(key.public_key()))
    claims = {**members, "iss": settings.resource, "iat": int(time.time())}
    headers = {"kid": _thumbprint(public)}
    return jwt.encode(claims, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK."""
    required = {
        "RSA": ("e", "kty", "n"),
        "EC": ("crv", "kty", "x", "y"),
        "OKP": ("crv", "kty", "x"),
    }
    canonical = json.dumps(
        {name: jwk[name] for name in required[jwk["kty"]]}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class ResourceMetadata:
    """The metadata of one configured resource: where it is served, and its answer."""

    def __init__(self, settings: Settings) -> None:
        if settings.resource is None:
            raise ValueError("the settings name no resource")
        self.settings = settings
        self.resource: str = settings.resource
        self.url = metadata_url(self.resource)
        """What every challenge names in ``resource_metadata``."""
        # Routers see the path percent-decoded: /v%201 arrives as "/v 1".
        self.paths = frozenset({unquote(well_known_path(self.resource)), WELL_KNOWN})
        """The request paths (as the app's router sees them) the document is served at."""
        self._answers: dict[frozenset[Requirement], Answer] = {}
        self._last: tuple[Hashable, Answer] | None = None

    def serves(self, method: str, path: str) -> bool:
        """Whether a request for ``path`` asks for the document."""
        return path in self.paths and method in _SERVED_METHODS

    def answer_for(
        self,
        method: str,
        requirements: Callable[[], Iterable[Requirement | None]],
        routes_version: Hashable = None,
    ) -> Answer:
        """``answer``, reading ``requirements`` only when ``routes_version`` is None or
        differs from the one of the last answer."""
        if method == "OPTIONS":
            return _PREFLIGHT
        last = self._last
        if routes_version is not None and last is not None and last[0] == routes_version:
            return last[1]
        found = self.answer(requirements(), method)
        if routes_version is not None:
            self._last = (routes_version, found)
        return found

    def answer(
        self, requirements: Iterable[Requirement | None] = (), method: str = "GET"
    ) -> Answer:
        """200 with the document; ``requirements`` are those the app's routes carry. (For a
        HEAD request the server leaves the body out, as for any other answer.) An OPTIONS
        request gets the CORS preflight answer: the document is readable from any origin."""
        if method == "OPTIONS":
            return _PREFLIGHT
        needs = frozenset(r for r in requirements if r is not None)
        found = self._answers.get(needs)
        if found is None:
            body = json.dumps(document(self.settings, needs)).encode()
            headers = (
                ("Content-Type", "application/json"),
                ("Cache-Control", _CACHE_CONTROL),
                *_CORS,
            )
            found = Answer(200, headers, body)
            if len(self._answers) < 8:  # the app's routes change rarely; the memo stays small
                self._answers[needs] = found
        return found
