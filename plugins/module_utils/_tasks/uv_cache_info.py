# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The uv_cache_info task: where each user's uv cache is, why, which uv's layout counts, and what is in it.

``report`` takes the module's validated parameters (a plain dict) and a callback for each warning; it returns the
module's result and raises a CacheError (naming its option) for a failure. Standard library only.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Optional

from .._core.accounts import acting_identity, homes
from .._core.cache_root import unsafe_reason
from .._core.errors import CacheError, InvalidValue
from .._core.fd import DIR_FLAGS, FD_SUPPORTED
from .._core.privilege import run_as
from .._uv.layout import uv_format_bytes
from .._uv.lock import in_use
from .._uv.scan import scan
from .._uv.targets import UvTarget, targets, uv_argument_spec


def report(params: dict[str, Any], warn: Callable[[str], None], *, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The uv_cache_info module: ``params`` as its argument spec validated them (``module_spec``). It only reads, so
    check mode and diff change nothing."""
    del check_mode, diff
    if params["limit"] < 0:
        raise InvalidValue("must be 0 or more", option="limit")
    caches: list[dict[str, Any]] = []
    scanned: dict[str, list[dict[str, Any]]] = {}  # by same_dir_key: the entries of one folder, the one counted first
    failed: list[str] = []
    for target in targets(params):
        item: dict[str, Any] = dict(target.account.as_dict())
        resolution = target.resolution
        if resolution is None or target.program is None:
            item.update(failed=True, error=target.failure, cache_dir=None)
            warn(f"{target.account.name}: {target.failure}; this user's entry is left out, the others go on")
            failed.append(target.account.name)
            caches.append(item)
            continue
        program = target.program
        item.update(
            cache_dir=resolution.cache_dir,
            uv_cache_dir=resolution.uv_cache_dir,
            source=resolution.source,
            disabled=resolution.disabled,
            disabled_reason=resolution.disabled_reason,
            resolution=resolution.to_data(),
            uv=program.as_dict(),
            shared_with=[],
        )
        for warning in resolution.warnings:
            warn(f"{target.account.name}: {warning}")
        if program.warning:
            warn(f"{target.account.name}: {program.warning}")
        directory = resolution.cache_dir
        if directory is None:
            item.update(exists=False, scanned=False)
            caches.append(item)
            continue
        key = same_dir_key(directory)
        if key in scanned:
            sharing = scanned[key]
            for other in sharing:
                other["shared_with"].append(target.account.name)
                item["shared_with"].append(other["user"])
            item.update(exists=sharing[0].get("exists", False), scanned=False, counted_in=sharing[0]["user"])
            sharing.append(item)
            caches.append(item)
            continue
        try:
            found = run_as(acting_identity(target.identity, directory), functools.partial(scan_item, target, directory, params["limit"]))
        except CacheError as error:
            if params["user"] != "all":
                raise
            item.update(failed=True, error=str(error))
            warn(f"{target.account.name}: {error}; this user's entry is left out, the others go on")
            failed.append(target.account.name)
            caches.append(item)
            continue
        for warning in found.pop("warnings"):
            warn(warning)
        item.update(found)
        scanned[key] = [item]
        caches.append(item)
    output: dict[str, Any] = {"changed": False, "caches": caches, "totals": totals_of(caches), "about": about_lines(caches)}
    if failed:
        output["failed_users"] = failed
        if len(failed) == len(caches):
            raise CacheError(f"no user's uv cache could be read: {caches[0].get('error')}", option="user", details={"caches": caches, "failed_users": failed})
    return output


def same_dir_key(directory: str) -> str:
    """What tells two users' cache folders are one: the path with links resolved (``/srv/uv/``, ``/srv/./uv`` and a
    link to it are the same folder). Only names are looked up (no folder is opened or listed)."""
    return os.path.realpath(os.path.normpath(directory))


_CACHE_DIR_FLAGS = DIR_FLAGS & ~getattr(os, "O_NOFOLLOW", 0)


def lock_state(directory: str) -> Optional[bool]:
    """Whether a uv process holds the cache now (None where it cannot be told). The cache folder is opened as uv and
    the scan open it (a link to the cache is followed: ``~/.cache/uv -> /data/uv`` is a cache in use like any
    other); ``.lock`` is opened inside it by descriptor, never through a link."""
    if not FD_SUPPORTED:
        return in_use(None, directory)
    try:
        fd = os.open(directory, _CACHE_DIR_FLAGS)
    except OSError:
        return None
    try:
        return in_use(fd, directory)
    finally:
        os.close(fd)


def scan_item(target: UvTarget, directory: str, limit: int) -> dict[str, Any]:
    """Scan one cache as plain data, with its warnings: what the process acting for its user sends back."""
    warnings: list[str] = []
    user = target.account.name
    unsafe = unsafe_reason(directory, homes=homes())
    if unsafe is not None:
        reason = f"{unsafe[0]} is {unsafe[1]}, no place for a cache"
        warnings.append(f"{user}: {reason}: it is not scanned")
        return {"exists": True, "scanned": False, "not_scanned_reason": reason, "warnings": warnings}
    program = target.program
    result = scan(directory, version=program.version if program else None, packages_limit=limit, unreferenced_limit=limit)
    data = result.as_dict()
    warnings.extend(f"{user}: {warning}" for warning in data.pop("warnings"))
    if not result.exists and os.path.lexists(directory):
        data["not_scanned_reason"] = f"{directory} is not a folder"
    errors = data.pop("errors")
    if errors["count"]:
        first = errors["items"][0]
        warnings.append(f"{user}: {directory}: {errors['count']} path(s) could not be read, first: {first['path']}: {first['error']}")
    data["errors"] = errors["items"][:limit]
    data["errors_count"] = errors["count"]
    data.pop("cache_dir", None)
    data["layout"] = data.pop("uv")
    data["scanned"] = result.exists
    try:
        data["in_use"] = lock_state(directory) if result.exists else False
    except CacheError as error:
        data["in_use"] = None
        warnings.append(f"{user}: {error}")
    data["warnings"] = warnings
    return data


def figure(item: dict[str, Any], *keys: str) -> int:
    value: Any = item
    for key in keys:
        if not isinstance(value, dict):
            return 0
        value = value.get(key)
    return int(value or 0)


def totals_of(caches: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures across every cache reported, each directory counted once (a shared one is in its first user's entry)."""
    counted = [item for item in caches if isinstance(item.get("total"), dict)]
    totals: dict[str, Any] = {
        "caches": len(counted),
        "users": len(caches),
        "disabled": sum(1 for item in caches if item.get("disabled")),
        "failed": sum(1 for item in caches if item.get("failed")),
        "in_use": sum(1 for item in counted if item.get("in_use")),
    }
    for key in ("bytes", "files", "dirs"):
        totals[key] = sum(figure(item, "total", key) for item in counted)
    totals["cache_size"] = sum(figure(item, "cache_size") for item in counted)
    totals["size"] = uv_format_bytes(totals["cache_size"], short_below_kib=False)
    totals["stale_bytes"] = sum(figure(item, "roles", "stale", "bytes") for item in counted)
    totals["unreferenced_bytes"] = sum(figure(item, "unreferenced_archives", "bytes") for item in counted)
    times = [item["total"][key] for item in counted for key in ("oldest", "newest") if item["total"].get(key)]
    totals["oldest"] = min(times) if times else None
    totals["newest"] = max(times) if times else None
    return totals


def about_lines(caches: list[dict[str, Any]]) -> list[str]:
    """The result in a few lines for people, one per user and one for the total: what ``about`` holds."""
    lines = []
    for item in caches:
        user = item.get("user") or "?"
        uv = (item.get("uv") or {}).get("version")
        if item.get("failed"):
            lines.append(f"{user}: not reported: {item.get('error')}")
        elif item.get("cache_dir") is None:
            lines.append(f"{user}: uv's cache is disabled ({item.get('disabled_reason') or item.get('source')})")
        elif item.get("counted_in"):
            lines.append(f"{user}: {item['cache_dir']} ({item.get('source')}), shared with {item['counted_in']}: counted there")
        elif item.get("not_scanned_reason"):
            lines.append(f"{user}: {item['cache_dir']} ({item.get('source')}): not scanned, {item['not_scanned_reason']}")
        elif not item.get("exists"):
            lines.append(f"{user}: {item['cache_dir']} ({item.get('source')}): not there yet, uv creates it on first use")
        else:
            line = (
                f"{user}: {item['cache_dir']} ({item.get('source')}, uv {uv}): {uv_format_bytes(figure(item, 'cache_size'), short_below_kib=False)} on disk,"
                f" {uv_format_bytes(figure(item, 'total', 'bytes'))} in {figure(item, 'total', 'files'):,} files"
            )
            parts = [
                ("other uv versions' buckets", figure(item, "roles", "stale", "bytes")),
                ("unused archives", figure(item, "unreferenced_archives", "bytes")),
                ("old source revisions", figure(item, "stale_revisions", "bytes")),
            ]
            if any(size for _what, size in parts):
                # At least: prune also empties uv's temporary environments (and uv 0.13's builds), not counted here.
                line += (
                    f"; uv cache prune frees at least {uv_format_bytes(sum(size for _what, size in parts))} ("
                    + ", ".join(f"{what} {uv_format_bytes(size)}" for what, size in parts if size)
                    + ")"
                )
            if item.get("in_use"):
                line += "; a uv process is using it now"
            lines.append(line)
    if len(caches) > 1:
        totals = totals_of(caches)
        lines.append(f"total: {totals['size']} on disk in {totals['files']:,} files, {totals['caches']} cache(s) of {totals['users']} user(s)")
    return lines


def module_spec() -> dict[str, Any]:
    """AnsibleModule's keyword arguments for uv_cache_info: the options every uv module takes and its own."""
    argument_spec = uv_argument_spec()
    argument_spec.update(limit={"type": "int", "default": 1000})
    return {"argument_spec": argument_spec}


TASK = report
"""The entry point's call: (params, warn, *, check_mode, diff) -> the module's result."""
