# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The pip_cache task: remove, purge or prune each user's cache, the same in check mode and for real.

``run`` takes the module's validated parameters (a plain dict), a callback for each warning, and check_mode and diff;
it returns the module's result and raises a CacheError (naming its option) for a failure. Standard library only.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Optional

from .._core.errors import CacheError, InvalidValue
from .._core.privilege import run_as
from .._core.units import age_words, human_size, parse_duration, parse_size
from .._pip.http import identify_for_removal
from .._pip.matching import NameMatcher, check_glob_pattern
from .._pip.remove import Request, check_cache_dir, remove
from .._pip.scan import scan
from .._pip.targets import Target, acting_identity, common_argument_spec, homes, host_platform, targets
from .._pip.version import parse_requirement


def build_request(params: dict[str, Any]) -> Request:
    """The removal ``params`` ask for (state, name, match, downloads, purge_extras, max_age, max_size, ci, min_age)."""
    state = params["state"]
    case_insensitive = host_platform() == "win32"
    min_age = parse_duration(params["min_age"], option="min_age")
    if state == "absent":
        names = params["name"] or []
        if not names:
            raise InvalidValue("state=absent needs at least one project name or pattern", option="name")
        if params["match"] == "glob":
            if params["downloads"]:
                raise InvalidValue("not available with match=glob, whose result is pip's own; use match=name", option="downloads")
            patterns = [check_glob_pattern(pattern, option="name") for pattern in names]
            matchers = [NameMatcher(glob=pattern, case_insensitive=case_insensitive) for pattern in patterns]
            return Request(mode="absent", matcher=_AnyOf(matchers), http_all="*" in patterns, min_age=min_age, case_insensitive=case_insensitive)
        requirements = [parse_requirement(text, option="name") for text in names]
        downloads = True if params["downloads"] is None else params["downloads"]
        return Request(
            mode="absent",
            matcher=NameMatcher(requirements=requirements),
            http_projects=downloads,
            identify=identify_for_removal,
            min_age=min_age,
            case_insensitive=case_insensitive,
        )
    if state == "purged":
        return Request(
            mode="purged",
            purge_extras=frozenset(params["purge_extras"]),
            min_age=min_age,
            matcher=NameMatcher(glob="*", case_insensitive=case_insensitive),
            case_insensitive=case_insensitive,
        )
    if params["max_age"] is None and params["max_size"] is None and not params["ci"]:
        raise InvalidValue("state=pruned needs max_age, max_size or ci=true", option="state")
    max_age = parse_duration(params["max_age"], option="max_age") if params["max_age"] is not None else None
    max_size = parse_size(params["max_size"], option="max_size") if params["max_size"] is not None else None
    return Request(mode="pruned", max_age=max_age, max_size=max_size, ci=params["ci"], min_age=min_age, case_insensitive=case_insensitive)


class _AnyOf(NameMatcher):
    """Several of pip's patterns at once: a wheel goes when any of them matches."""

    def __init__(self, matchers: list[NameMatcher]) -> None:
        super().__init__()
        self.matchers = matchers

    def matches_filename(self, filename: str) -> bool:
        return any(matcher.matches_filename(filename) for matcher in self.matchers)


def run(params: dict[str, Any], warn: Callable[[str], None], *, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The pip_cache module: ``params`` as its argument spec validated them (``module_spec``)."""
    if params["limit"] < 0:
        raise InvalidValue("must be 0 or more", option="limit")
    request = build_request(params)
    found = targets(params, resolve_commands=False)
    result, _error_count = remove_each(found, request, dry_run=check_mode, limit=params["limit"], allow_unsafe=params["allow_unsafe_cache_dir"], warn=warn)
    if diff:
        result["diff"] = diff_of(result["caches"])
    return result


def diff_of(caches: list[dict[str, Any]]) -> dict[str, str]:
    """``--diff``: each cache's figures before and after, and in "before" the entries that go, named as people name
    them (kind, project, version, size), largest first, capped at ``limit`` with a count of the rest."""
    before: list[str] = []
    after: list[str] = []
    for item in caches:
        if not item.get("before"):
            continue
        for lines, figures in ((before, item["before"]), (after, item["after"])):
            lines.append(f"{item['cache_dir']}: {human_size(figures['bytes'])} in {figures['entries']:,} entries, {figures['files']:,} files")
        removed = item["removed"]
        for entry in removed["largest"]:
            before.append(f"  {entry_words(entry)}  {os.path.relpath(entry['path'], item['cache_dir'])}")
        rest = removed["entries"] - len(removed["largest"])
        if rest > 0:
            before.append(f"  ... and {rest:,} more entries (limit: {len(removed['largest'])} shown)")
    return {
        "before_header": "pip caches before",
        "after_header": "pip caches after",
        "before": "".join(f"{line}\n" for line in before),
        "after": "".join(f"{line}\n" for line in after),
    }


def remove_each(
    found: list[Target], request: Request, *, dry_run: bool, limit: int, allow_unsafe: bool, warn: Callable[[str], None]
) -> tuple[dict[str, Any], int]:
    """Apply ``request`` to the cache each target's pip uses, each distinct directory once (the pip_cache module's
    result, and the scheduled job's); returns the result and how many paths could not be removed or read.

    Each cache is scanned and emptied by a process holding its user's privileges (``acting_identity``). A user whose
    configuration or cache cannot be handled gets an entry with ``failed`` and the reason in ``failed_users``; the
    others go on. The error is raised when every target failed.
    """
    refused = homes()
    caches: list[dict[str, Any]] = []
    by_dir: dict[str, dict[str, Any]] = {}
    totals = {"files": 0, "dirs": 0, "entries": 0, "bytes": 0, "extra_files": 0, "extra_bytes": 0, "spared_entries": 0, "spared_bytes": 0}
    items: list[dict[str, Any]] = []
    truncated = False
    error_count = 0
    failed: list[str] = []
    last_error: Optional[CacheError] = None
    before_all = {"entries": 0, "files": 0, "bytes": 0}
    after_all = {"entries": 0, "files": 0, "bytes": 0}
    for target in found:
        resolution = target.resolution
        if resolution is None:
            warn(f"{target.account.name}: {target.failure}; this user's cache is left alone, the others go on")
            caches.append({"cache_dir": None, "users": [target.account.name], "failed": True, "error": target.failure})
            failed.append(target.account.name)
            last_error = CacheError(str(target.failure))
            continue
        for warning in resolution.warnings:
            warn(f"{target.account.name}: {warning}")
        directory = resolution.cache_dir
        if directory is None:
            caches.append({"cache_dir": None, "users": [target.account.name], "source": resolution.source, "disabled_reason": resolution.disabled_reason})
            continue
        if directory in by_dir:
            by_dir[directory]["users"].append(target.account.name)
            continue
        chosen_by = None if resolution.source == "option" else _chosen_by(target)

        def work(directory: str, chosen_by: Optional[str]) -> dict[str, Any]:
            check_cache_dir(directory, homes=refused, allow_unsafe=allow_unsafe, chosen_by=chosen_by)
            before_scan = scan(directory, case_insensitive=request.case_insensitive)
            outcome = remove(
                directory,
                request,
                dry_run=dry_run,
                list_limit=limit,
                total_bytes=before_scan.total.bytes,
                refuse_homes=None if allow_unsafe else refused,
            )
            total = before_scan.total
            return {
                "before": {"entries": total.entries, "files": total.files, "bytes": total.bytes},
                "exists": before_scan.exists,
                "removed": outcome.as_dict(),
                "warnings": before_scan.warnings + [warning for warning in outcome.warnings if warning not in before_scan.warnings],
            }

        try:
            done = run_as(acting_identity(target, directory), functools.partial(work, directory, chosen_by))
        except CacheError as error:
            if len(found) == 1:
                raise
            last_error = error
            warn(f"{target.account.name}: {error}; this user's cache is left alone, the others go on")
            caches.append({"cache_dir": directory, "users": [target.account.name], "source": resolution.source, "failed": True, "error": str(error)})
            failed.append(target.account.name)
            continue
        for warning in done["warnings"]:
            warn(warning)
        removed = done["removed"]
        if removed["error_count"]:
            first = removed["errors"][0]
            warn(f"{directory}: {removed['error_count']} path(s) could not be removed or read, first: {first['path']}: {first['error']}")
        error_count += removed["error_count"]
        before = done["before"]
        # What goes with its folder (origin.json, selfcheck.json) is gone from the cache too, though pip does not count it.
        gone = {"entries": removed["entries"], "files": removed["files"] + removed["extra_files"], "bytes": removed["bytes"] + removed["extra_bytes"]}
        after = {key: max(0, before[key] - gone[key]) for key in ("entries", "files", "bytes")}
        item = {
            "cache_dir": directory,
            "users": [target.account.name],
            "source": resolution.source,
            "exists": done["exists"],
            "removed": removed,
            "before": before,
            "after": after,
            "errors": removed["errors"],
        }
        by_dir[directory] = item
        caches.append(item)
        for key in totals:
            totals[key] += removed[key]
        for key in before_all:
            before_all[key] += before[key]
            after_all[key] += after[key]
        items.extend(dict(entry, cache_dir=directory) for entry in removed["largest"])
        truncated = truncated or removed["largest_truncated"]
    if failed and len(failed) == len(found) and last_error is not None:
        raise last_error
    items.sort(key=lambda entry: (-entry["bytes"], entry["path"]))
    if len(items) > limit:
        items, truncated = items[:limit], True
    changed = totals["files"] > 0 or totals["extra_files"] > 0 or totals["dirs"] > 0
    removed_all = dict(totals, freed=human_size(totals["bytes"]), largest=items, largest_truncated=truncated)
    result: dict[str, Any] = {
        "about": about_lines(caches, removed_all, dry_run=dry_run, min_age=request.min_age),
        "changed": changed,
        "removed": removed_all,
        "before": dict(before_all, size=human_size(before_all["bytes"])),
        "after": dict(after_all, size=human_size(after_all["bytes"])),
        "caches": caches,
    }
    if failed:
        result["failed_users"] = failed
    return result, error_count


def entry_words(entry: dict[str, Any]) -> str:
    """One removed entry as people name it: ``download: numpy 2.1.0, 18.2 MB``; ``http entry, 3.0 kB`` when its
    content names no project (a response pip cached that is neither a download nor an index page)."""
    name = " ".join(part for part in (entry.get("project"), entry.get("version")) if part)
    return f"{entry['kind']}: {name}, {entry['size']}" if name else f"{entry['kind']}, {entry['size']}"


def about_lines(caches: list[dict[str, Any]], removed: dict[str, Any], *, dry_run: bool, min_age: float) -> list[str]:
    """The result in a few lines for people: what went (or would go) from each cache with the entries younger than
    min_age it left alone, the total with several caches, then the largest entries, each with its users."""
    verb = "would free" if dry_run else "freed"
    lines = []
    owners: dict[str, str] = {}
    acted = 0
    for item in caches:
        users = ", ".join(item.get("users") or [])
        if item.get("failed"):
            lines.append(f"{users}: left alone: {item.get('error')}")
        elif item.get("cache_dir") is None:
            lines.append(f"{users}: pip's cache is disabled, nothing to do: {item.get('disabled_reason') or item.get('source')}")
        elif not item.get("exists", True):
            lines.append(f"{users}: {item['cache_dir']}: not there, nothing to do")
        else:
            acted += 1
            owners[item["cache_dir"]] = users
            done = item["removed"]
            line = (
                f"{users}: {item['cache_dir']}: {verb} {human_size(done['bytes'] + done['extra_bytes'])}"
                f" ({_count(done['entries'], 'entry', 'entries')}, {_count(done['files'] + done['extra_files'], 'file', 'files')});"
                f" {human_size(item['before']['bytes'])} -> {human_size(item['after']['bytes'])}"
            )
            if done.get("spared_entries"):
                line += (
                    f"; {_count(done['spared_entries'], 'entry', 'entries')} ({human_size(done['spared_bytes'])}) younger than"
                    f" min_age={age_words(min_age)} left alone"
                )
            lines.append(line)
    if acted > 1:
        total = human_size(removed["bytes"] + removed["extra_bytes"])
        lines.append(f"total: {verb} {total} ({_count(removed['entries'], 'entry', 'entries')}) from {acted} caches")
    for entry in removed["largest"]:
        whose = f"{owners[entry['cache_dir']]}: " if acted > 1 and entry.get("cache_dir") in owners else ""
        lines.append("  " + whose + entry_words(entry) + ("" if entry.get("project") else f": {entry['path']}"))
    rest = removed["entries"] - len(removed["largest"])
    if rest > 0:
        lines.append(f"  ... and {_count(rest, 'more entry', 'more entries')}")
    return lines


def _count(number: int, one: str, many: str) -> str:
    return f"{number:,} {one if number == 1 else many}"


def _chosen_by(target: Target) -> str:
    """What pointed this user's pip at its cache folder, in words (for a refusal that names no task option)."""
    resolution = target.resolution
    if resolution is None:
        return f"{target.account.name}'s configuration"
    setting = resolution.setting
    if resolution.source == "env" and setting is not None:
        return f"{setting.section} in the task's environment"
    if resolution.source == "config" and setting is not None:
        return f"cache-dir in [{setting.section}] of {setting.origin}"
    return f"{target.account.name}'s default cache folder (a link on the way to it leads there)"


def module_spec() -> dict[str, Any]:
    """AnsibleModule's keyword arguments for pip_cache: the options every module takes, its own, and their constraints."""
    argument_spec = common_argument_spec()
    argument_spec.update(
        state={"type": "str", "required": True, "choices": ["absent", "purged", "pruned"]},
        name={"type": "list", "elements": "str"},
        match={"type": "str", "default": "name", "choices": ["name", "glob"]},
        downloads={"type": "bool"},
        purge_extras={"type": "list", "elements": "str", "default": [], "choices": ["selfcheck", "build_dirs", "stray_wheels"]},
        max_age={"type": "str"},
        max_size={"type": "str"},
        ci={"type": "bool", "default": False},
        min_age={"type": "str", "default": "5m"},  # safe beside a running pip: see the option's documentation
        allow_unsafe_cache_dir={"type": "bool", "default": False},
        limit={"type": "int", "default": 100},
    )
    constraints: dict[str, Any] = {"required_if": [("state", "absent", ("name",))]}
    return dict(argument_spec=argument_spec, **constraints)


TASK = run
"""The entry point's call: (params, warn, *, check_mode, diff) -> the module's result."""
