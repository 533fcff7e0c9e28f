"""Theme colours as Rich styles, for the logs (which render Rich text, not Textual markup)."""

from __future__ import annotations

from rich.style import Style
from textual.color import Color, ColorParseError


def theme_styles(variables: dict[str, str]) -> dict[str, Style]:
    """A Rich style per theme colour variable, translucent ones blended over the background."""
    background = _parse(variables.get("background", "#000000")) or Color(0, 0, 0)
    styles: dict[str, Style] = {}
    for name, value in variables.items():
        colour = _parse(value)
        if colour is None:
            continue
        if colour.a < 1:
            colour = background.blend(colour.with_alpha(1.0), colour.a)
        styles[name] = Style(color=colour.rich_color)
    return styles


def _parse(value: str) -> Color | None:
    try:
        return Color.parse(value)
    except ColorParseError:
        return None
