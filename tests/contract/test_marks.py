"""Every placement of public / require_scopes / require_any_scope, x methods x tokens."""

from __future__ import annotations

import pytest

from contract import catalogue
from contract.catalogue import Item
from contract.checking import Exchange, check_item, ids

ITEMS = [
    item
    for server in catalogue.servers(cors_preflight=False)
    for item in catalogue.marks_items(server)
]
HEAD_ONLY = [
    catalogue.head_only_viewset_item(server)
    for server in catalogue.servers(cors_preflight=False)
    if server.family == "django"
]


@pytest.mark.parametrize("item", ITEMS, ids=ids(ITEMS))
def test_marks(item: Item, exchange: Exchange) -> None:
    check_item(item, exchange)


@pytest.mark.parametrize("item", HEAD_ONLY, ids=ids(HEAD_ONLY))
def test_viewset_action_marks_hold_for_the_first_head(item: Item, exchange: Exchange) -> None:
    """HEAD reaches the get action; this viewset never gets a GET first."""
    check_item(item, exchange)
