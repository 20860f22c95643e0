"""Server-rendered SVG charts from integers (no JavaScript, no float): the epidemic's
daily trend of patients in hospital, the daily fund spending stacked by fund, and the
split by fund. Coordinates are integer pixels computed by integer division."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from yibao.adapters.web.formats import yuan

__all__ = ["COLOURS", "bars", "lines", "split"]

COLOURS = ("#c0392b", "#e67e22", "#2874a6", "#16a085", "#8e44ad", "#7f8c8d")
W, H, LEFT, BOTTOM, TOP = 640, 220, 56, 24, 12


def _frame(body: list[str], label: str, width: int = W, height: int = H) -> Markup:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )
    return Markup(svg)


def _axis(body: list[str], top_value: str, days: Sequence[str]) -> None:
    y0 = H - BOTTOM
    body.append(f'<line x1="{LEFT}" y1="{y0}" x2="{W - 8}" y2="{y0}" stroke="#999"/>')
    body.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#999"/>')
    body.append(
        f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end" font-size="11">'
        f"{escape(top_value)}</text>"
    )
    body.append(f'<text x="{LEFT - 4}" y="{y0}" text-anchor="end" font-size="11">0</text>')
    if days:
        for i in sorted({0, len(days) // 2, len(days) - 1}):
            x = LEFT + _x(i, len(days))
            body.append(
                f'<text x="{x}" y="{H - 6}" text-anchor="middle" font-size="11">'
                f"{escape(days[i][5:])}</text>"
            )


def _legend(body: list[str], names: Sequence[str]) -> None:
    body.append(
        f'<rect x="{W - 156}" y="{TOP - 4}" width="150" height="{16 * len(names) + 4}" '
        'fill="#fff" fill-opacity="0.85"/>'
    )
    for k, name in enumerate(names):
        body.append(
            f'<rect x="{W - 150}" y="{TOP + 16 * k}" width="10" height="10" '
            f'fill="{COLOURS[k]}"/><text x="{W - 136}" y="{TOP + 9 + 16 * k}" '
            f'font-size="11">{escape(name)}</text>'
        )


def _x(i: int, n: int) -> int:
    span = W - 8 - LEFT - 8
    return 4 + (span * i // (n - 1) if n > 1 else span // 2)


def _y(v: int, top: int) -> int:
    return H - BOTTOM - (H - BOTTOM - TOP) * v // top


def _ceiling(v: int) -> int:
    """A round axis maximum at least ``v`` (1, 2, 5 × 10^k)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if v <= m * step:
                return m * step
        step *= 10


def lines(days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], label: str) -> Markup:
    """One line per series over ``days`` (counts)."""
    top = _ceiling(max([1, *(v for _, vs in series for v in vs)]))
    body: list[str] = []
    _axis(body, str(top), days)
    for k, (name, values) in enumerate(series):
        pts = " ".join(f"{LEFT + _x(i, len(values))},{_y(v, top)}" for i, v in enumerate(values))
        body.append(
            f'<polyline fill="none" stroke="{COLOURS[k]}" stroke-width="2" '
            f'points="{pts}"><title>{escape(name)}</title></polyline>'
        )
    _legend(body, [name for name, _ in series])
    return _frame(body, label)


def bars(days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], label: str) -> Markup:
    """Stacked bars of fen per day, one colour per series (a negative day, all
    reversals, draws nothing)."""
    totals = [sum(max(0, vs[i]) for _, vs in series) for i in range(len(days))]
    top = _ceiling(max([100, *totals]))
    body: list[str] = []
    _axis(body, yuan(top).removesuffix(".00") + " 元", days)
    n = max(1, len(days))
    width = max(1, (W - 8 - LEFT - 8) // n - 1)
    for i in range(len(days)):
        base = 0
        for k, (name, values) in enumerate(series):
            v = max(0, values[i])
            if v:
                y1, y2 = _y(base + v, top), _y(base, top)
                body.append(
                    f'<rect x="{LEFT + 4 + (W - 8 - LEFT - 8) * i // n}" y="{y1}" '
                    f'width="{width}" height="{max(1, y2 - y1)}" fill="{COLOURS[k]}">'
                    f"<title>{escape(days[i])} {escape(name)} {yuan(v)} 元</title>"
                    "</rect>"
                )
            base += v
    _legend(body, [name for name, _ in series])
    return _frame(body, label)


def split(parts: Sequence[tuple[str, int]], label: str) -> Markup:
    """One horizontal bar split by fund, each part's share in per mille, with a legend
    (amounts in yuan)."""
    total = sum(max(0, v) for _, v in parts)
    width, height = W, 40 + 18 * len(parts)
    body: list[str] = []
    x = 0
    span = width - 16
    for k, (name, v) in enumerate(parts):
        w = span * max(0, v) // total if total else 0
        if w:
            body.append(
                f'<rect x="{8 + x}" y="8" width="{w}" height="20" fill="{COLOURS[k]}">'
                f"<title>{escape(name)}</title></rect>"
            )
        x += w
        permille = 1000 * max(0, v) // total if total else 0
        body.append(
            f'<rect x="8" y="{36 + 18 * k}" width="10" height="10" fill="{COLOURS[k]}"/>'
            f'<text x="24" y="{45 + 18 * k}" font-size="12">{escape(name)}　'
            f"{yuan(v)} 元（{permille // 10}.{permille % 10}%）</text>"
        )
    return _frame(body, label, width, height)
