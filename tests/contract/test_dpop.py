"""DPoP in every adapter, as real servers: Starlette and FastAPI under uvicorn, Django under
waitress and uvicorn, Flask under waitress, all sharing one real Redis replay store.

Every server trusts the proxy at 127.0.0.2 (a client connecting from that address) and
knows its origins: ``https://api.example.com`` (through the proxy) and its own
``http://127.0.0.1:<port>``. DPoP nonces are on, with one secret for the fleet, so each
request makes the nonce round trip the first time and reuses the nonce afterwards.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from audmw.testing import DEFECTS, DPoPKey, LocalIssuer
from audmw.testing.refusals import challenges
from contract import spec
from contract.servers import BY_NAME, ServerProcess

ADAPTERS = ("starlette", "fastapi", "django-wsgi", "django-asgi", "flask")
PATH = "/reports/1"
SCOPES = ["reports:read"]
PROXY = "127.0.0.2"
PUBLIC = "https://api.example.com"
NONCE_LIFETIME = 5  # seconds: short, so that one test sees the nonce rotate
FORWARDED = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "api.example.com")]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def challenge(self) -> dict[str, dict[str, str]]:
        return challenges(self.headers.get("www-authenticate", ""))


class DPoPFleet:
    def __init__(self, issuer: LocalIssuer, redis_url: str, directory: object) -> None:
        environment = {
            "AUDMW_DPOP": "allowed",
            "AUDMW_DPOP_NONCE": "true",
            "AUDMW_DPOP_NONCE_SECRET": "contract-nonce-secret-of-32-bytes!",
            "AUDMW_DPOP_NONCE_LIFETIME": str(NONCE_LIFETIME),
            "AUDMW_REPLAY_STORE": redis_url,
            "AUDMW_TRUSTED_PROXIES": PROXY,
            "AUDMW_ORIGINS": f"{PUBLIC}, http://127.0.0.1:{{port}}",
            "CONTRACT_KEEP_PROXY_HEADERS": "1",
        }
        self.servers = {
            name: ServerProcess(BY_NAME[name], issuer.issuer, directory, environment)  # type: ignore[arg-type]
            for name in ADAPTERS
        }
        for server in self.servers.values():
            server.launch()
        self.nonce = ""

    def get(self, name: str) -> ServerProcess:
        server = self.servers[name]
        server.ready()
        return server

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()

    def send(
        self,
        name: str,
        headers: list[tuple[str, str]],
        *,
        source: str = "127.0.0.1",
        host: str | None = None,
    ) -> Answer:
        server = self.get(name)
        connection = http.client.HTTPConnection(
            "127.0.0.1", server.port, timeout=15, source_address=(source, 0)
        )
        try:
            connection.putrequest("GET", PATH, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", host or f"127.0.0.1:{server.port}")
            for header, value in headers:
                connection.putheader(header, value)
            connection.endheaders()
            response = connection.getresponse()
            answer = Answer(
                response.status,
                {key.lower(): value for key, value in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()
        if "dpop-nonce" in answer.headers:
            self.nonce = answer.headers["dpop-nonce"]
        return answer

    def dpop(
        self,
        name: str,
        key: DPoPKey,
        token: str,
        *,
        defect: str | None = None,
        proxied: bool = False,
        url: str | None = None,
        host: str | None = None,
        source: str | None = None,
    ) -> Answer:
        """A DPoP request; on ``use_dpop_nonce`` it is made again with the new nonce."""
        server = self.get(name)
        if url is None:
            url = (PUBLIC if proxied else f"http://127.0.0.1:{server.port}") + PATH
        extra = FORWARDED if proxied else []
        origin = source or (PROXY if proxied else "127.0.0.1")
        for _ in range(2):
            proof = key.proof("GET", url, token, nonce=self.nonce or None, defect=defect)
            headers = [("Authorization", f"DPoP {token}"), ("DPoP", proof), *extra]
            answer = self.send(name, headers, source=origin, host=host)
            if answer.challenge.get("dpop", {}).get("error") != "use_dpop_nonce":
                return answer
        return answer


@pytest.fixture(scope="module")
def fleet(
    contract_issuer: LocalIssuer, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DPoPFleet]:
    servers = DPoPFleet(contract_issuer, redis_url, tmp_path_factory.mktemp("dpop-servers"))
    yield servers
    servers.close()


@pytest.fixture(scope="module")
def key() -> DPoPKey:
    return DPoPKey()


@pytest.fixture(scope="module")
def token(contract_issuer: LocalIssuer, key: DPoPKey) -> str:
    return contract_issuer.mint(aud=spec.AUDIENCE, scopes=SCOPES, dpop=key, expires_in=3600)


def _view_ran(answer: Answer) -> bool:
    try:
        return json.loads(answer.body).get("view") == "reports"
    except (ValueError, AttributeError):
        return False


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_valid_proof_is_accepted(
    fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str
) -> None:
    answer = fleet.dpop(adapter, key, token)
    assert answer.status == 200, answer
    assert _view_ran(answer)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_nonce_round_trip(fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str) -> None:
    url = f"http://127.0.0.1:{fleet.get(adapter).port}{PATH}"
    proof = key.proof("GET", url, token)  # no nonce
    answer = fleet.send(adapter, [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
    assert answer.status == 401
    assert answer.challenge["dpop"]["error"] == "use_dpop_nonce"
    assert "error" not in answer.challenge["bearer"]
    nonce = answer.headers["dpop-nonce"]
    assert json.loads(answer.body)["error"] == "use_dpop_nonce"
    proof = key.proof("GET", url, token, nonce=nonce)
    answer = fleet.send(adapter, [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
    assert answer.status == 200, answer


@pytest.mark.parametrize("defect", sorted(DEFECTS))
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_proof_with_one_defect_is_refused(
    fleet: DPoPFleet, adapter: str, defect: str, key: DPoPKey, token: str
) -> None:
    answer = fleet.dpop(adapter, key, token, defect=defect)
    assert answer.status == 401, answer
    assert not _view_ran(answer)
    wanted = "use_dpop_nonce" if defect == "nonce" else "invalid_dpop_proof"
    assert answer.challenge["dpop"]["error"] == wanted
    assert answer.challenge["dpop"]["algs"]
    assert json.loads(answer.body)["error"] == wanted


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_two_proof_headers_are_refused(
    fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str
) -> None:
    url = f"http://127.0.0.1:{fleet.get(adapter).port}{PATH}"
    proofs = [("DPoP", key.proof("GET", url, token, nonce=fleet.nonce)) for _ in range(2)]
    answer = fleet.send(adapter, [("Authorization", f"DPoP {token}"), *proofs])
    assert answer.status == 401, answer
    assert answer.challenge["dpop"]["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize("index", range(len(ADAPTERS)))
def test_a_replay_to_another_worker_process_is_refused(
    fleet: DPoPFleet, index: int, key: DPoPKey, token: str
) -> None:
    first, second = ADAPTERS[index], ADAPTERS[(index + 1) % len(ADAPTERS)]
    fleet.dpop(first, key, token, proxied=True)  # learn the current nonce
    proof = key.proof("GET", PUBLIC + PATH, token, nonce=fleet.nonce)
    headers = [("Authorization", f"DPoP {token}"), ("DPoP", proof), *FORWARDED]
    accepted = fleet.send(first, headers, source=PROXY)
    assert accepted.status == 200, accepted
    # The second process accepts a fresh proof of the same request: only the jti it has not
    # seen itself, but the first process recorded in Redis, makes the replay fail.
    fresh = key.proof("GET", PUBLIC + PATH, token, nonce=fleet.nonce)
    fresh_headers = [("Authorization", f"DPoP {token}"), ("DPoP", fresh), *FORWARDED]
    assert fleet.send(second, fresh_headers, source=PROXY).status == 200
    replayed = fleet.send(second, headers, source=PROXY)
    assert replayed.status == 401, replayed
    assert replayed.challenge["dpop"]["error"] == "invalid_dpop_proof"
    again = fleet.send(first, headers, source=PROXY)
    assert again.status == 401, again


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_bound_token_sent_as_bearer_is_refused(
    fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str
) -> None:
    url = f"http://127.0.0.1:{fleet.get(adapter).port}{PATH}"
    proof = key.proof("GET", url, token, nonce=fleet.nonce)
    answer = fleet.send(adapter, [("Authorization", f"Bearer {token}"), ("DPoP", proof)])
    assert answer.status == 401, answer
    assert answer.challenge["bearer"]["error"] == "invalid_token"
    assert "error" not in answer.challenge["dpop"]
    assert not _view_ran(answer)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_htu_behind_a_trusted_proxy(
    fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str
) -> None:
    answer = fleet.dpop(adapter, key, token, proxied=True)
    assert answer.status == 200, answer


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_forwarded_headers_from_an_untrusted_client_are_ignored(
    fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str
) -> None:
    # The proxy's headers, from 127.0.0.1 instead of the trusted 127.0.0.2: the proof for the
    # public URL does not fit the URL this request really came to.
    server = fleet.get(adapter)
    url = PUBLIC + PATH
    answer = fleet.dpop(adapter, key, token, url=url, proxied=True, source="127.0.0.1")
    assert answer.status == 401, answer
    assert answer.challenge["dpop"]["error"] == "invalid_dpop_proof"
    assert server.port  # the same server accepts the same proof through the proxy (above)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_forged_host_is_refused(fleet: DPoPFleet, adapter: str, key: DPoPKey, token: str) -> None:
    # A proof made for another server, sent here with that server's Host.
    answer = fleet.dpop(
        adapter, key, token, url="http://evil.example.com" + PATH, host="evil.example.com"
    )
    assert answer.status in (400, 401), answer  # Django refuses a Host not in ALLOWED_HOSTS
    assert not _view_ran(answer)
    forged = fleet.dpop(
        adapter,
        key,
        token,
        url=PUBLIC + PATH,
        host="api.example.com",
    )
    assert forged.status in (400, 401), forged
    assert not _view_ran(forged)


def test_after_a_rotation_the_old_nonce_counts_and_the_answer_brings_the_new_one(
    fleet: DPoPFleet, key: DPoPKey, token: str
) -> None:
    def learn(adapter: str) -> str:
        url = f"http://127.0.0.1:{fleet.get(adapter).port}{PATH}"
        proof = key.proof("GET", url, token)  # no nonce: the answer says the current one
        answer = fleet.send(adapter, [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
        return answer.headers["dpop-nonce"]

    old = learn(ADAPTERS[0])
    deadline = time.monotonic() + 4 * NONCE_LIFETIME
    while (new := learn(ADAPTERS[0])) == old:
        assert time.monotonic() < deadline, "the nonce never rotated"
        time.sleep(0.25)
    for adapter in ADAPTERS:
        url = f"http://127.0.0.1:{fleet.get(adapter).port}{PATH}"
        proof = key.proof("GET", url, token, nonce=old)
        answer = fleet.send(adapter, [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
        assert answer.status == 200, (adapter, answer)
        assert answer.headers.get("dpop-nonce") == new, adapter
        # With the current nonce, no header: nothing new to learn.
        proof = key.proof("GET", url, token, nonce=new)
        answer = fleet.send(adapter, [("Authorization", f"DPoP {token}"), ("DPoP", proof)])
        assert answer.status == 200, (adapter, answer)
        assert "dpop-nonce" not in answer.headers, adapter
