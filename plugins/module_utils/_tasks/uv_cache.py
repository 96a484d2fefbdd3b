# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The uv_cache task: clean packages from, purge or prune each user's uv cache, the same in check mode and for real.

``run`` takes the module's validated parameters (a plain dict), a callback for each warning, and check_mode and diff;
it returns the module's result and raises a CacheError (naming its option) for a failure. Standard library only.
"""

from __future__ import annotations

import functools
import os
import stat
from typing import Any, Callable, Optional

from .._core.accounts import acting_identity, homes
from .._core.cache_root import unsafe_reason
from .._core.errors import CacheError, InvalidValue, UnsafeCacheDir
from .._core.privilege import run_as
from .._core.units import parse_duration, parse_size
from .._uv.layout import uv_format_bytes, version_option
from .._uv.lock import lock_timeout
from .._uv.remove import UvRequest, normalize_package_name, remove
from .._uv.scan import scan
from .._uv.targets import UvTarget, targets, uv_argument_spec

STATES = {"absent": "clean", "purged": "purge", "pruned": "prune"}
FIGURES = ("files", "dirs", "bytes", "allocated_bytes")


def build_request(params: dict[str, Any], *, dry_run: bool) -> UvRequest:
    """The removal ``params`` ask for, without the per-user lock timeout and uv version (``remove_one`` adds them)."""
    state = params["state"]
    names = params["name"] or []
    if state == "absent":
        if not names:
            raise InvalidValue("state=absent needs at least one package name", option="name")
        for name in names:
            normalize_package_name(name, option="name")
    elif names:
        raise InvalidValue(f"only with state=absent (state={state} acts on every package)", option="name")
    budget = {
        "max_age": parse_duration(params["max_age"], option="max_age") if params["max_age"] is not None else None,
        "max_size": parse_size(params["max_size"], option="max_size") if params["max_size"] is not None else None,
    }
    if state != "pruned":
        for option in ("max_age", "max_size"):
            if budget[option] is not None:
                raise InvalidValue(f"only with state=pruned (state={state})", option=option)
        if params["ci"]:
            raise InvalidValue(f"only with state=pruned (state={state})", option="ci")
    min_age = parse_duration(params["min_age"], option="min_age")
    request = UvRequest(mode=STATES[state], packages=list(names), ci=params["ci"], dry_run=dry_run, force=params["force"], list_limit=params["limit"])
    if state == "pruned":
        request.max_age = int(budget["max_age"]) if budget["max_age"] is not None else None
        request.max_size = int(budget["max_size"]) if budget["max_size"] is not None else None
    request.min_age = int(min_age)
    return request


def cache_dir_option(source: str, environment: dict[str, Any]) -> Optional[str]:
    """The task option that chose a cache folder (``cache_dir``, or ``environment`` for its UV_CACHE_DIR); None when a
    configuration file or the user's own environment chose it (the message then says which)."""
    if source == "cache_dir option":
        return "cache_dir"
    if source == "UV_CACHE_DIR" and "UV_CACHE_DIR" in (environment or {}):
        return "environment"
    return None


def check_cache_dir(directory: str, source: str, option: Optional[str]) -> None:
    """Refuse, before anything is read or locked, a cache folder that is no place for a cache (/, a home or a system
    folder) or is no folder at all, naming what chose it. The removal checks the folder it opens again."""
    chosen = f" (chosen by {source})" if option is None else ""
    unsafe = unsafe_reason(directory, homes=homes())
    if unsafe is not None:
        raise UnsafeCacheDir(
            f"refusing to delete from {unsafe[0]!r}{chosen}: it is {unsafe[1]}, no place for a cache; left alone. Point it at uv's cache itself"
            " (uv cache dir prints it)",
            option=option,
            path=unsafe[0],
        )
    try:
        info = os.stat(directory)
    except OSError:
        return  # not there (or a dangling link): nothing to remove, as uv finds no cache there
    if not stat.S_ISDIR(info.st_mode):
        raise InvalidValue(f"{directory}{chosen} is not a folder: no uv cache there, and uv cannot use it as one; left alone", option=option, path=directory)
    link = _first_link(directory)
    if link is not None:
        # The removal opens the cache folder without following any link on the way (_core.cache_root), where uv follows
        # them; naming the folder behind the link instead would change what old uvs' absolute archive links match.
        raise InvalidValue(
            f"{directory}{chosen} is reached through the symbolic link {link}: this collection cannot yet remove from a uv cache behind a link; left alone",
            option=option,
            path=directory,
        )


def _first_link(path: str) -> Optional[str]:
    """The first component of the absolute ``path`` that is a symbolic link, None when there is none (or where the
    removal opens the cache by its path: Windows)."""
    if os.name != "posix":
        return None
    current = os.sep
    for part in os.path.normpath(path).split(os.sep):
        if not part:
            continue
        current = os.path.join(current, part)
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return current
        except OSError:
            return None
    return None


def remove_one(target: UvTarget, directory: str, request: UvRequest, lock_option: Optional[int], *, diff: bool, option: Optional[str] = None) -> dict[str, Any]:
    """One cache, with its user's privileges: (in diff mode) its figures before, then the removal, as plain data."""
    source = target.resolution.source if target.resolution is not None else "its configuration"
    check_cache_dir(directory, source, option)
    waited: list[str] = []
    timeout = lock_timeout(target.host.environ, lock_option)
    request.lock_timeout = timeout.seconds
    request.on_wait = waited.append
    request.version = version_option(target.program.version) if target.program is not None else None
    before = None
    if diff:
        found = scan(directory, version=request.version, packages_limit=0, unreferenced_limit=0)
        before = {"files": found.total.files, "bytes": found.total.bytes, "cache_size": found.cache_size}
    try:
        outcome = remove(directory, request, homes=homes())
    except UnsafeCacheDir as error:
        if error.option is None and option is not None:
            error.option = option
        raise
    data = outcome.as_dict()
    data["warnings"] = list(data["warnings"])
    if timeout.warning:
        data["warnings"].append(timeout.warning)
    if waited:
        data["warnings"].append(f"{directory}: {waited[0]} - waited for the lock ({timeout.seconds} s at most, from {timeout.source})")
    data["before"] = before
    return data


def run(params: dict[str, Any], warn: Callable[[str], None], *, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The uv_cache module: ``params`` as its argument spec validated them (``module_spec``)."""
    if params["limit"] < 0:
        raise InvalidValue("must be 0 or more", option="limit")
    if params["lock_timeout"] is not None and params["lock_timeout"] < 0:
        raise InvalidValue("must be 0 or more seconds", option="lock_timeout")
    request_template = build_request(params, dry_run=check_mode)
    found = targets(params)
    caches: list[dict[str, Any]] = []
    by_dir: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    last_error: Optional[CacheError] = None
    totals = dict.fromkeys(FIGURES, 0)
    for target in found:
        name = target.account.name
        resolution = target.resolution
        if resolution is None:
            warn(f"{name}: {target.failure}; this user's cache is left alone, the others go on")
            caches.append({"cache_dir": None, "users": [name], "failed": True, "error": target.failure})
            failed.append(name)
            last_error = CacheError(str(target.failure))
            continue
        for warning in resolution.warnings:
            warn(f"{name}: {warning}")
        if target.program is not None and target.program.warning:
            warn(f"{name}: {target.program.warning}")
        directory = resolution.cache_dir
        if directory is None:
            caches.append({"cache_dir": None, "users": [name], "source": resolution.source, "disabled_reason": resolution.disabled_reason})
            continue
        if directory in by_dir:
            by_dir[directory]["users"].append(name)
            continue
        request = UvRequest(**{key: getattr(request_template, key) for key in request_template.__dataclass_fields__})
        option = cache_dir_option(resolution.source, params.get("environment") or {})
        work = functools.partial(remove_one, target, directory, request, params["lock_timeout"], diff=diff, option=option)
        try:
            done = run_as(acting_identity(target.identity, directory), work)
        except CacheError as error:
            if len(found) == 1:
                raise
            last_error = error
            warn(f"{name}: {error}; this user's cache is left alone, the others go on")
            caches.append({"cache_dir": directory, "users": [name], "source": resolution.source, "failed": True, "error": str(error)})
            failed.append(name)
            continue
        for warning in done.pop("warnings"):
            warn(f"{name}: {warning}")
        errors = done.pop("errors")
        if errors["count"]:
            first = errors["items"][0]
            warn(f"{directory}: {errors['count']} path(s) could not be removed or read, first: {first['path']}: {first['error']}")
        for key in ("mode", "ci", "dry_run"):  # the task's own state, ci and check mode: said once, by the task
            done.pop(key, None)
        item = dict(done, users=[name], source=resolution.source, errors=errors["items"])
        item["uv_says"] = item.pop("uv")  # what that uv would print: its figures and lines
        item["uv"] = target.program.as_dict() if target.program else None
        item["cache_dir"] = directory
        by_dir[directory] = item
        caches.append(item)
        for key in FIGURES:
            totals[key] += int(done["removed"].get(key) or 0)
    if failed and len(failed) == len(found) and last_error is not None:
        raise last_error
    changed = any(item.get("changed") for item in caches)
    removed = dict(totals, freed=uv_format_bytes(totals["allocated_bytes"], short_below_kib=False))
    result: dict[str, Any] = {"about": about_lines(caches, dry_run=check_mode), "changed": changed, "removed": removed, "caches": caches}
    if failed:
        result["failed_users"] = failed
    if diff:
        result["diff"] = diff_of(caches)
    return result


def about_lines(caches: list[dict[str, Any]], *, dry_run: bool) -> list[str]:
    """The result in a few lines for people: per cache what went (or would go), in uv's own words beside ours."""
    verb = "would remove" if dry_run else "removed"
    lines = []
    for item in caches:
        users = ", ".join(item.get("users") or [])
        if item.get("failed"):
            lines.append(f"{users}: left alone: {item.get('error')}")
        elif item.get("cache_dir") is None:
            lines.append(f"{users}: uv's cache is disabled, nothing to do: {item.get('disabled_reason') or item.get('source')}")
        elif not item.get("exists", True):
            lines.append(f"{users}: {item['cache_dir']}: not there, nothing to do")
        else:
            done = item["removed"]
            says = "; ".join((item.get("uv_says") or {}).get("lines") or [])
            lines.append(
                f"{users}: {item['cache_dir']}: {verb} {_count(done['files'], 'file')}, {_size(done['allocated_bytes'])} on disk"
                + (f" (as uv {item.get('uv_version')} counts it: {says})" if says else "")
            )
    return lines


def diff_of(caches: list[dict[str, Any]]) -> dict[str, str]:
    """``--diff``: each cache's figures before and after (blocks on disk, as ``uv cache size``), and what goes."""
    before: list[str] = []
    after: list[str] = []
    for item in caches:
        figures = item.get("before")
        if not figures:
            continue
        removed = item["removed"]
        before.append(f"{item['cache_dir']}: {uv_format_bytes(figures['cache_size'], short_below_kib=False)} on disk, {_count(figures['files'], 'file')}")
        after.append(
            f"{item['cache_dir']}: {uv_format_bytes(max(0, figures['cache_size'] - removed['allocated_bytes']), short_below_kib=False)} on disk,"
            f" {_count(max(0, figures['files'] - removed['files']), 'file')}"
        )
        for entry in item.get("entries") or []:
            if entry.get("files") or entry.get("dirs"):
                size = uv_format_bytes(entry["allocated_bytes"], short_below_kib=False)
                before.append(f"  {entry['name']} ({entry['role']}): {_count(entry['files'], 'file')}, {size}")
        for package in item.get("packages") or []:
            if package.get("files") or package.get("dirs"):  # a package with nothing cached loses nothing
                before.append(f"  package {package['name']}: {_count(package['files'], 'file')}")
    return {
        "before_header": "uv caches before",
        "after_header": "uv caches after",
        "before": "".join(f"{line}\n" for line in before),
        "after": "".join(f"{line}\n" for line in after),
    }


def _size(num_bytes: int) -> str:
    """Bytes as uv writes them, in full below 1 KiB."""
    return uv_format_bytes(num_bytes, short_below_kib=False)


def _count(number: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{number:,} {word}" + ("" if number == 1 else "s")


def module_spec() -> dict[str, Any]:
    """AnsibleModule's keyword arguments for uv_cache: the options every uv module takes and its own."""
    argument_spec = uv_argument_spec()
    argument_spec.update(
        state={"type": "str", "required": True, "choices": sorted(STATES)},
        name={"type": "list", "elements": "str"},
        max_age={"type": "str"},
        max_size={"type": "str"},
        min_age={"type": "str", "default": "0"},
        ci={"type": "bool", "default": False},
        force={"type": "bool", "default": False},
        lock_timeout={"type": "int"},
        limit={"type": "int", "default": 100},
    )
    return {"argument_spec": argument_spec, "required_if": [("state", "absent", ("name",))]}


TASK = run
"""The entry point's call: (params, warn, *, check_mode, diff) -> the module's result."""
