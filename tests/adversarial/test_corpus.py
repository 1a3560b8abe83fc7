"""The adversarial corpus against the core and through every adapter's real server.

See ``corpus.py`` for the cases; the counting server at the end proves that no ``jku`` or
``x5u`` of any case was fetched.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from adversarial.corpus import CASES, Case
from adversarial.kit import Kit
from adversarial.running import (
    ADAPTERS,
    Adapters,
    core_log_problems,
    core_outcome,
    corpus_settings,
    describe_outcome,
    server_problems,
    start_failure,
)
from audmw import Guard
from audmw.testing import LocalIssuer

# Every test here once per base64 decoder: both refuse exactly the same tokens.
pytestmark = pytest.mark.usefixtures("each_base64_decoder")

IDS = [case.id for case in CASES]


@pytest.fixture(scope="module")
def guards(kit: Kit) -> tuple[Guard, Guard]:
    """One guard for sync checks, one for async: each fetches and caches on its own."""
    return Guard(corpus_settings(kit.issuer.issuer)), Guard(corpus_settings(kit.issuer.issuer))


def test_the_corpus_is_large_and_every_case_is_named_once() -> None:
    assert len(CASES) >= 200
    assert len(set(IDS)) == len(IDS)
    areas = Counter(case.area for case in CASES)
    for area in ("algorithm", "kid", "embedded", "crit", "base64", "json", "dates", "audience"):
        assert areas[area] >= 3, area
    for case in CASES:
        assert (case.expect.status == 200) == bool(case.accepted_because), case.id


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_core(
    case: Case, kit: Kit, guards: tuple[Guard, Guard], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="audmw")
    sync_guard, async_guard = guards
    sent = case.build(kit)
    outcomes = {
        "sync": core_outcome(sync_guard, sent),
        "async": core_outcome(async_guard, sent, use_async=True),
    }
    problems = [
        f"{way}: expected {describe_outcome(case.expect)}, got {describe_outcome(outcome)}"
        for way, outcome in outcomes.items()
        if outcome != case.expect
    ]
    problems += core_log_problems(caplog.records, sent)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_adapters(case: Case, kit: Kit, adapters: Adapters) -> None:
    problems = []
    for server in ADAPTERS:
        failure = start_failure(adapters, server.name)
        if failure is not None:
            pytest.fail(failure, pytrace=False)
        sent = case.build(kit)
        observed = adapters.send(server.name, sent)
        problems += [
            f"{server.name}: {problem}"
            for problem in server_problems(case, server.http_server, sent, observed)
        ]
    assert not problems, "\n".join(problems)


def test_no_key_url_in_a_token_is_fetched(
    counting_server: LocalIssuer, kit: Kit, adapters: Adapters, guards: tuple[Guard, Guard]
) -> None:
    """jku, x5u and x5c point at the counting server: the core and every adapter ignore them."""
    embedded = [case for case in CASES if case.area == "embedded"]
    assert len(embedded) >= 8
    for case in embedded:
        sent = case.build(kit)
        for guard in guards:
            core_outcome(guard, sent)
        for server in ADAPTERS:
            adapters.send(server.name, sent)
    assert counting_server.requests == []
