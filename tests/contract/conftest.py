"""One LocalIssuer, one set of tokens and every contract server, started once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from audmw.testing import LocalIssuer
from contract import spec
from contract.checking import Exchange, Tokens
from contract.servers import Fleet

TOKEN_LIFETIME = 3600  # outlives any run of the suite


@pytest.fixture(scope="session")
def contract_issuer() -> Iterator[LocalIssuer]:
    with LocalIssuer() as issuer:
        yield issuer


@pytest.fixture(scope="session")
def tokens(contract_issuer: LocalIssuer) -> Tokens:
    minted: dict[str, str | None] = {}
    for kind, scopes in spec.TOKEN_SCOPES.items():
        if scopes is None:
            minted[kind] = None
        elif scopes == spec.GARBAGE:
            minted[kind] = "not-a-jwt"
        else:
            minted[kind] = contract_issuer.mint(
                aud=spec.AUDIENCE, scopes=list(scopes), expires_in=TOKEN_LIFETIME
            )
    return Tokens(minted)


@pytest.fixture(scope="session")
def fleet(
    contract_issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    servers = Fleet(contract_issuer.issuer, tmp_path_factory.mktemp("contract-servers"))
    yield servers
    servers.close()


@pytest.fixture(scope="session")
def exchange(fleet: Fleet, tokens: Tokens) -> Exchange:
    return Exchange(fleet, tokens)
