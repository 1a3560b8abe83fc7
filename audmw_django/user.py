"""``request.user`` for a bearer-authenticated request, without a user table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audmw import AccessToken


class TokenUser:
    """The subject of a verified access token, shaped like Django's users where it matters.

    ``is_authenticated`` is True; there is no database row, no password, no Django
    permission (decide on ``require_access_token(request).scopes`` instead). To a type
    checker ``request.user`` stays Django's user type: read the token with
    ``audmw_django.access_token`` / ``require_access_token``.
    """

    is_active = True
    is_anonymous = False
    is_authenticated = True
    is_staff = False
    is_superuser = False

    def __init__(self, token: AccessToken) -> None:
        self.token = token

    @property
    def pk(self) -> str | None:
        return self.token.subject

    id = pk

    @property
    def username(self) -> str:
        return self.token.display_name

    def get_username(self) -> str:
        return self.username

    @property
    def scopes(self) -> frozenset[str]:
        return self.token.scopes

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"TokenUser(subject={self.token.subject!r}, issuer={self.token.issuer!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TokenUser)
            and other.token.subject == self.token.subject
            and other.token.issuer == self.token.issuer
        )

    def __hash__(self) -> int:
        return hash((self.token.issuer, self.token.subject))


def get_or_create_user(token: AccessToken) -> Any:
    """``AUDMW["USER"]`` for one issuer: the user whose username is the token's subject,
    created (without a usable password) on first sight.

    With several issuers, subjects may collide: write a function of your own that maps
    ``(token.issuer, token.subject)`` to a user.
    """
    from django.contrib.auth import get_user_model

    if not token.subject:
        return None
    model = get_user_model()
    lookup: dict[str, Any] = {str(model.USERNAME_FIELD): token.subject}
    user, created = model._default_manager.get_or_create(**lookup)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
