"""Return-to links: where a page sends the browser back to (`back`, `next`), checked.

A return-to value comes from the request, so it is the attacker's to choose: rendered into an
`<a href>` a `javascript:` one runs script with the page's CSRF token, and redirected to a
`//host` one leaves the site. Only a path of this site is taken, under the pages it belongs
to; anything else gives the page's own default.
"""

from __future__ import annotations

__all__ = ["same_site"]


def same_site(value: object, default: str, under: str = "/userman") -> str:
    """`value` when it is a path of this site under `under` (`/userman`, `/userman/users/1A?x`),
    else `default`. Refused: a scheme (`javascript:`), a host (`//evil`, `/\\evil`), and any
    backslash, whitespace or control character (browsers drop or turn them into `/`)."""
    text = value if isinstance(value, str) else ""
    if not text.startswith("/") or text[1:2] in {"/", "\\"}:
        return default
    if any(char == "\\" or char.isspace() or not char.isprintable() for char in text):
        return default
    if text != under and not text.startswith((f"{under}/", f"{under}?", f"{under}#")):
        return default
    return text
