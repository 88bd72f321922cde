"""Charts drawn on the server as SVG (pure: strings in, a string out; no JavaScript).

Every chart is an image with a name: ``role="img"``, a ``<title>`` and a ``<desc>`` that
say what it shows; the page puts the same numbers in a table next to it. Bars are
horizontal, so that labels stay readable on a 375 px phone. Colours are SVG presentation
attributes (the CSP forbids style attributes), each at least 3:1 against white, and never
the only signal: a second series is hatched, the legend says which is which, and every
bar carries its value as text. A value that is not published (a small count of people)
draws no bar and says « masqué ».
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 480
LABEL_WIDTH = 150
VALUE_WIDTH = 70
BAR_HEIGHT = 16
BAR_GAP = 3
GROUP_GAP = 12
FONT_SIZE = 13
LINE_HEIGHT = 14
LABEL_CHARS = 20  # what fits in LABEL_WIDTH at FONT_SIZE, about 7 px a character
TOP = 8

# (fill, outline): dark blue ≈ 6.6:1 and dark green ≈ 6.5:1 against white
SOLID = "#1d6b36"
HATCH = "#0b5cad"
INK = "#1b1f24"


@dataclass(frozen=True)
class Series:
    name: str
    hatched: bool = False


@dataclass(frozen=True)
class Group:
    label: str
    values: tuple[float | int | None, ...]  # one per series; None: not published
    texts: tuple[str, ...]  # what each bar's end says (« 12,5 h », « masqué »)


def label_lines(label: str, width: int = LABEL_CHARS) -> list[str]:
    """A label on one line, or two when it is too long for the label column (the second
    shortened with « … » if need be); the table beside the chart gives it in full."""
    if len(label) <= width:
        return [label]
    words, first = label.split(), ""
    while words and len(f"{first} {words[0]}".strip()) <= width:
        first = f"{first} {words.pop(0)}".strip()
    if not first:  # one long word
        first, words = label[:width], [label[width:]]
    rest = " ".join(words)
    return [first, rest if len(rest) <= width else rest[: width - 1].rstrip() + "…"]


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def bar_chart(chart_id: str, title: str, desc: str, series: Sequence[Series],
              groups: Sequence[Group]) -> str:
    """Horizontal bars, one group per label and one bar per series in the group."""
    cid = escape(chart_id, quote=True)
    legend_height = (BAR_HEIGHT + 10) if len(series) > 1 else 0
    group_height = len(series) * BAR_HEIGHT + (len(series) - 1) * BAR_GAP
    height = TOP + legend_height + max(1, len(groups)) * (group_height + GROUP_GAP) + 4
    top_value = max([v for g in groups for v in g.values if v is not None] + [0])
    scale = (WIDTH - LABEL_WIDTH - VALUE_WIDTH) / top_value if top_value > 0 else 0
    parts = [
        f'<svg class="chart" id="{cid}" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'font-size="{FONT_SIZE}" font-family="system-ui, sans-serif" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        f'<defs><pattern id="{cid}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
        f'<rect width="3" height="6" fill="{HATCH}"/></pattern></defs>',
    ]

    def bar(x: float, y: float, width: float, hatched: bool) -> str:
        fill = f"url(#{cid}-hatch)" if hatched else SOLID
        outline = HATCH if hatched else SOLID
        return (f'<rect x="{_number(x)}" y="{_number(y)}" width="{_number(width)}" '
                f'height="{BAR_HEIGHT}" fill="{fill}" stroke="{outline}" stroke-width="1.5"/>')

    y = TOP
    if len(series) > 1:
        x = LABEL_WIDTH
        for s in series:
            parts.append(bar(x, y, 18, s.hatched))
            parts.append(f'<text x="{x + 24}" y="{y + BAR_HEIGHT - 3}" fill="{INK}">{escape(s.name)}</text>')
            x += 24 + 8 * len(s.name) + 16
        y += legend_height
    for group in groups:
        label_y = y + group_height / 2 + FONT_SIZE / 2 - 2
        lines = label_lines(group.label)
        first_y = label_y - (len(lines) - 1) * LINE_HEIGHT / 2
        spans = "".join(
            f'<tspan x="{LABEL_WIDTH - 8}" y="{_number(first_y + n * LINE_HEIGHT)}">{escape(line)}</tspan>'
            for n, line in enumerate(lines))
        parts.append(f'<text text-anchor="end" fill="{INK}">{spans}</text>')
        for index, s in enumerate(series):
            bar_y = y + index * (BAR_HEIGHT + BAR_GAP)
            value = group.values[index] if index < len(group.values) else None
            text = group.texts[index] if index < len(group.texts) else ""
            width = (value or 0) * scale
            if value:
                parts.append(bar(LABEL_WIDTH, bar_y, max(width, 1), s.hatched))
            parts.append(f'<text x="{_number(LABEL_WIDTH + width + 6)}" y="{bar_y + BAR_HEIGHT - 3}" '
                         f'fill="{INK}">{escape(text)}</text>')
        y += group_height + GROUP_GAP
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{TOP + legend_height - 2}" x2="{LABEL_WIDTH}" '
                 f'y2="{y - GROUP_GAP + 2}" stroke="{INK}" stroke-width="1"/>')
    parts.append("</svg>")
    return "".join(parts)
