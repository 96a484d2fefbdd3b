# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The filters pip_cache_report and pip_cache_report_render are documented in pip_cache_report.yml and
# pip_cache_report_render.yml beside this file.

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.fleet.cache.plugins.module_utils._cache_common import human_size as human  # the modules' size convention

FORMATS = ("table", "json", "csv", "markdown", "html")
_SIZE_KEYS = ("bytes", "files", "entries", "downloads_bytes", "wheels_bytes", "other_bytes")
_COLOURS = {"downloads_bytes": "#4e79a7", "wheels_bytes": "#f28e2b", "other_bytes": "#9c9c9c"}
_LABELS = {"downloads_bytes": "downloads (http-v2, http)", "wheels_bytes": "built wheels", "other_bytes": "other"}


def _bucket_bytes(buckets: Mapping[str, Any], *names: str) -> int:
    return sum(int((buckets.get(name) or {}).get("bytes") or 0) for name in names)


def _no_result_reason(result: Any) -> Optional[str]:
    if not isinstance(result, Mapping):
        return "no result (unreachable, skipped or not in the play)"
    if result.get("unreachable"):
        return "unreachable: " + str(result.get("msg") or "")[:200]
    if result.get("failed"):
        return "failed: " + str(result.get("msg") or "")[:200]
    if result.get("skipped"):
        return "skipped"
    if not isinstance(result.get("caches"), list):
        return "no caches in the result"
    return None


def _sum(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {key: sum(int(row.get(key) or 0) for row in rows) for key in _SIZE_KEYS}


def pip_cache_report(results: Any, hosts: Any, top: int = 20, generated: str = "") -> dict[str, Any]:
    """One report from per-host pip_cache_info results (see DOCUMENTATION)."""
    if not isinstance(results, (list, tuple)):
        raise AnsibleFilterError(f"pip_cache_report: the input must be a list of registered results, got {type(results).__name__}")
    if not isinstance(hosts, (list, tuple)) or len(hosts) != len(results):
        raise AnsibleFilterError("pip_cache_report: hosts must be a list of host names, one per result")
    try:
        top = int(top)
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"pip_cache_report: top must be a number, got {top!r}") from None
    if top < 0:
        raise AnsibleFilterError("pip_cache_report: top must be 0 or more")
    rows: list[dict[str, Any]] = []
    disabled: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    errors = 0
    users_with_cache = 0
    for host, result in zip(hosts, results):
        host = str(host)
        reason = _no_result_reason(result)
        if reason is not None:
            missing.append({"host": host, "reason": reason})
            continue
        by_dir: dict[str, dict[str, Any]] = {}
        for item in result["caches"]:
            if not isinstance(item, Mapping):
                continue
            user = str(item.get("user") or "")
            directory = item.get("cache_dir")
            if not directory:
                disabled.append({"host": host, "user": user, "reason": str(item.get("disabled_reason") or "disabled")})
                continue
            users_with_cache += 1
            if directory in by_dir:
                by_dir[directory]["users"].append(user)
                continue
            total = item.get("total") or {}
            buckets = item.get("buckets") or {}
            size = int(total.get("bytes") or 0)
            downloads = _bucket_bytes(buckets, "http-v2", "http")
            wheels = _bucket_bytes(buckets, "wheels")
            row = {
                "host": host,
                "users": [user],
                "cache_dir": str(directory),
                "source": str(item.get("source") or ""),
                "exists": bool(item.get("exists", True)),
                "bytes": size,
                "files": int(total.get("files") or 0),
                "entries": int(total.get("entries") or 0),
                "downloads_bytes": downloads,
                "wheels_bytes": wheels,
                "other_bytes": max(0, size - downloads - wheels),
                "oldest": total.get("oldest"),
                "newest": total.get("newest"),
            }
            errors += len(item.get("errors") or [])
            by_dir[directory] = row
            rows.append(row)
    rows.sort(key=lambda row: (-row["bytes"], row["host"], row["cache_dir"]))
    per_host: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = per_host.setdefault(row["host"], dict({key: 0 for key in _SIZE_KEYS}, host=row["host"], caches=0, users=0))
        for key in _SIZE_KEYS:
            entry[key] += row[key]
        entry["caches"] += 1
        entry["users"] += len(row["users"])
    host_rows = sorted(per_host.values(), key=lambda entry: (-entry["bytes"], entry["host"]))
    rest = rows[top:]
    rest_hosts = host_rows[top:]
    totals = dict(
        _sum(rows),
        hosts=len(hosts),
        hosts_reporting=len(hosts) - len(missing),
        caches=len(rows),
        users=users_with_cache,
        disabled=len(disabled),
        errors=errors,
    )
    return {
        "generated": str(generated or ""),
        "top_count": top,
        "caches": rows,
        "top": rows[:top],
        "rest": dict(_sum(rest), caches=len(rest), hosts=len({row["host"] for row in rest})),
        "hosts": host_rows,
        "top_hosts": host_rows[:top],
        "rest_hosts": dict(_sum(rest_hosts), hosts=len(rest_hosts)),
        "disabled": sorted(disabled, key=lambda item: (item["host"], item["user"])),
        "missing": sorted(missing, key=lambda item: item["host"]),
        "totals": totals,
    }


# Rendering ---------------------------------------------------------------------------------------


def _check_report(report: Any) -> Mapping[str, Any]:
    if not isinstance(report, Mapping) or not all(key in report for key in ("caches", "top", "rest", "totals", "hosts")):
        raise AnsibleFilterError("pip_cache_report_render: the input must be the output of fleet.cache.pip_cache_report")
    return report


def _headline(report: Mapping[str, Any]) -> str:
    totals = report["totals"]
    return (
        f"{totals['hosts']} host(s) ({totals['hosts_reporting']} reporting), {totals['caches']} cache(s) of {totals['users']} user(s): "
        f"{human(totals['bytes'])} in {totals['files']:,} files ({human(totals['downloads_bytes'])} downloads, "
        f"{human(totals['wheels_bytes'])} built wheels)"
    )


def _rest_line(report: Mapping[str, Any]) -> str:
    rest = report["rest"]
    return f"the rest: {rest['caches']} cache(s) on {rest['hosts']} host(s), {human(rest['bytes'])} in {rest['files']:,} files"


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

    out = [f"pip caches: {_headline(report)}", "", line(header)]
    out.extend(line(row) for row in body)
    if report["rest"]["caches"]:
        out.append(f"... {_rest_line(report)}")
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
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Mapping[str, Any]) -> str:
    totals = report["totals"]
    out = ["# pip caches", ""]
    if report.get("generated"):
        out += [f"Generated {report['generated']}.", ""]
    out += [_headline(report) + ".", ""]
    out += [f"## The {len(report['top'])} biggest caches", ""]
    out += ["| host | users | size | files | downloads | built wheels | cache |", "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for row in report["top"]:
        out.append(
            f"| {_md(row['host'])} | {_md(', '.join(row['users']))} | {human(row['bytes'])} | {row['files']:,} | "
            f"{human(row['downloads_bytes'])} | {human(row['wheels_bytes'])} | `{_md(row['cache_dir'])}` |"
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


def render_svg(report: Mapping[str, Any], *, width: int = 960) -> str:
    """A horizontal bar chart of the biggest caches, each bar split into downloads, built wheels and the rest."""
    rows = report["top"]
    label_width, value_width, bar_height, gap, top_margin = 300, 110, 20, 8, 34
    plot_width = width - label_width - value_width - 20
    height = top_margin + max(len(rows), 1) * (bar_height + gap) + 24
    biggest = max([row["bytes"] for row in rows] + [1])
    esc = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="pip-cache-chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="pip cache size by host and user">',
        "<title>pip cache size by host and user</title>",
    ]
    legend_x = label_width
    for key in ("downloads_bytes", "wheels_bytes", "other_bytes"):
        parts.append(f'<rect x="{legend_x}" y="8" width="12" height="12" fill="{_COLOURS[key]}"/>')
        parts.append(f'<text x="{legend_x + 16}" y="18" font-size="12">{esc(_LABELS[key])}</text>')
        legend_x += 190
    if not rows:
        parts.append(f'<text x="10" y="{top_margin + 14}" font-size="13">No pip cache found.</text>')
    for index, row in enumerate(rows):
        y = top_margin + index * (bar_height + gap)
        label = f"{row['host']} · {', '.join(row['users'])}"
        shown = label if len(label) <= 44 else label[:43] + "…"
        parts.append(f'<g class="bar" data-host="{esc(row["host"])}" data-bytes="{row["bytes"]}">')
        parts.append(f"<title>{esc(label)}: {esc(human(row['bytes']))} in {row['files']:,} files ({esc(row['cache_dir'])})</title>")
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" font-size="12" text-anchor="end">{esc(shown)}</text>')
        x = float(label_width)
        for key in ("downloads_bytes", "wheels_bytes", "other_bytes"):
            segment = plot_width * row[key] / biggest
            if segment > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(segment, 0.5):.1f}" height="{bar_height}" fill="{_COLOURS[key]}"/>')
                x += segment
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="12">{esc(human(row["bytes"]))}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.summary { font-size: 1.05em; } .muted { color: #666; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 9em; }
.card b { display: block; font-size: 1.3em; }
table { border-collapse: collapse; margin-top: 0.5em; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 0.3em 0.7em; text-align: left; font-size: 0.92em; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.rest td { font-style: italic; color: #555; } tr.total td { font-weight: bold; border-top: 2px solid #999; }
code { font-size: 0.9em; }
"""


def render_html(report: Mapping[str, Any]) -> str:
    esc = html.escape
    totals = report["totals"]
    rest = report["rest"]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>pip caches</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>pip caches</h1>",
    ]
    if report.get("generated"):
        out.append(f'<p class="muted">Generated {esc(report["generated"])}</p>')
    out.append(f'<p class="summary">{esc(_headline(report))}</p>')
    out.append('<div class="cards">')
    for label, value in (
        ("total", human(totals["bytes"])),
        ("hosts", f"{totals['hosts_reporting']} / {totals['hosts']}"),
        ("caches", str(totals["caches"])),
        ("files", f"{totals['files']:,}"),
        ("downloads", human(totals["downloads_bytes"])),
        ("built wheels", human(totals["wheels_bytes"])),
        ("disabled", str(totals["disabled"])),
    ):
        out.append(f'<div class="card"><b>{esc(value)}</b>{esc(label)}</div>')
    out.append("</div>")
    out.append(f"<h2>The {len(report['top'])} biggest caches</h2>")
    out.append(render_svg(report))
    if rest["caches"]:
        out.append(f'<p class="muted">Not drawn - {esc(_rest_line(report))}.</p>')
    out.append(
        '<table id="caches"><thead><tr><th>host</th><th>users</th><th class="n">size</th><th class="n">files</th>'
        '<th class="n">downloads</th><th class="n">built wheels</th><th>cache</th><th>why there</th></tr></thead><tbody>'
    )
    for row in report["top"]:
        out.append(
            f'<tr><td>{esc(row["host"])}</td><td>{esc(", ".join(row["users"]))}</td><td class="n">{esc(human(row["bytes"]))}</td>'
            f'<td class="n">{row["files"]:,}</td><td class="n">{esc(human(row["downloads_bytes"]))}</td>'
            f'<td class="n">{esc(human(row["wheels_bytes"]))}</td><td><code>{esc(row["cache_dir"])}</code></td><td>{esc(row["source"])}</td></tr>'
        )
    if rest["caches"]:
        out.append(
            f'<tr class="rest"><td>the rest</td><td>{rest["caches"]} caches on {rest["hosts"]} hosts</td><td class="n">{esc(human(rest["bytes"]))}</td>'
            f'<td class="n">{rest["files"]:,}</td><td class="n">{esc(human(rest["downloads_bytes"]))}</td>'
            f'<td class="n">{esc(human(rest["wheels_bytes"]))}</td><td></td><td></td></tr>'
        )
    out.append(
        f'<tr class="total"><td>total</td><td>{totals["users"]} users</td><td class="n">{esc(human(totals["bytes"]))}</td>'
        f'<td class="n">{totals["files"]:,}</td><td class="n">{esc(human(totals["downloads_bytes"]))}</td>'
        f'<td class="n">{esc(human(totals["wheels_bytes"]))}</td><td></td><td></td></tr>'
    )
    out.append("</tbody></table>")
    out.append(f"<h2>The {len(report['top_hosts'])} biggest hosts</h2>")
    out.append(
        '<table id="hosts"><thead><tr><th>host</th><th class="n">caches</th><th class="n">users</th>'
        '<th class="n">size</th><th class="n">files</th></tr></thead><tbody>'
    )
    for entry in report["top_hosts"]:
        out.append(
            f'<tr><td>{esc(entry["host"])}</td><td class="n">{entry["caches"]}</td><td class="n">{entry["users"]}</td>'
            f'<td class="n">{esc(human(entry["bytes"]))}</td><td class="n">{entry["files"]:,}</td></tr>'
        )
    if report["rest_hosts"]["hosts"]:
        rest_hosts = report["rest_hosts"]
        out.append(
            f'<tr class="rest"><td>the other {rest_hosts["hosts"]} hosts</td><td></td><td></td>'
            f'<td class="n">{esc(human(rest_hosts["bytes"]))}</td><td class="n">{rest_hosts["files"]:,}</td></tr>'
        )
    out.append("</tbody></table>")
    if report.get("disabled"):
        out.append(f"<h2>Disabled caches ({len(report['disabled'])})</h2><ul>")
        out.extend(f"<li>{esc(item['host'])} {esc(item['user'])}: {esc(item['reason'])}</li>" for item in report["disabled"][:100])
        if len(report["disabled"]) > 100:
            out.append(f"<li>... {len(report['disabled']) - 100} more (see the CSV)</li>")
        out.append("</ul>")
    if report.get("missing"):
        out.append(f"<h2>Hosts without data ({len(report['missing'])})</h2><ul>")
        out.extend(f"<li>{esc(item['host'])}: {esc(item['reason'])}</li>" for item in report["missing"][:200])
        if len(report["missing"]) > 200:
            out.append(f"<li>... {len(report['missing']) - 200} more (see the CSV)</li>")
        out.append("</ul>")
    out.append('<p class="muted">Every cache, with its oldest and newest entry, is in the CSV and JSON files beside this page.</p>')
    out.append("</body></html>")
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
    """The pip cache report filters."""

    def filters(self) -> dict[str, Any]:
        return {"pip_cache_report": pip_cache_report, "pip_cache_report_render": pip_cache_report_render}
