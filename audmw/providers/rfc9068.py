"""Any server issuing RFC 9068 access tokens (node oidc-provider, Duende, Curity…)."""

from __future__ import annotations

from typing import Any

from audmw.providers import Provider


def preset() -> dict[str, Any]:
    """Any server issuing RFC 9068 access tokens (node oidc-provider, Duende, Curity…).

    ``typ`` must be ``at+jwt`` and ``client_id`` present; ``scope`` may be a string or an array.
    Give ``issuer`` and ``audience`` (the resource indicator the client requests).
    """
    return {"require_at_jwt": True, "scope_claims": ("scope",), "require_any_claim": ("client_id",)}


# Recognised by the token itself (typ at+jwt), not by its issuer: audmw inspect names the profile.
PROVIDER = Provider(name="rfc9068", preset=preset)
