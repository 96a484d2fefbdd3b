# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: used by the pip_cache_report_render filter.

"""The HTML page of the pip cache report, from the Jinja2 template _report_page.html.j2 beside this file.

The page is self-contained (inline CSS and SVG, no external resource). The template is rendered with autoescaping on,
so every value from the hosts (host and user names, paths, reasons) comes out escaped; this module computes only the
geometry of the bar chart and hands over the report as it is.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import Any

import jinja2

from ansible_collections.fleet.cache.plugins.module_utils._core.units import human_size as human  # the modules' size convention
from ansible_collections.fleet.cache.plugins.plugin_utils._report_summary import headline, rest_line

TEMPLATE = "_report_page.html.j2"
_PARTS = ("downloads_bytes", "wheels_bytes", "other_bytes")
_COLOURS = {"downloads_bytes": "#4e79a7", "wheels_bytes": "#f28e2b", "other_bytes": "#9c9c9c"}
_LABELS = {"downloads_bytes": "downloads (http-v2, http)", "wheels_bytes": "built wheels", "other_bytes": "other"}


@functools.lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(__file__))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["human"] = human
    environment.filters["thousands"] = lambda number: f"{number:,}"
    return environment.get_template(TEMPLATE)


def _chart(report: Mapping[str, Any], width: int = 960) -> dict[str, Any]:
    """The geometry of the bar chart of the biggest caches, each bar split into downloads, built wheels and the rest."""
    rows = report["top"]
    label_width, value_width, bar_height, gap, top_margin = 300, 110, 20, 8, 34
    plot_width = width - label_width - value_width - 20
    biggest = max([row["bytes"] for row in rows] + [1])
    bars = []
    for index, row in enumerate(rows):
        label = f"{row['host']} · {', '.join(row['users'])}"
        segments = []
        x = float(label_width)
        for key in _PARTS:
            segment = plot_width * row[key] / biggest
            if segment > 0:
                segments.append({"x": f"{x:.1f}", "width": f"{max(segment, 0.5):.1f}", "colour": _COLOURS[key]})
                x += segment
        bars.append(
            {
                "row": row,
                "y": top_margin + index * (bar_height + gap),
                "label": label,
                "shown": label if len(label) <= 44 else label[:43] + "…",
                "segments": segments,
                "value_x": f"{x + 6:.1f}",
            }
        )
    return {
        "width": width,
        "height": top_margin + max(len(rows), 1) * (bar_height + gap) + 24,
        "label_x": label_width - 8,
        "bar_height": bar_height,
        "top_margin": top_margin,
        "legend": [{"x": label_width + 190 * index, "colour": _COLOURS[key], "label": _LABELS[key]} for index, key in enumerate(_PARTS)],
        "bars": bars,
    }


def render_html(report: Mapping[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    totals = report["totals"]
    cards = [
        ("total", human(totals["bytes"])),
        ("hosts", f"{totals['hosts_reporting']} / {totals['hosts']}"),
        ("caches", str(totals["caches"])),
        ("files", f"{totals['files']:,}"),
        ("downloads", human(totals["downloads_bytes"])),
        ("built wheels", human(totals["wheels_bytes"])),
        ("disabled", str(totals["disabled"])),
    ]
    return _template().render(
        report=report,
        generated=report.get("generated") or "",
        disabled=list(report.get("disabled") or []),
        missing=list(report.get("missing") or []),
        headline=headline(report),
        rest_line=rest_line(report),
        cards=cards,
        chart=_chart(report),
    )
