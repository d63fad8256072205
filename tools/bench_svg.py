"""Line charts as SVG, written by hand: Python's standard library only,
no matplotlib or gnuplot to install.  tools/bench.py draws its plots with
svg_plot(); any browser shows them.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass


def label(value: float) -> str:
    """A tick label: 5, 0.02, 20000."""
    return f"{value:.0f}" if value >= 1 else f"{value:g}"


COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
          "#8c564b", "#17becf", "#7f7f7f"]


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]          # (cpus, value)
    color: str
    dashed: bool = False
    width: float = 2.0                         # wide ones show under others


def nice_log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def svg_plot(title: str, ylabel: str, series: list[Series],
             note: str = "") -> str:
    """A line chart: CPU count on a log2 x axis, a log10 y axis; points
    that are 0 (nothing to plot on a log axis) are left out."""
    W, H, left, right, top, bottom = 900, 480, 80, 300, 50, 60
    pw, ph = W - left - right, H - top - bottom
    xs = sorted({x for s in series for x, _ in s.points})
    ys = [y for s in series for _, y in s.points if y > 0]
    if not xs or not ys:
        ys = [1.0]
    ylo = 10 ** math.floor(math.log10(min(ys)))
    yhi = 10 ** math.ceil(math.log10(max(ys)))
    if ylo == yhi:
        yhi *= 10
    xlo, xhi = (min(xs), max(xs)) if xs else (1, 2)
    if xlo == xhi:
        xlo, xhi = xlo / 2, xhi * 2

    def px(x: float) -> float:
        return left + pw * (math.log2(x) - math.log2(xlo)) / \
            (math.log2(xhi) - math.log2(xlo))

    def py(y: float) -> float:
        return top + ph * (1 - (math.log10(y) - math.log10(ylo)) /
                           (math.log10(yhi) - math.log10(ylo)))

    e = html.escape
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="13">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{left + pw / 2}" y="28" text-anchor="middle" '
         f'font-size="16" font-weight="bold">{e(title)}</text>']
    for t in nice_log_ticks(ylo, yhi):
        y = py(t)
        major = abs(math.log10(t) - round(math.log10(t))) < 1e-9
        o.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" '
                 f'y2="{y:.1f}" stroke="{"#ccc" if major else "#eee"}"/>')
        o.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
                 f'{e(label(t))}</text>')
    for x in xs:
        o.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" '
                 f'y2="{top + ph}" stroke="#eee"/>')
        o.append(f'<text x="{px(x):.1f}" y="{top + ph + 20}" '
                 f'text-anchor="middle">{e(label(x))}</text>')
    o.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" '
             f'fill="none" stroke="black"/>')
    o.append(f'<text x="{left + pw / 2}" y="{H - 18}" text-anchor="middle">'
             f'CPUs (QEMU -smp)</text>')
    o.append(f'<text transform="translate(20,{top + ph / 2}) rotate(-90)" '
             f'text-anchor="middle">{e(ylabel)}</text>')
    for i, s in enumerate(series):
        pts = [(px(x), py(y)) for x, y in s.points if y > 0]
        dash = ' stroke-dasharray="6,4"' if s.dashed else ""
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            o.append(f'<polyline points="{path}" fill="none" '
                     f'stroke="{s.color}" stroke-width="{s.width}" '
                     f'stroke-opacity="{0.45 if s.width > 2 else 1}"{dash}/>')
        for x, y in pts:
            o.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
                     f'fill="{s.color}"/>')
        ly = top + 10 + i * 22
        lx = left + pw + 16
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 28}" y2="{ly}" '
                 f'stroke="{s.color}" stroke-width="{s.width}" '
                 f'stroke-opacity="{0.45 if s.width > 2 else 1}"{dash}/>')
        o.append(f'<text x="{lx + 36}" y="{ly + 4}">{e(s.label)}</text>')
    if note:
        for j, line in enumerate(note.split("\n")):
            o.append(f'<text x="{left + pw + 16}" '
                     f'y="{top + 30 + len(series) * 22 + j * 18}" '
                     f'fill="#555" font-size="12">{e(line)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"
