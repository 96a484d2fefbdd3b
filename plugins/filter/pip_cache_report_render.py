# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The filter pip_cache_report_render is documented in pip_cache_report_render.yml beside this file. The HTML page
# comes from plugins/plugin_utils/_report_page.html.j2 (see _report_html.py there).

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.fleet.cache.plugins.module_utils._core.units import human_size as human  # the modules' size convention
from ansible_collections.fleet.cache.plugins.plugin_utils._report_html import render_html
from ansible_collections.fleet.cache.plugins.plugin_utils._report_summary import headline, rest_line

FORMATS = ("table", "json", "csv", "markdown", "html")
_REPORT_KEYS = ("caches", "top", "rest", "totals", "hosts", "top_hosts", "rest_hosts")


def _check_report(report: Any) -> Mapping[str, Any]:
    if not isinstance(report, Mapping) or not all(key in report for key in _REPORT_KEYS):
        raise AnsibleFilterError("pip_cache_report_render: the input must be the output of fleet.cache.pip_cache_report")
    return report


def _cell(text: Any) -> str:
    """One line of terminal text: control characters (a newline in a path a user chose) shown escaped, so no value
    can start a forged row of the table."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in value)


def render_table(report: Mapping[str, Any]) -> str:
    header = ["HOST", "USERS", "SIZE", "FILES", "DOWNLOADS", "WHEELS", "CACHE"]
    body = [
        [
            row["host"],
            ",".join(row["users"]),
            human(row["bytes"]),
            f"{row['files']:,}",
            human(row["downloads_bytes"]),
            human(row["wheels_bytes"]),
            row["cache_dir"],
        ]
        for row in report["top"]
    ]
    totals = report["totals"]
    footer = [
        "TOTAL",
        f"{totals['users']} users",
        human(totals["bytes"]),
        f"{totals['files']:,}",
        human(totals["downloads_bytes"]),
        human(totals["wheels_bytes"]),
        "",
    ]
    body = [[_cell(cell) for cell in row] for row in body]
    widths = [max(len(str(line[index])) for line in [header, *body, footer]) for index in range(len(header))]
    right = {2, 3, 4, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(widths[index]) if index in right else cell.ljust(widths[index]) for index, cell in enumerate(cells)).rstrip()

    out = [f"pip caches: {headline(report)}", "", line(header)]
    out.extend(line(row) for row in body)
    if report["rest"]["caches"]:
        out.append(f"... {rest_line(report)}")
    out.append(line(footer))
    for item in report.get("disabled", [])[: max(report.get("top_count", 20), 1)]:
        out.append(f"disabled: {_cell(item['host'])} {_cell(item['user'])}: {_cell(item['reason'])}")
    if len(report.get("disabled", [])) > max(report.get("top_count", 20), 1):
        out.append(f"disabled: ... {len(report['disabled']) - report['top_count']} more")
    for item in report.get("missing", []):
        out.append(f"no data: {_cell(item['host'])}: {_cell(item['reason'])}")
    return "\n".join(out)


_CSV_FIELDS = [
    "host",
    "users",
    "state",
    "cache_dir",
    "source",
    "bytes",
    "files",
    "entries",
    "downloads_bytes",
    "wheels_bytes",
    "other_bytes",
    "oldest",
    "newest",
    "reason",
]


def render_csv(report: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in report["caches"]:
        writer.writerow(dict(row, users=" ".join(row["users"]), state="cache", reason=""))
    for item in report.get("disabled", []):
        writer.writerow({"host": item["host"], "users": item["user"], "state": "disabled", "bytes": 0, "files": 0, "entries": 0, "reason": item["reason"]})
    for item in report.get("missing", []):
        writer.writerow({"host": item["host"], "state": "no data", "reason": item["reason"]})
    return buffer.getvalue()


def _md(text: Any) -> str:
    """Text for a Markdown table cell or list item: markup written as entities (a viewer that renders raw HTML shows
    ``<script>`` as text), ``|`` escaped, a newline made a space (neither can forge a cell or a row)."""
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("|", "\\|").replace("\n", " ")


def _md_code(text: Any) -> str:
    """A path as a code span: fenced by one backtick more than the longest run in it, so a backtick in a folder's
    name cannot end the span early (markup in a code span is shown as text, and needs no entities)."""
    value = str(text).replace("|", "\\|").replace("\n", " ")
    longest = max((len(run) for run in re.findall("`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def render_markdown(report: Mapping[str, Any]) -> str:
    totals = report["totals"]
    out = ["# pip caches", ""]
    if report.get("generated"):
        out += [f"Generated {_md(report['generated'])}.", ""]
    out += [headline(report) + ".", ""]
    out += [f"## The {len(report['top'])} biggest caches", ""]
    out += ["| host | users | size | files | downloads | built wheels | cache |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for row in report["top"]:
        out.append(
            f"| {_md(row['host'])} | {_md(', '.join(row['users']))} | {human(row['bytes'])} | {row['files']:,} | "
            f"{human(row['downloads_bytes'])} | {human(row['wheels_bytes'])} | {_md_code(row['cache_dir'])} |"
        )
    if report["rest"]["caches"]:
        rest = report["rest"]
        out.append(f"| *the rest* | {rest['caches']} caches on {rest['hosts']} hosts | {human(rest['bytes'])} | {rest['files']:,} | "
                   f"{human(rest['downloads_bytes'])} | {human(rest['wheels_bytes'])} | |")  # fmt: skip
    out.append(
        f"| **total** | {totals['users']} users | **{human(totals['bytes'])}** | {totals['files']:,} | "
        f"{human(totals['downloads_bytes'])} | {human(totals['wheels_bytes'])} | |"
    )
    out += ["", f"## The {len(report['top_hosts'])} biggest hosts", "", "| host | caches | users | size | files |", "| --- | ---: | ---: | ---: | ---: |"]
    for entry in report["top_hosts"]:
        out.append(f"| {_md(entry['host'])} | {entry['caches']} | {entry['users']} | {human(entry['bytes'])} | {entry['files']:,} |")
    if report["rest_hosts"]["hosts"]:
        rest_hosts = report["rest_hosts"]
        out.append(f"| *the other {rest_hosts['hosts']} hosts* | | | {human(rest_hosts['bytes'])} | {rest_hosts['files']:,} |")
    if report.get("disabled"):
        out += ["", f"## Disabled caches ({len(report['disabled'])})", ""]
        out += [f"- {_md(item['host'])} {_md(item['user'])}: {_md(item['reason'])}" for item in report["disabled"][:100]]
        if len(report["disabled"]) > 100:
            out.append(f"- ... {len(report['disabled']) - 100} more (see the CSV)")
    if report.get("missing"):
        out += ["", f"## Hosts without data ({len(report['missing'])})", ""]
        out += [f"- {_md(item['host'])}: {_md(item['reason'])}" for item in report["missing"]]
    return "\n".join(out) + "\n"


def pip_cache_report_render(report: Any, format: str = "table") -> str:
    """The report as text - a terminal table, JSON, CSV, Markdown or a self-contained HTML page."""
    checked = _check_report(report)
    if format == "table":
        return render_table(checked)
    if format == "json":
        return json.dumps(_plain(checked), indent=2, sort_keys=True) + "\n"
    if format == "csv":
        return render_csv(checked)
    if format == "markdown":
        return render_markdown(checked)
    if format == "html":
        return render_html(checked)
    raise AnsibleFilterError(f"pip_cache_report_render: format must be one of {', '.join(FORMATS)}, got {format!r}")


def _plain(value: Any) -> Any:
    """Plain JSON types (Ansible may hand over its own mapping and sequence types)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class FilterModule:
    """The filter that renders a pip cache report."""

    def filters(self) -> dict[str, Any]:
        return {"pip_cache_report_render": pip_cache_report_render}
