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


# Where a challenge starts: its scheme, alone or followed by a space (not a parameter's name).
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][A-Za-z0-9!#$&\'*+.^_`|~-]*)(?=\s*(?:,|$)|\s+[^=,\s])")


def challenges(value: str) -> dict[str, dict[str, str]]:
    """Every challenge of a ``WWW-Authenticate`` value, by lower-case scheme, with its
    parameters: ``Bearer realm="x", DPoP algs="ES256"`` gives both."""
    starts: list[tuple[int, int, str]] = []
    position = 0
    while position < len(value):
        match = _SCHEME.search(value, position)
        if match is None:
            break
        # A scheme never sits inside a quoted string: skip matches there.
        if _unquoted(value, match.start(1)):
            starts.append((match.start(1), match.end(1), match.group(1)))
        position = match.end(1)
    found: dict[str, dict[str, str]] = {}
    for index, (_start, end, scheme) in enumerate(starts):
        stop = starts[index + 1][0] if index + 1 < len(starts) else len(value)
        found[scheme.lower()] = challenge_params(value[end:stop])
    return found


def _unquoted(value: str, index: int) -> bool:
    """Whether ``value[index]`` is outside every quoted string."""
    quoted = escaped = False
    for char in value[:index]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = quoted
        elif char == '"':
            quoted = not quoted
    return not quoted


def challenge_params(value: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge (``error``, ``scope``, ``realm``, ...).

    Given a value with several challenges (``Bearer ..., DPoP algs=...``), those of the
    first one."""
    return {
        name.lower(): unquoted or _ESCAPED.sub(r"\1", quoted)
        for name, quoted, unquoted in _PARAM.findall(_first_challenge(value))
    }


def _first_challenge(value: str) -> str:
    for match in _SCHEME.finditer(value):
        if match.start(1) > 0 and _unquoted(value, match.start(1)):
            return value[: match.start(1)]
    return value


def assert_refused(
    response: ResponseLike,
    status: int,
    error: str | None = None,
    *,
    scope: str | None = None,
    scheme: str = "Bearer",
) -> None:
    """Assert that ``response`` is a refusal with ``status``.

    For 400, 401 and 403 the ``WWW-Authenticate`` value must hold a challenge of ``scheme``
    (``Bearer``, or ``DPoP`` for a request that used DPoP) with the RFC 6750 / RFC 9449
    code ``error`` (``invalid_request``, ``invalid_token``, ``insufficient_scope``,
    ``invalid_dpop_proof``, ``use_dpop_nonce``; None: no code, as when no token came) and,
    when given, the ``scope`` it names. A 503 must say ``Retry-After``.
    """
    challenge = response.headers.get("WWW-Authenticate")
    seen = f"got status {response.status_code} with WWW-Authenticate {challenge!r}"
    if response.status_code != status:
        raise AssertionError(f"expected a refusal with status {status}, {seen}")
    if status == 503:
        if response.headers.get("Retry-After") is None:
            raise AssertionError(f"expected Retry-After on a 503, {seen}")
        return
    found = challenges(challenge) if challenge is not None else {}
    if scheme.lower() not in found:
        raise AssertionError(f"expected a {scheme} challenge, {seen}")
    params = found[scheme.lower()]
    if params.get("error") != error:
        expected = f"error={error!r}" if error is not None else "no error code"
        raise AssertionError(f"expected {expected}, {seen}")
    if scope is not None and params.get("scope") != scope:
        raise AssertionError(f"expected scope={scope!r}, {seen}")
