"""``assert_refused``: one line to check that a test client's response is audmw's refusal."""

from __future__ import annotations

import re
from typing import Protocol

# An auth-param of a challenge: name=token or name="quoted string" (RFC 9110 §11.2).
_PARAM = re.compile(r'([A-Za-z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')
_ESCAPED = re.compile(r"\\(.)")


class _Headers(Protocol):
    def get(self, key: str, /) -> str | None: ...


class ResponseLike(Protocol):
    """What the test clients' responses share: Starlette's and FastAPI's ``TestClient``
    (httpx), Django's ``Client`` and Flask's ``test_client()``."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> _Headers: ...


def challenge_params(value: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge (``error``, ``scope``, ``realm``, ...)."""
    return {
        name.lower(): unquoted or _ESCAPED.sub(r"\1", quoted)
        for name, quoted, unquoted in _PARAM.findall(value)
    }


def assert_refused(
    response: ResponseLike, status: int, error: str | None = None, *, scope: str | None = None
) -> None:
    """Assert that ``response`` is a refusal with ``status``.

    For 400, 401 and 403 the ``WWW-Authenticate`` challenge must be ``Bearer`` with the
    RFC 6750 code ``error`` (``invalid_request``, ``invalid_token``,
    ``insufficient_scope``; None: no code, as when no token came) and, when given, the
    ``scope`` it names. A 503 must say ``Retry-After``.
    """
    challenge = response.headers.get("WWW-Authenticate")
    seen = f"got status {response.status_code} with WWW-Authenticate {challenge!r}"
    if response.status_code != status:
        raise AssertionError(f"expected a refusal with status {status}, {seen}")
    if status == 503:
        if response.headers.get("Retry-After") is None:
            raise AssertionError(f"expected Retry-After on a 503, {seen}")
        return
    if challenge is None or challenge.split(" ", 1)[0].lower() != "bearer":
        raise AssertionError(f"expected a Bearer challenge, {seen}")
    params = challenge_params(challenge)
    if params.get("error") != error:
        expected = f"error={error!r}" if error is not None else "no error code"
        raise AssertionError(f"expected {expected}, {seen}")
    if scope is not None and params.get("scope") != scope:
        raise AssertionError(f"expected scope={scope!r}, {seen}")
