"""How command results look: RouterOS's numbered list with flags, `terse`, `count-only`, JSON,
and `export` as a RouterOS script."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from userman.cli.syntax import quote_value
from userman.services import ExportItem, Item, Menu, Outcome

__all__ = ["render_export", "render_json", "render_outcome"]

HEADER = "/tool user-manager"


def _pair(menu: Menu, name: str, text: str) -> str:
    quoted = quote_value(text) if text else ""
    prop = menu.by_name.get(name)
    if prop is not None and prop.kind.name == "string" and prop.ref is None:
        # RouterOS prints strings in quotes, other values bare.
        inner = quoted[1:-1] if quoted.startswith('"') else quoted
        return f'{name}="{inner}"'
    return f"{name}={quoted}"


def _flag_legend(menu: Menu) -> str:
    return ", ".join(f"{letter} - {meaning}" for letter, meaning, _ in menu.flags)


def render_outcome(outcome: Outcome, width: int = 100) -> str:
    """What a command shows: `print` and `find` a list (its flags' legend even when empty),
    `export` a script, `count-only` a number, other verbs their items or message if they have
    any, and nothing else: `set`, `remove`, `enable`, `disable` print nothing, as in RouterOS."""
    if outcome.exported:
        return render_export(outcome.exported)
    if outcome.count is not None and "count-only" in outcome.options:
        return str(outcome.count)
    menu = outcome.menu
    if menu is None and outcome.items and not outcome.message:
        # Items of what is not a menu (settings, certificates): each as a menu of one item.
        return "\n\n".join(_render_single(item) for item in outcome.items)
    if menu is None or outcome.message or not (outcome.items or outcome.listing):
        return outcome.message
    lines: list[str] = []
    terse = "terse" in outcome.options
    if menu.flags and not terse:
        lines.append(f"Flags: {_flag_legend(menu)}")
    numbers = outcome.numbers or tuple(range(len(outcome.items)))
    flag_width = len(menu.flags) + 1  # room for every flag letter and a space
    for number, item in zip(numbers, outcome.items, strict=True):
        pairs = [_pair(menu, name, text) for name, text in item.fields if name != "active"]
        head = f"{number:>2} {item.flags:<{flag_width}}"
        if terse:
            lines.append(f"{head}{' '.join(pairs)}".rstrip())
            continue
        lines.extend(_wrap(head, pairs, width))
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _render_single(item: Item) -> str:
    """A menu of one item (settings) as RouterOS prints one (`/ip dns print`): `name: value`."""
    width = max((len(name) for name, _ in item.fields), default=0)
    return "\n".join(
        f"{name:>{width}}: {quote_value(text) if text else ''}" for name, text in item.fields
    )


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


def render_json(items: Iterable[Item] | Item) -> str:
    """A JSON array of the items' objects, or one item's object."""
    if isinstance(items, Item):
        return json.dumps(items.json, indent=2)
    return json.dumps([item.json for item in items], indent=2)


def render_export(lines: Sequence[ExportItem]) -> str:
    """A RouterOS script: a menu header line, then one `add`/`set` line per item."""
    out: list[str] = []
    menu = None
    for line in lines:
        if line.menu != menu:
            menu = line.menu
            out.append(f"{HEADER} {menu}")
        words = [line.verb, *(quote_value(p) for p in line.positional)]
        words.extend(f"{name}={quote_value(text)}" for name, text in line.args)
        out.append(" ".join(words))
    return "\n".join(out)
