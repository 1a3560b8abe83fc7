"""Exempt paths, public rules, scope rules and the forms a path can take on the wire."""

from __future__ import annotations

import pytest

from contract import catalogue
from contract.catalogue import Item
from contract.checking import Exchange, check_item, ids

ITEMS = [
    item
    for server in catalogue.servers(cors_preflight=False)
    for item in catalogue.path_items(server)
]


@pytest.mark.parametrize("item", ITEMS, ids=ids(ITEMS))
def test_paths(item: Item, exchange: Exchange) -> None:
    check_item(item, exchange)
