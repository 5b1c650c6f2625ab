"""The use cases, one transaction each; the only layer the adapters call."""

from __future__ import annotations

from userman.services.actor import Actor
from userman.services.app import Userman, default_url
from userman.services.commands import MENU_PATHS, SPECIAL, verbs_of
from userman.services.menus import MENU_ALIASES, MENUS, Menu, Prop, Scope
from userman.services.permissions import may_change
from userman.services.request import Outcome, Request
from userman.services.routers import RouterInfo
from userman.services.verbs import ExportItem, Item

__all__ = [
    "MENUS",
    "MENU_ALIASES",
    "MENU_PATHS",
    "SPECIAL",
    "Actor",
    "ExportItem",
    "Item",
    "Menu",
    "Outcome",
    "Prop",
    "Request",
    "RouterInfo",
    "Scope",
    "Userman",
    "default_url",
    "may_change",
    "verbs_of",
]
