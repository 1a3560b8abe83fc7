"""Sending a probe and judging the answer against the oracle's expectation."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from audmw.testing import challenges
from contract import oracle, spec
from contract.catalogue import Item, Probe
from contract.rawhttp import Response
from contract.servers import Fleet, StartFailed


class Tokens:
    """Token kind -> the token, kept out of every repr and message."""

    def __init__(self, minted: Mapping[str, str | None]) -> None:
        self._minted = dict(minted)

    def authorization(self, kind: str) -> str | None:
        token = self._minted[kind]
        return None if token is None else f"Bearer {token}"

    def __repr__(self) -> str:
        return f"Tokens({', '.join(self._minted)})"


@dataclass(frozen=True)
class Observed:
    response: Response
    ran: str | None  # the view of ours that ran for this request, if any


class Exchange:
    """Sends probes to their servers, each with an id the views log when they run."""

    def __init__(self, fleet: Fleet, tokens: Tokens) -> None:
        self.fleet = fleet
        self.tokens = tokens
        self._ids = itertools.count(1)

    def __call__(self, probe: Probe) -> Observed:
        try:
            server = self.fleet.get(probe.server)
        except StartFailed as failure:
            pytest.fail(str(failure), pytrace=False)
        request_id = str(next(self._ids))
        headers = [(spec.REQUEST_ID_HEADER, request_id), *probe.headers]
        authorization = self.tokens.authorization(probe.token)
        if authorization is not None:
            headers.append(("Authorization", authorization))
        try:
            response = server.send(probe.method, probe.target, headers)
        except (OSError, ValueError) as error:
            # No traceback: its frames hold the request, token and all.
            pytest.fail(
                f"{probe.server} gave no answer to {probe.label}: {type(error).__name__}: "
                f"{error}\n{server.log_tail()}",
                pytrace=False,
            )
        return Observed(response, server.ran.read_new().get(request_id))


_PARAM = re.compile(r'([A-Za-z_]+)="((?:[^"\\]|\\.)*)"')


def parse_challenge(value: str | None) -> tuple[str, dict[str, str], str]:
    """Scheme, parameters and the raw parameter text of the first challenge of a
    ``WWW-Authenticate`` value (``Bearer``; a ``DPoP`` challenge with its ``algs`` follows
    it, as DPoP is accepted too)."""
    if value is None:
        return "", {}, ""
    scheme = value.partition(" ")[0].rstrip(",")
    found = challenges(value)
    rest = value[len(scheme) :]
    if "dpop" in found and scheme.lower() != "dpop":
        rest = rest[: rest.rfind("DPoP ")].rstrip(" ,")
    return scheme, dict(_PARAM.findall(rest)), rest.strip()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def describe_refusal(refusal: oracle.Refusal) -> str:
    text = f"{refusal.status} {refusal.error or 'bare challenge'}"
    if refusal.scope:
        text += f" scope={' '.join(sorted(refusal.scope))}"
    return text


def describe_expected(probe: Probe) -> str:
    expected = probe.expected
    if expected.refusal is not None:
        return describe_refusal(expected.refusal)
    text = f"{expected.status} let through"
    if expected.view:
        text += f", view {expected.view} runs"
    else:
        text += ", none of our views runs"
    if expected.served:
        text += f", serving {expected.served}"
    return text


def describe_observed(observed: Observed) -> str:
    response = observed.response
    text = str(response.status)
    scheme, params, _ = parse_challenge(response.header("www-authenticate"))
    if scheme:
        text += f" {params.get('error', 'bare challenge')}"
        if "scope" in params:
            text += f" scope={params['scope']}"
    if observed.ran:
        text += f", view {observed.ran} ran"
    body = _json(response.body)
    if isinstance(body, dict) and "served" in body:
        text += f", serving {body['served']}"
    elif response.body and not (isinstance(body, dict) and ("view" in body or scheme)):
        text += f", body {response.body[:100]!r}"  # neither a view's nor audmw's answer
    return text


def _refusal_holds(probe: Probe, observed: Observed, refusal: oracle.Refusal) -> bool:
    response = observed.response
    if response.status != refusal.status or observed.ran is not None:
        return False
    scheme, params, raw = parse_challenge(response.header("www-authenticate"))
    if scheme != "Bearer":
        return False
    if refusal.error is None:
        # The bare challenge; a realm may follow.
        if raw and set(params) != {"realm"}:
            return False
    elif params.get("error") != refusal.error:
        return False
    if refusal.scope and set(params.get("scope", "").split()) != refusal.scope:
        return False
    if not (response.header("content-type") or "").startswith("application/json"):
        return False
    if probe.method == "HEAD":
        return True
    body = _json(response.body)
    if not isinstance(body, dict) or body.get("error") != (refusal.error or "unauthorized"):
        return False
    return not refusal.scope or set(str(body.get("scope", "")).split()) == refusal.scope


def _let_through_holds(probe: Probe, observed: Observed) -> bool:
    expected, response = probe.expected, observed.response
    if response.status != expected.status or response.header("www-authenticate") is not None:
        return False
    if observed.ran != expected.view:
        return False
    if expected.view is None or probe.method == "HEAD":
        return True
    body = _json(response.body)
    if not isinstance(body, dict) or body.get("view") != expected.view:
        return False
    return expected.served is None or body.get("served") == expected.served


def problem(probe: Probe, observed: Observed) -> str | None:
    """None when the answer is the expected one, else a line saying what differs."""
    refusal = probe.expected.refusal
    holds = (
        _let_through_holds(probe, observed)
        if refusal is None
        else _refusal_holds(probe, observed, refusal)
    )
    if holds:
        return None
    return f"{probe.label}: expected {describe_expected(probe)}; got {describe_observed(observed)}"


def check_item(item: Item, exchange: Exchange) -> None:
    problems = [found for probe in item.probes if (found := problem(probe, exchange(probe)))]
    assert not problems, "\n".join(problems)


def ids(items: Iterable[Item]) -> list[str]:
    return [item.id for item in items]
