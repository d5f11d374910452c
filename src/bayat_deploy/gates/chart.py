"""The before/after chart of a monitoring run, as a self-contained SVG (written by hand: no plotting library).

One panel per metric, stacked: time on x (relative to the end of the rollout), the metric on y. The before
window is shaded grey-blue, the rollout between the windows grey, the after window in the colour of the
metric's level; window edges are dotted vertical lines, the rollback trigger (when the metric has one) a red
dashed line, and each window's mean a thin dashed line over that window. A legend explains the marks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

WIDTH = 800
PANEL_HEIGHT = 210
HEADER = 92
LEFT, RIGHT, TOP, BOTTOM = 84, 30, 34, 44
BEFORE_COLOR, AFTER_COLOR, THRESHOLD_COLOR = "#3b6fc4", "#e0700b", "#c62828"
BEFORE_FILL, ROLLOUT_FILL = "#e9eff8", "#dcdcdc"
AFTER_FILL = {"info": "#eaf6ec", "warning": "#fff3d1", "critical": "#fde3e1", "no-data": "#f1f1f1"}
MARKED_POINTS = 80
FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'


@dataclass
class Panel:
    label: str
    unit: str  # ratio | seconds | cores | bytes | value
    before: list  # [(unix time, value)]
    after: list
    level: str
    threshold: float | None = None
    before_mean: float | None = None
    after_mean: float | None = None


# how a unit is shown: a value in the metric's unit times `scale` is what the axis shows, then the suffix
DISPLAY = {"ratio": (100.0, "%"), "seconds": (1000.0, " ms"), "bytes": (1 / (1 << 20), " MiB"),
           "cores": (1.0, ""), "value": (1.0, "")}


def tick_label(value: float, unit: str) -> str:
    scale, suffix = DISPLAY.get(unit, (1.0, ""))
    return f"{value * scale:.4g}{suffix}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def time_label(seconds: float, unit: float) -> str:
    if abs(seconds) < 1e-9:
        return "deployed"
    return f"{seconds / unit:+g}{'m' if unit == 60 else 's'}"


def time_ticks(low: float, high: float) -> tuple[list[float], float]:
    """Round offsets from the deploy covering [low, high] seconds, and the unit they are labelled in."""
    unit = 60.0 if high - low >= 240 else 1.0
    ticks = [t * unit for t in nice_ticks(low / unit, high / unit, 6)]
    return [t for t in ticks if low - 1e-9 <= t <= high + 1e-9], unit


def _segments(points, x, y) -> list[str]:
    """SVG path data; a missing value (NaN) breaks the line instead of drawing it as zero."""
    paths, current = [], []
    for at, value in points:
        if not math.isfinite(value):
            if current:
                paths.append(current)
            current = []
            continue
        current.append(f"{x(at):.1f},{y(value):.1f}")
    if current:
        paths.append(current)
    return ["M" + " L".join(segment) for segment in paths]


def _panel(panel: Panel, top: float, before: tuple[float, float], after: tuple[float, float]) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, PANEL_HEIGHT - TOP - BOTTOM
    x0, y0 = LEFT, top + TOP
    values = [v for _, v in panel.before + panel.after if math.isfinite(v)]
    if panel.threshold is not None:
        values.append(panel.threshold)
    scale = DISPLAY.get(panel.unit, (1.0, ""))[0]
    low = min([0.0, *values])
    high = max(values, default=1.0) * 1.1 or 1.0
    ticks = [tick / scale for tick in nice_ticks(low * scale, high * scale)]  # round numbers as displayed
    low, high = ticks[0], ticks[-1]

    def x(at: float) -> float:
        return x0 + (at - before[0]) / (after[1] - before[0]) * plot_w

    def y(value: float) -> float:
        return y0 + plot_h - (value - low) / (high - low) * plot_h

    middle, rollout = x(after[0]), x(before[1])
    out = [f'<g class="panel" aria-label="{escape(panel.label)}">',
           f'<text x="{x0}" y="{top + 22}" font-size="15" font-weight="bold" {FONT}>'
           f'{escape(panel.label)} <tspan font-weight="normal" font-size="12" fill="#555">'
           f'({escape(panel.level)})</tspan></text>',
           f'<rect x="{x0}" y="{y0}" width="{rollout - x0:.1f}" height="{plot_h}" fill="{BEFORE_FILL}"/>',
           f'<rect x="{rollout:.1f}" y="{y0}" width="{middle - rollout:.1f}" height="{plot_h}" fill="{ROLLOUT_FILL}"/>',
           f'<rect x="{middle:.1f}" y="{y0}" width="{x0 + plot_w - middle:.1f}" height="{plot_h}" '
           f'fill="{AFTER_FILL.get(panel.level, AFTER_FILL["info"])}"/>']
    labels = [("before", x0 + 6), ("after", middle + 6)] + ([("rollout", rollout + 4)] if middle - rollout > 48 else [])
    for text, at in labels:
        out.append(f'<text x="{at:.1f}" y="{y0 + 14}" font-size="11" fill="#555" {FONT}>{text}</text>')
    for tick in ticks:
        ty = y(tick)
        out.append(f'<line x1="{x0}" y1="{ty:.1f}" x2="{x0 + plot_w}" y2="{ty:.1f}" stroke="#d0d0d0" '
                   'stroke-width="0.6"/>')
        out.append(f'<text x="{x0 - 6}" y="{ty + 4:.1f}" font-size="11" text-anchor="end" {FONT}>'
                   f'{escape(tick_label(tick, panel.unit))}</text>')
    offsets, unit = time_ticks(before[0] - after[0], after[1] - after[0])
    for offset in offsets:
        tx = x(after[0] + offset)
        out.append(f'<line x1="{tx:.1f}" y1="{y0 + plot_h}" x2="{tx:.1f}" y2="{y0 + plot_h + 4}" stroke="#333"/>')
        out.append(f'<text x="{tx:.1f}" y="{y0 + plot_h + 17}" font-size="11" text-anchor="middle" {FONT}>'
                   f'{escape(time_label(offset, unit))}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333" '
               'stroke-width="0.8"/>')
    out.append(f'<text x="{x0 + plot_w / 2:.1f}" y="{y0 + plot_h + 34}" font-size="11" text-anchor="middle" '
               f'fill="#444" {FONT}>time relative to the end of the rollout</text>')
    out.append(f'<text transform="translate({x0 - 66},{y0 + plot_h / 2:.1f}) rotate(-90)" font-size="11" '
               f'text-anchor="middle" fill="#444" {FONT}>{escape(axis_name(panel.unit))}</text>')
    for edge in sorted({rollout, middle}):
        out.append(f'<line x1="{edge:.1f}" y1="{y0}" x2="{edge:.1f}" y2="{y0 + plot_h}" stroke="#333" '
                   'stroke-width="1.2" stroke-dasharray="2,3"/>')
    if panel.threshold is not None:
        ty = y(panel.threshold)
        out.append(f'<line x1="{x0}" y1="{ty:.1f}" x2="{x0 + plot_w}" y2="{ty:.1f}" stroke="{THRESHOLD_COLOR}" '
                   'stroke-width="1.5" stroke-dasharray="7,4"/>')
        out.append(f'<text x="{x0 + plot_w - 4}" y="{ty - 4:.1f}" font-size="11" text-anchor="end" '
                   f'fill="{THRESHOLD_COLOR}" {FONT}>rollback trigger {escape(tick_label(panel.threshold, panel.unit))}'
                   '</text>')
    for mean, start, end, color in ((panel.before_mean, x0, middle, BEFORE_COLOR),
                                    (panel.after_mean, middle, x0 + plot_w, AFTER_COLOR)):
        if mean is not None and math.isfinite(mean):
            out.append(f'<line x1="{start:.1f}" y1="{y(mean):.1f}" x2="{end:.1f}" y2="{y(mean):.1f}" '
                       f'stroke="{color}" stroke-width="1" stroke-dasharray="3,3" opacity="0.8"/>')
    for points, color in ((panel.before, BEFORE_COLOR), (panel.after, AFTER_COLOR)):
        for path in _segments(points, x, y):
            out.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2" '
                       'stroke-linejoin="round"/>')
        if len(points) <= MARKED_POINTS:  # few points: mark each (a lone point between gaps has no line)
            out += [f'<circle cx="{x(at):.1f}" cy="{y(value):.1f}" r="2.5" fill="{color}"/>'
                    for at, value in points if math.isfinite(value)]
    if not panel.after:
        out.append(f'<text x="{(middle + x0 + plot_w) / 2:.1f}" y="{y0 + plot_h / 2:.1f}" font-size="13" '
                   f'text-anchor="middle" fill="#777" {FONT}>no data</text>')
    out.append("</g>")
    return out


def axis_name(unit: str) -> str:
    return {"ratio": "error ratio", "seconds": "latency", "cores": "CPU (cores)", "bytes": "memory",
            "value": "value"}.get(unit, unit)


def _legend(top: float) -> list[str]:
    items = [("line", BEFORE_COLOR, "before the rollout"), ("line", AFTER_COLOR, "after the rollout"),
             ("dash", THRESHOLD_COLOR, "rollback trigger"), ("dash", "#333", "window edge / window mean")]
    out, at = [], LEFT
    for kind, color, text in items:
        dash = ' stroke-dasharray="7,4"' if kind == "dash" else ""
        out.append(f'<line x1="{at}" y1="{top}" x2="{at + 22}" y2="{top}" stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{at + 28}" y="{top + 4}" font-size="12" {FONT}>{escape(text)}</text>')
        at += 38 + 7 * len(text)
    return out


def render(panels: list[Panel], *, title: str, subtitle: str, before: tuple[float, float],
           after: tuple[float, float]) -> str:
    """The chart; `before` and `after` are the windows (Unix times), the gap between them the rollout."""
    height = HEADER + PANEL_HEIGHT * max(1, len(panels))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" role="img">',
           f"<title>{escape(title)}</title>",
           f"<desc>{escape(subtitle)}</desc>",
           f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
           f'<text x="{LEFT}" y="28" font-size="18" font-weight="bold" {FONT}>{escape(title)}</text>',
           f'<text x="{LEFT}" y="50" font-size="12" fill="#444" {FONT}>{escape(subtitle)}</text>',
           *_legend(74)]
    for index, panel in enumerate(panels):
        out += _panel(panel, HEADER + index * PANEL_HEIGHT, before, after)
    out.append("</svg>")
    return "\n".join(out) + "\n"
