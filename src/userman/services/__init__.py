"""The use cases, one transaction each; the only layer the adapters call."""

from __future__ import annotations

from userman.services.aaa import RouterInfo
from userman.services.actor import Actor
from userman.services.app import Outcome, Userman, default_url
from userman.services.menus import MENUS, Menu, Prop
from userman.services.verbs import Item

__all__ = [
    "MENUS",
    "Actor",
    "Item",
    "Menu",
    "Outcome",
    "Prop",
    "RouterInfo",
    "Userman",
    "default_url",
]
