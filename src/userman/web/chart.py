"""A user's usage over time as an inline SVG bar chart, drawn on the server: no script, no
chart library, nothing loaded from anywhere. Download and upload are stacked per day, with a
tooltip (<title>) on each bar and a scale in powers of 1024, as the pages show sizes. Nothing
used: no chart (the page says so) rather than an empty axis. Labels stay inside the picture:
the scale's right-aligned in a left margin wide enough for them at a phone's larger type
(userman.css), the last day's ending at the right edge."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from userman.services.usage import Day
from userman.web.pages import human_bytes

__all__ = ["usage_chart"]

WIDTH, HEIGHT = 760, 220
LEFT, RIGHT, TOP, BOTTOM = 92, 8, 12, 32
DOWN, UP = "#2f6fb0", "#7fb77e"


def _scale(top: int) -> int:
    """A round value at or above `top` for the axis: 1, 2 or 5 times a power of 1024 or 10."""
    if top <= 0:
        return 1024
    unit = 1
    while unit * 1024 <= top:
        unit *= 1024
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1024):
        if unit * step >= top:
            return unit * step
    return unit * 1024


def _axis(count: int) -> str:
    """A scale's label, short: 768 MiB, 1.5 GiB (no ".0")."""
    return human_bytes(count).replace(".0 ", " ")


def usage_chart(days: Sequence[Day]) -> Markup:
    """The chart of `days`; empty when nothing was downloaded or uploaded in them."""
    most = max((d.download + d.upload for d in days), default=0)
    if most <= 0:
        return Markup("")
    top = _scale(most)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(days))
    bar = max(2.0, slot * 0.7)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="download and upload per day" xmlns="http://www.w3.org/2000/svg">'
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_axis(int(top * fraction)))}</text>"
        )
    for index, day in enumerate(days):
        x = LEFT + index * slot + (slot - bar) / 2
        down_h = plot_h * day.download / top
        up_h = plot_h * day.upload / top
        tip = escape(
            f"{day.day:%a %d %b}: {human_bytes(day.download)} down, "
            f"{human_bytes(day.upload)} up, {day.sessions} sessions"
        )
        base = TOP + plot_h
        parts.append(
            f'<g class="day"><title>{tip}</title>'
            f'<rect x="{x:.1f}" y="{base - down_h:.1f}" width="{bar:.1f}" height="{down_h:.1f}" '
            f'fill="{DOWN}"/>'
            f'<rect x="{x:.1f}" y="{base - down_h - up_h:.1f}" width="{bar:.1f}" '
            f'height="{up_h:.1f}" fill="{UP}"/>'
            f'<rect x="{LEFT + index * slot:.1f}" y="{TOP}" width="{slot:.1f}" '
            f'height="{plot_h}" fill="transparent"/></g>'
        )
        if (len(days) - 1 - index) % 7 == 0:
            label = escape(f"{day.day:%d %b}")
            last = index == len(days) - 1  # centred, it would run off the right edge
            where = (
                f'x="{WIDTH - RIGHT}" text-anchor="end"'
                if last
                else (f'x="{x + bar / 2:.1f}" text-anchor="middle"')
            )
            parts.append(f'<text {where} y="{HEIGHT - 8}">{label}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
