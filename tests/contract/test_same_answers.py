"""Every refusal case answers with the same status, challenge and body bytes in every adapter.

Refusals are grouped by what the oracle says the request needs and the token it carries;
within a group each server gets one request of its own routes, and the answers must match
byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from contract import catalogue
from contract.catalogue import Probe
from contract.checking import Exchange, describe_refusal


@dataclass(frozen=True)
class Group:
    key: str
    probes: tuple[Probe, ...]  # one per server


def _key(probe: Probe) -> str:
    refusal = probe.expected.refusal
    assert refusal is not None
    # Where the adapter decides differs (a view, a framework answer): each is compared.
    key = f"{describe_refusal(refusal).replace(' ', '-')}-token={probe.token}"
    key += f"-{probe.answered_by}"
    if refusal.status == 403:
        # The order of the parts decides the order of the alternatives in the answer.
        key += "-needs=" + "&".join(
            f"{part.kind}({'|'.join(part.scopes)})" for part in probe.need.parts
        )
    return key


def _groups() -> list[Group]:
    found: dict[str, dict[str, Probe]] = {}
    for server in catalogue.servers(cors_preflight=False):
        for item in catalogue.every_item(server):
            for probe in item.probes:
                if probe.expected.refusal is None or probe.method == "HEAD":
                    continue  # let through, or no body to compare
                found.setdefault(_key(probe), {}).setdefault(probe.server, probe)
    return [
        Group(key, tuple(by_server.values()))
        for key, by_server in sorted(found.items())
        if len(by_server) > 1
    ]


GROUPS = _groups()


@pytest.mark.parametrize("group", GROUPS, ids=[group.key for group in GROUPS])
def test_same_refusal_bytes(group: Group, exchange: Exchange) -> None:
    answers: dict[str, tuple[int, str | None, bytes]] = {}
    for probe in group.probes:
        response = exchange(probe).response
        answers[probe.server] = (
            response.status,
            response.header("www-authenticate"),
            response.body,
        )
    table = "\n".join(
        f"{server} ({probe.label}): {answers[server]!r}"
        for server, probe in zip(answers, group.probes, strict=True)
    )
    assert len(set(answers.values())) == 1, f"different answers for one case:\n{table}"
    refusal = group.probes[0].expected.refusal
    assert refusal is not None
    assert next(iter(answers.values()))[0] == refusal.status, table
