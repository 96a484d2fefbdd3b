# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# The filter pip_cache_report is documented in pip_cache_report.yml beside this file; its output is shown by the
# filter pip_cache_report_render (pip_cache_report_render.py).

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError

_SIZE_KEYS = ("bytes", "files", "entries", "downloads_bytes", "wheels_bytes", "other_bytes")


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


class FilterModule:
    """The filter that gathers pip cache results into a report."""

    def filters(self) -> dict[str, Any]:
        return {"pip_cache_report": pip_cache_report}
