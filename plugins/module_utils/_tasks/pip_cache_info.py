# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The pip_cache_info task: where each user's cache is, why, and what is in it.

``report`` takes the module's validated parameters (a plain dict) and a callback for each warning; it returns the
module's result and raises a CacheError (naming its option) for a failure. Standard library only.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from .._core.cache_root import unsafe_reason
from .._core.errors import CacheError, InvalidValue
from .._core.privilege import run_as
from .._core.units import human_size
from .._pip.http import list_downloads
from .._pip.layout import BUCKETS
from .._pip.matching import NameMatcher, check_glob_pattern
from .._pip.scan import scan
from .._pip.targets import acting_identity, common_argument_spec, homes, host_platform, targets
from .._pip.version import parse_requirement


def report(params: dict[str, Any], warn: Callable[[str], None], *, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The pip_cache_info module: ``params`` as its argument spec validated them (``module_spec``). It only reads, so
    check mode and diff change nothing."""
    del check_mode, diff
    if params["limit"] < 0:
        raise InvalidValue("must be 0 or more", option="limit")
    requirements = [parse_requirement(text, option="name") for text in params["name"]] if params["name"] is not None else None
    case_insensitive = host_platform() == "win32"  # pip matches patterns case-insensitively on Windows only
    if params["pattern"] is not None:
        matcher = NameMatcher(glob=check_glob_pattern(params["pattern"]), case_insensitive=case_insensitive)
    elif requirements is not None:
        matcher = NameMatcher(requirements=requirements)
    else:
        matcher = NameMatcher(glob="*", case_insensitive=case_insensitive)
    caches: list[dict[str, Any]] = []
    scanned: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for target in targets(params):
        resolution = target.resolution
        item: dict[str, Any] = dict(target.account.as_dict())
        if resolution is None:
            item.update(failed=True, error=target.failure, cache_dir=None)
            warn(f"{target.account.name}: {target.failure}; this user's entry is left out, the others go on")
            failed.append(target.account.name)
            caches.append(item)
            continue
        item.update(
            cache_dir=resolution.cache_dir,
            source=resolution.source,
            disabled=resolution.disabled,
            disabled_reason=resolution.disabled_reason,
            resolution=resolution.as_dict(),
            commands={
                name: {"cache_dir": other.cache_dir, "source": other.source, "disabled": other.disabled} for name, other in target.other_commands.items()
            },
            shared_with=[],
        )
        for warning in resolution.warnings:
            warn(f"{target.account.name}: {warning}")
        for name, other in target.other_commands.items():
            if other.cache_dir != resolution.cache_dir:
                warn(f"{target.account.name}: 'pip {name}' uses {other.cache_dir or 'no cache'} ({other.source}), not {resolution.cache_dir or 'no cache'}")
        if resolution.cache_dir is None:
            item.update(exists=False)
            caches.append(item)
            continue
        directory = resolution.cache_dir
        if directory in scanned:
            # Scanned once, reported once: the first user's entry holds the figures, this one points at it.
            first = scanned[directory]
            first["shared_with"].append(target.account.name)
            item["shared_with"].append(first["user"])
            item.update(exists=first.get("exists", False), counted_in=first["user"])
            caches.append(item)
            continue

        work = functools.partial(
            _scan_item, directory, target.account.name, params=params, matcher=matcher, requirements=requirements, case_insensitive=case_insensitive
        )
        try:
            found = run_as(acting_identity(target, directory), work)
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
        scanned[directory] = item
        caches.append(item)
    output: dict[str, Any] = {"changed": False, "caches": caches, "totals": totals_of(caches), "about": about_lines(caches)}
    if failed:
        output["failed_users"] = failed
        if len(failed) == len(caches):
            raise CacheError(f"no user's cache could be read: {caches[0].get('error')}", option="user", details={"caches": caches, "failed_users": failed})
    return output


def totals_of(caches: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures across every cache reported, each directory counted once (a shared one is in its first user's entry)."""
    counted = [item for item in caches if isinstance(item.get("total"), dict)]
    totals: dict[str, Any] = {
        "caches": len(counted),
        "users": len(caches),
        "disabled": sum(1 for item in caches if item.get("disabled")),
        "failed": sum(1 for item in caches if item.get("failed")),
    }
    for key in ("bytes", "files", "entries", "dirs"):
        totals[key] = sum(int(item["total"].get(key) or 0) for item in counted)
    totals["size"] = human_size(totals["bytes"])
    for key, figure in (("http_bytes", "http_size"), ("wheels_bytes", "wheels_size")):
        totals[key] = sum(int(item["pip_cache_info"].get(figure) or 0) for item in counted if isinstance(item.get("pip_cache_info"), dict))
    times = [item["total"][key] for item in counted for key in ("oldest", "newest") if item["total"].get(key)]
    totals["oldest"] = min(times) if times else None
    totals["newest"] = max(times) if times else None
    return totals


def about_lines(caches: list[dict[str, Any]]) -> list[str]:
    """The result in a few lines for people, one per user and one for the total: what ``about`` holds."""
    lines = []
    for item in caches:
        user = item.get("user") or "?"
        if item.get("failed"):
            lines.append(f"{user}: not reported: {item.get('error')}")
        elif item.get("cache_dir") is None:
            lines.append(f"{user}: pip's cache is disabled ({item.get('disabled_reason') or item.get('source')})")
        elif item.get("counted_in"):
            lines.append(f"{user}: {item['cache_dir']} ({item.get('source')}), shared with {item['counted_in']}: counted there")
        elif not item.get("exists"):
            lines.append(f"{user}: {item['cache_dir']} ({item.get('source')}): not there yet, pip creates it on first use")
        else:
            total = item.get("total") or {}
            info = item.get("pip_cache_info") or {}
            lines.append(
                f"{user}: {item['cache_dir']} ({item.get('source')}): {human_size(int(total.get('bytes') or 0))} in {int(total.get('files') or 0):,} files"
                f" (downloads and index pages {human_size(int(info.get('http_size') or 0))}, built wheels {human_size(int(info.get('wheels_size') or 0))})"
            )
    if len(caches) > 1:
        totals = totals_of(caches)
        lines.append(f"total: {totals['size']} in {totals['files']:,} files, {totals['caches']} cache(s) of {totals['users']} user(s)")
    return lines


def _scan_item(directory: str, user: str, *, params: dict[str, Any], matcher: NameMatcher, requirements: Any, case_insensitive: bool) -> dict[str, Any]:
    """Scan one cache as plain data, with its warnings: what the process acting for its user sends back."""
    warnings: list[str] = []
    unsafe = unsafe_reason(directory, homes=homes())
    if unsafe is not None:
        warnings.append(
            f"{user}: {unsafe[0]} is {unsafe[1]}, no place for a cache: only pip's own folders in it"
            f" ({', '.join(BUCKETS)}) are read, as pip reads them; nothing else in it is walked or counted"
        )
    result = scan(
        directory,
        list_matcher=matcher if params["wheels"] else None,
        list_limit=params["limit"],
        case_insensitive=case_insensitive,
        walk_other=unsafe is None,
    )
    item: dict[str, Any] = dict(
        exists=result.exists,
        buckets={name: stats.as_dict() for name, stats in result.buckets.items()},
        other=result.other.as_dict(),
        total=dict(result.total.as_dict(), size=human_size(result.total.bytes)),
        pip_cache_info=result.pip_info(),
        pip_cache_info_lines=result.pip_info_lines(),
        errors=result.errors.items,
    )
    warnings.extend(result.warnings)
    if result.errors.count:
        warnings.append(
            f"{directory}: {result.errors.count} path(s) could not be read, first: {result.errors.items[0]['path']}: {result.errors.items[0]['error']}"
        )
    if result.wheels is not None:
        item.update(wheels=[wheel.as_dict() for wheel in result.wheels.items()], wheels_count=result.wheels.count, wheels_truncated=result.wheels.truncated)
    if params["downloads"]:
        downloads, count, truncated, unknown = list_downloads(directory, requirements=requirements, limit=params["limit"])
        item.update(downloads=downloads, downloads_count=count, downloads_truncated=truncated, downloads_unrecognised=unknown)
    item["warnings"] = warnings
    return item


def module_spec() -> dict[str, Any]:
    """AnsibleModule's keyword arguments for pip_cache_info: the options every module takes, its own, and their constraints."""
    argument_spec = common_argument_spec()
    argument_spec.update(
        pattern={"type": "str"},
        name={"type": "list", "elements": "str"},
        wheels={"type": "bool", "default": True},
        downloads={"type": "bool", "default": False},
        limit={"type": "int", "default": 1000},
    )
    constraints: dict[str, Any] = {"mutually_exclusive": [("pattern", "name")]}
    return dict(argument_spec=argument_spec, **constraints)


TASK = report
"""The entry point's call: (params, warn, *, check_mode, diff) -> the module's result."""
