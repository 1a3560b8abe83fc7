"""The credential refusals through every example app under its real server (uvicorn for
Starlette, FastAPI and Django, waitress for Flask), with the exact bytes a client sends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from dpop_challenge import BARE

from audmw.testing import LocalIssuer

from .conftest import AUDIENCE
from .servers import EXAMPLES, Answer, ExampleServer, request, send

FORM = b"application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def example_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as issuer:
        yield issuer


@pytest.fixture(scope="module")
def servers(
    example_issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ExampleServer]]:
    directory = tmp_path_factory.mktemp("example-servers")
    started = {
        name: ExampleServer(name, example_issuer.issuer, AUDIENCE, directory / f"{name}.log")
        for name in EXAMPLES
    }
    try:
        for server in started.values():
            server.wait()
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.fixture(params=EXAMPLES)
def server(request: pytest.FixtureRequest, servers: dict[str, ExampleServer]) -> ExampleServer:
    return servers[request.param]


@pytest.fixture(scope="module")
def token(example_issuer: LocalIssuer) -> str:
    return example_issuer.mint(scopes=["read:messages", "write:messages"], expires_in=3600)


def _get(server: ExampleServer, *headers: tuple[bytes, bytes], target: str = "/api/me") -> Answer:
    return send(server.port, request("GET", target, list(headers)))


def _no_piece_of(token: str, text: bytes | str) -> None:
    data = text.encode("latin-1", "replace") if isinstance(text, str) else text
    for start in range(0, len(token) - 8, 4):
        assert token[start : start + 8].encode() not in data, "a piece of the token came back"


def _invalid_request(answer: Answer) -> None:
    assert answer.status == 400
    challenge = answer.header("www-authenticate")
    if challenge is not None:  # the server itself may refuse the bytes first, without one
        assert 'error="invalid_request"' in challenge


def test_the_plain_header_and_space_and_tab_around_it_pass(
    server: ExampleServer, token: str
) -> None:
    assert _get(server, (b"Authorization", b"Bearer " + token.encode())).status == 200
    assert _get(server, (b"Authorization", b"Bearer  " + token.encode() + b" \t")).status == 200


@pytest.mark.parametrize(
    "space", [b"\xa0", b"\x85", b"\xc2\xa0", b"\xc2\x85", b"\xe2\x80\xa8", b"\x0b", b"\x1f"]
)
@pytest.mark.parametrize("where", ["after", "before"])
def test_unicode_whitespace_around_the_credentials_is_400(
    server: ExampleServer, token: str, space: bytes, where: str
) -> None:
    credentials = b"Bearer " + token.encode()
    value = credentials + space if where == "after" else space + credentials
    answer = _get(server, (b"Authorization", value))
    _invalid_request(answer)
    _no_piece_of(token, answer.raw)


@pytest.mark.parametrize(
    "first", [b"", b"Basic dXNlcjpwYXNz", b"Bearer {t}", b'Digest username="a", realm="b"']
)
def test_two_authorization_headers_are_400_however_the_server_folds_them(
    server: ExampleServer, token: str, first: bytes
) -> None:
    answer = _get(
        server,
        (b"Authorization", first.replace(b"{t}", token.encode())),
        (b"Authorization", b"Bearer " + token.encode()),
    )
    _invalid_request(answer)
    assert answer.header("www-authenticate") is not None


def test_a_token_in_the_header_and_an_encoded_query_name_is_two_methods(
    server: ExampleServer, token: str
) -> None:
    header = (b"Authorization", b"Bearer " + token.encode())
    for name in ("access_token", "access%5Ftoken", "access%5ftoken", "%61ccess_token"):
        answer = _get(server, header, target=f"/api/me?{name}={token}")
        _invalid_request(answer)
        assert answer.header("www-authenticate") is not None


@pytest.mark.parametrize(
    "content_type", [FORM, FORM + b"; charset=utf-8", b"Application/X-WWW-Form-URLencoded"]
)
@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_a_token_in_the_header_and_a_form_body_is_two_methods(
    server: ExampleServer, token: str, content_type: bytes, chunked: bool
) -> None:
    header = (b"Authorization", b"Bearer " + token.encode())
    for body in (f"text=hi&access_token={token}", f"access%5Ftoken={token}&text=hi"):
        headers = [header, (b"Content-Type", content_type)]
        data = body.encode()
        if chunked:
            headers.append((b"Transfer-Encoding", b"chunked"))
            data = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
        answer = send(server.port, request("POST", "/api/messages", headers, data))
        _invalid_request(answer)
        assert answer.header("www-authenticate") is not None
    created = send(
        server.port,
        request("POST", "/api/messages", [header, (b"Content-Type", content_type)], b"text=hi"),
    )
    assert created.status in (200, 201)


@pytest.mark.parametrize(
    "damage", [b"\r", b"\n", b"\x00", b"\r\n x"], ids=["CR", "LF", "NUL", "folded"]
)
def test_a_malformed_header_line_never_echoes_the_token(
    server: ExampleServer, token: str, damage: bytes
) -> None:
    raw = token.encode()
    for value in (b"Bearer " + raw[:30] + damage + raw[30:], b"Bearer " + raw + damage):
        answer = _get(server, (b"Authorization", value))
        assert 400 <= answer.status < 500
        _no_piece_of(token, answer.raw)


def _log_since(server: ExampleServer, mark: int, needle: str, count: int = 1) -> str:
    """The server's log after ``mark``, once ``needle`` is in it ``count`` times (or 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        text = server.log()[mark:]
        if text.count(needle) >= count or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_a_token_where_the_scheme_goes_never_reaches_the_log(
    server: ExampleServer, token: str
) -> None:
    mark = len(server.log())
    for value in (token + " x", token + " " + token, "Mac" + token + " x"):
        answer = _get(server, (b"Authorization", value.encode()))
        assert answer.status == 401
        assert answer.header("www-authenticate") == BARE
    logged = _log_since(server, mark, "reason=unsupported_scheme", count=3)
    assert logged.count("reason=unsupported_scheme") >= 3
    _no_piece_of(token, logged)


def test_a_scope_forging_a_log_line_is_escaped(
    server: ExampleServer, example_issuer: LocalIssuer
) -> None:
    forged = example_issuer.mint(scopes=["read:messages", "x\nINFO audmw forged\x1b[31m"])
    mark = len(server.log())
    answer = _get(server, (b"Authorization", b"Bearer " + forged.encode()), target="/api/admin")
    assert answer.status == 403
    logged = _log_since(server, mark, "insufficient_scope")
    assert "insufficient_scope" in logged
    assert "\x1b" not in logged
    assert not re.search(r"^INFO audmw forged", logged, re.MULTILINE)


@pytest.mark.parametrize("app", ["starlette_app", "fastapi_app"])
def test_the_content_type_an_asgi_app_reads_is_the_one_checked(
    servers: dict[str, ExampleServer], token: str, app: str
) -> None:
    # Starlette's Request reads the first of two Content-Type headers: so must the check.
    headers = [
        (b"Authorization", b"Bearer " + token.encode()),
        (b"Content-Type", FORM),
        (b"Content-Type", b"application/json"),
    ]
    body = f"access_token={token}".encode()
    answer = send(servers[app].port, request("POST", "/api/messages", headers, body))
    _invalid_request(answer)
    assert answer.header("www-authenticate") is not None
