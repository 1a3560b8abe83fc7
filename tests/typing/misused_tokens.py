"""Code that treats a token that may be absent as always there: mypy must report each line
marked ``# expected: <error code>``, and nothing else."""

from __future__ import annotations

from django.http import HttpRequest
from starlette.requests import Request

from audmw import AccessToken
from audmw.access import access_token as starlette_token
from audmw.testing import assert_refused
from audmw_django import access_token as django_token
from audmw_flask import get_current_token


def flask_subject() -> str | None:
    return get_current_token().subject  # expected: union-attr


def flask_token() -> AccessToken:
    return get_current_token()  # expected: return-value


def django_subject(request: HttpRequest) -> str | None:
    return django_token(request).subject  # expected: union-attr


def django_attribute(request: HttpRequest) -> object:
    return request.access_token  # expected: attr-defined


def starlette_scopes(request: Request) -> frozenset[str]:
    return starlette_token(request).scopes  # expected: union-attr


def refusal_of_a_status_code(status: int) -> None:
    assert_refused(status, 401)  # expected: arg-type
