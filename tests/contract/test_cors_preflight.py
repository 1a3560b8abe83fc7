"""CORS preflights with ``cors_preflight`` off and on: only those no view answers open."""

from __future__ import annotations

import pytest

from contract import catalogue
from contract.catalogue import Item
from contract.checking import Exchange, check_item, ids

ITEMS = [item for server in catalogue.servers() for item in catalogue.cors_items(server)]


@pytest.mark.parametrize("item", ITEMS, ids=ids(ITEMS))
def test_cors_preflight(item: Item, exchange: Exchange) -> None:
    check_item(item, exchange)
