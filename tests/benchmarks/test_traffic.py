"""A tiny run of ``bench.traffic``: every variant under its real server decides every request
as expected (statuses only; the timings are the benchmark's, never a test's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from audmw.testing import LocalIssuer
from bench.traffic import ALGS, Mismatch, measure, run_framework, start, workload
from bench.traffic_apps import AUDIENCE, FRAMEWORKS, LIMITS, VARIANTS


@pytest.fixture(scope="module")
def issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer(audience=AUDIENCE) as running:
        yield running


def test_one_request_in_twenty_is_refused_each_kind_in_turn(issuer: LocalIssuer) -> None:
    requests = workload(issuer, clients=6, per_client=20, seed=1)
    assert len(requests) == 120
    assert Counter(request.status for request in requests) == {200: 114, 401: 4, 403: 2}
    refused = [request for request in requests if request.status != 200]
    assert Counter(request.path for request in refused) == {"/api/me": 4, "/api/admin": 2}
    assert Counter(request.alg for request in requests) == dict.fromkeys(ALGS, 40)
    # One valid token per client, reused for every one of its accepted requests.
    assert len({request.token for request in requests if request.status == 200}) == 6


def test_a_limited_peer_is_given_only_the_algorithms_it_can_take(issuer: LocalIssuer) -> None:
    algs, _why = LIMITS["simplejwt"]
    requests = workload(issuer, clients=3, per_client=4, seed=1, algs=algs)
    assert {request.alg for request in requests} == {"RS256"}


def test_a_wrong_answer_stops_the_run(issuer: LocalIssuer) -> None:
    server = start("starlette", "no-auth", issuer)
    try:
        requests = workload(issuer, clients=3, per_client=20, seed=1)
        measure(server, requests, connections=2, baseline=True)  # 200 is right for no-auth
        with pytest.raises(Mismatch, match=r"expected 40[13]"):
            measure(server, requests, connections=2, baseline=False)
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_variant_decides_every_request(issuer: LocalIssuer, framework: str) -> None:
    figures = run_framework(framework, issuer, clients=6, per_client=20, rounds=1, connections=4)
    assert set(figures) <= set(VARIANTS[framework])
    assert {"no-auth", "audmw", "pyjwt"} <= set(figures)
