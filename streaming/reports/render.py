"""HTML for report pages: one template, tables escaped here, charts as Chart.js configs.

Pages are static files written where the gateway serves them (`<home>/reports`), so a report
stays readable after the run that wrote it, and a page needs nothing but the gateway: the
chart library is served from its npm package, never from a CDN.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from string import Template

from streaming.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATE = Template((PACKAGE_DIR / "templates" / "page.html").read_text())
STATIC_DIR = PACKAGE_DIR / "static"
CHART_JS = PACKAGE_DIR / "node_modules" / "chart.js" / "dist" / "chart.umd.js"

BLUE, RED, GREEN, ORANGE, GREY, PURPLE = ("#2b6cb0", "#c53030", "#2f855a", "#dd6b20", "#a0aec0",
                                          "#6b46c1")
PALETTE = [BLUE, ORANGE, GREEN, PURPLE, RED, "#319795", "#d53f8c", "#718096"]


class Raw(str):
    """Markup built here (badges), placed into a page without escaping."""


def reports_dir(settings: Settings) -> Path:
    """Where report pages are written and served from."""
    return settings.home / "reports"


def reports_url(settings: Settings) -> str:
    """The URL the local gateway serves `reports_dir` under."""
    return f"{settings.gateway_url}/reports"


def esc(value: object) -> str:
    if isinstance(value, Raw):
        return value
    return html.escape("" if value is None else str(value))


def page(title: str, subtitle: str, body: str, charts: Mapping[str, dict], root: str = "../") -> str:
    """A complete page; `root` leads from the page to the reports root (pages live one folder
    down). Chart configs go in a JSON script block, `</` escaped so no value can close it."""
    payload = json.dumps(charts, default=str).replace("</", "<\\/")
    return TEMPLATE.substitute(title=esc(title), subtitle=esc(subtitle), body=body, charts=payload,
                               root=root)


def figure(chart_id: str, caption: str, note: str = "") -> str:
    small = f" <small>{esc(note)}</small>" if note else ""
    return (f'<figure><figcaption>{esc(caption)}{small}</figcaption>'
            f'<div class="chart"><canvas id="{esc(chart_id)}"></canvas></div></figure>')


def table(columns: Sequence[str], rows: Iterable[Sequence[object]],
          numeric: Sequence[bool] | None = None, empty: str = "nothing to show") -> str:
    rows = list(rows)
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    numeric = numeric or [False] * len(columns)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{esc(v)}</td>' if num else f"<td>{esc(v)}</td>"
                         for v, num in zip(row, numeric, strict=True)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def badge(text: str, kind: str) -> Raw:
    return Raw(f'<span class="badge {esc(kind)}">{esc(text)}</span>')


def tiles(items: Sequence[tuple[str, str]]) -> str:
    return '<div class="tiles">' + "".join(
        f'<div class="tile"><div class="value">{esc(value)}</div><div class="label">{esc(label)}'
        f"</div></div>" for label, value in items) + "</div>"


def axis(title: str, **extra) -> dict:
    return {"title": {"display": True, "text": title}, **extra}


def chart(kind: str, labels: Sequence[object], datasets: list[dict], x: str = "", y: str = "",
          **options) -> dict:
    """A Chart.js config: category x axis (labels are preformatted text, so no date adapter
    is needed), linear y axis starting at zero."""
    scales = {"x": axis(x, ticks={"maxTicksLimit": 12, "autoSkip": True}),
              "y": axis(y, beginAtZero=True)} if kind in ("bar", "line") else {}
    return {"type": kind, "data": {"labels": list(labels), "datasets": datasets},
            "options": {"scales": scales, "plugins": {"legend": {"position": "bottom"}},
                        **options}}


def write_page(directory: Path, relative: str, content: str) -> Path:
    """Writes `<directory>/<relative>` atomically, so the gateway never serves half a page."""
    path = directory / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(path.suffix + ".tmp")
    staging.write_text(content)
    os.replace(staging, path)
    return path
