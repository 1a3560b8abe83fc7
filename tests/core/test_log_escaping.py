"""Values a client or a token chose are escaped in every log line and in the CLI's output:
a scope of ``x\\nINFO audmw forged`` must not forge a line, an ESC must not drive a terminal.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from audmw import AuthError, Guard, Settings, TokenValidator
from audmw.cli import main
from audmw.cli.console import Console
from audmw.requirements import Requirement
from audmw.testing import LocalIssuer

from .conftest import AUDIENCE, Clock
from .crafting import claims_for, segment, sent

FORGED = "x\nINFO audmw forged\x1b[31m\r\x85\u2028\u202e"
RAW = ("\n", "\r", "\x1b", "\x85", "\u2028", "\u202e")


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """The ``audmw`` logger's lines as a formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("audmw")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(level)


def assert_one_clean_line_per_record(text: str) -> None:
    assert text, "nothing was logged"
    for line in text.splitlines(keepends=False):
        assert line.startswith(("INFO audmw", "WARNING audmw", "DEBUG audmw")), repr(line)
        assert "forged" not in line or "\\n" in line
    assert not any(raw in text for raw in RAW[1:])
    assert "\nINFO audmw forged" not in text


def test_a_scope_with_a_newline_and_an_escape_is_escaped_in_the_log(
    issuer: LocalIssuer, validator: TokenValidator, log_text: io.StringIO
) -> None:
    guard = Guard(validator=validator)
    token = guard.authorize(sent([f"Bearer {issuer.mint(aud=AUDIENCE, scopes=['read', FORGED])}"]))
    with pytest.raises(AuthError) as refused:
        guard.check_scopes(token, Requirement.of("admin"))
    assert refused.value.reason == "insufficient_scope"
    assert_one_clean_line_per_record(log_text.getvalue())
    assert "x\\nINFO" in log_text.getvalue()
    assert "forged\\x1b[31m" in log_text.getvalue()


CHOSEN: list[tuple[str, dict[str, Any]]] = [
    ("iss", {"iss": FORGED}),
    ("aud", {"aud": FORGED}),
    ("aud list", {"aud": ["a", FORGED]}),
    ("tid", {"iss": "https://login.example.com/" + FORGED + "/v2.0", "tid": FORGED}),
    ("kid", {"kid": FORGED}),
    ("typ", {"typ": FORGED}),
    ("alg", {"alg": FORGED}),
    ("crit", {"headers": {"crit": [FORGED]}}),
    ("required claim", {"token_use": FORGED}),
]


@pytest.mark.parametrize("changes", [c for _, c in CHOSEN], ids=[n for n, _ in CHOSEN])
def test_token_chosen_values_are_escaped_in_refusal_lines(
    issuer: LocalIssuer, clock: Clock, log_text: io.StringIO, changes: dict[str, Any]
) -> None:
    validator = TokenValidator(
        Settings(
            issuer=[issuer.issuer, "https://login.example.com/{tenantid}/v2.0"],
            jwks_uri=issuer.jwks_uri,
            audience=AUDIENCE,
            required_claims={"token_use": "access"},
        ),
        clock=clock,
    )
    changes = dict(changes)
    changes.setdefault("aud", AUDIENCE)
    changes.setdefault("token_use", "access")
    if "alg" in changes:  # no key signs for it: the header alone is refused
        header = segment({"alg": changes.pop("alg")})
        token = f"{header}.{segment(claims_for(issuer))}.c2ln"
    else:
        token = issuer.mint(**changes)
    with pytest.raises(AuthError):
        validator.validate(token)
    assert_one_clean_line_per_record(log_text.getvalue())


@pytest.mark.parametrize("command", ["inspect", "check"])
def test_token_chosen_values_are_escaped_in_the_cli_output(
    issuer: LocalIssuer, command: str
) -> None:
    token = issuer.mint(
        aud=[AUDIENCE, FORGED],
        scopes=["read", FORGED],
        sub=FORGED,
        client_id=FORGED,
        token_use=FORGED,
        **{FORGED: FORGED},
        headers={"kid": FORGED, FORGED: [FORGED]},
    )
    for extra in ([], ["--json"]):
        argv = [command, *extra]
        if command == "check":
            argv += ["--issuer", issuer.issuer, "--audience", AUDIENCE]
        stdout, stderr = io.StringIO(), io.StringIO()
        console = Console(stdin=io.StringIO(token), stdout=stdout, stderr=stderr, environ={})
        main(argv, console=console)
        output = stdout.getvalue() + stderr.getvalue()
        assert "forged" in output  # the value is shown, escaped
        for raw in RAW:
            assert raw not in output.replace("\n", "") if raw == "\n" else raw not in output
        assert "\nINFO audmw forged" not in output
