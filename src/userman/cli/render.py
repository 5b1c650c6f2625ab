"""How `print` output looks: RouterOS's numbered list with flags, `detail`, `terse`, or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable

from userman.cli.syntax import quote_value
from userman.services import Item, Menu, Outcome

__all__ = ["render_json", "render_print"]


def _pair(menu: Menu, name: str, text: str) -> str:
    prop = menu.by_name.get(name)
    quoted = quote_value(text) if text else ""
    if prop is not None and prop.kind.name == "string":
        # RouterOS prints strings in quotes, other values bare.
        inner = quoted[1:-1] if quoted.startswith('"') else quoted
        return f'{name}="{inner}"'
    return f"{name}={quoted}"


def _flag_legend(menu: Menu) -> str:
    return ", ".join(f"{letter} - {meaning}" for letter, meaning, _ in menu.flags)


def render_print(outcome: Outcome, width: int = 100) -> str:
    menu = outcome.menu
    lines: list[str] = []
    if menu.flags and "terse" not in outcome.options:
        lines.append(f"Flags: {_flag_legend(menu)}")
    for number, item in enumerate(outcome.items):
        pairs = [_pair(menu, name, text) for name, text in item.fields if name != "active"]
        head = f"{number:>2} {item.flags:<2}"
        if "terse" in outcome.options:
            lines.append(f"{head}{' '.join(pairs)}")
            continue
        lines.extend(_wrap(head, pairs, width))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _wrap(head: str, pairs: Iterable[str], width: int) -> list[str]:
    lines: list[str] = []
    current = head
    indent = " " * len(head)
    for pair in pairs:
        if len(current) + len(pair) + 1 > width and current.strip() and current != head:
            lines.append(current.rstrip())
            current = indent
        current += pair + " "
    lines.append(current.rstrip())
    return lines


def render_json(items: Iterable[Item]) -> str:
    return json.dumps([item.json for item in items], indent=2)
