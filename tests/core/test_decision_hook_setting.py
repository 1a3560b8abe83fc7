"""The ``decision_hook`` setting: a callable, or the path of one, in every form settings take."""

from __future__ import annotations

import json

import pytest

from audmw import ConfigurationError, Guard, Settings
from audmw.observe import Decision, subject_fingerprint
from audmw.request import IncomingRequest
from audmw.testing import LocalIssuer

ISSUER = "https://issuer.example.com/"
AUDIENCE = "https://api.example.com"


@pytest.mark.parametrize(
    "path",
    ["json:dumps", "json.dumps", " json:dumps "],
)
def test_a_path_names_the_hook(path: str) -> None:
    settings = Settings.from_env(
        {"AUDMW_ISSUER": ISSUER, "AUDMW_AUDIENCE": AUDIENCE, "AUDMW_DECISION_HOOK": path}
    )
    assert settings.decision_hook is json.dumps


def test_no_hook_by_default() -> None:
    assert Settings(issuer=ISSUER, audience=AUDIENCE).decision_hook is None


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("tests.core.no_such_module:record", "cannot be imported"),
        ("json:nothing", "cannot be imported"),
        ("json:__name__", "must be a function"),
        (42, "must be a function"),
    ],
)
def test_a_hook_that_cannot_be_called_stops_start_up(value: object, said: str) -> None:
    with pytest.raises(ConfigurationError, match=said):
        Settings(issuer=ISSUER, audience=AUDIENCE, decision_hook=value)


def test_the_scheme_is_the_one_the_credentials_were_sent_with() -> None:
    """A DPoP-scheme request is refused here, and reported as DPoP."""
    decisions: list[Decision] = []
    with LocalIssuer() as issuer:
        guard = Guard(
            Settings(issuer=issuer.issuer, audience=AUDIENCE, decision_hook=decisions.append)
        )
        assert guard.observer is not None
        for header in (b"DPoP abc.def.ghi", b"Bearer abc.def.ghi"):
            request = IncomingRequest("GET", "/", (header,))
            watch = guard.observer.watch(request)
            with pytest.raises(Exception) as refused:
                watch.authorize(guard, request)
            watch.refused(refused.value)  # type: ignore[arg-type]
    assert [d.scheme for d in decisions] == ["DPoP", "Bearer"]


def test_a_decision_is_reported_once() -> None:
    decisions: list[Decision] = []
    with LocalIssuer() as issuer:
        guard = Guard(
            Settings(issuer=issuer.issuer, audience=AUDIENCE, decision_hook=decisions.append)
        )
        assert guard.observer is not None
        token = issuer.mint(aud=AUDIENCE, sub="alice")
        request = IncomingRequest("GET", "/", (f"Bearer {token}",))
        watch = guard.observer.watch(request, "/x")
        watch.authorize(guard, request)
        watch.accepted()
        watch.accepted()
    (decision,) = decisions
    assert decision.subject == subject_fingerprint("alice")
    assert decision.route == "/x"
