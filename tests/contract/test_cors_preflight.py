"""CORS preflights with ``cors_preflight`` off and on: only those no view answers open."""

from __future__ import annotations

import pytest

from contract import catalogue
from contract.catalogue import Item
from contract.checking import Exchange, check_item, ids

ITEMS = [item for server in catalogue.servers() for item in catalogue.cors_items(server)]
THROUGH_MARKS = [
    item
    for server in catalogue.servers(cors_preflight=True)
    for item in catalogue.preflight_marks_items(server)
]


@pytest.mark.parametrize("item", ITEMS, ids=ids(ITEMS))
def test_cors_preflight(item: Item, exchange: Exchange) -> None:
    check_item(item, exchange)


@pytest.mark.parametrize("item", THROUGH_MARKS, ids=ids(THROUGH_MARKS))
def test_cors_preflight_through_marks(item: Item, exchange: Exchange) -> None:
    """With cors_preflight on: open where no view answers OPTIONS, else the marks decide."""
    check_item(item, exchange)
