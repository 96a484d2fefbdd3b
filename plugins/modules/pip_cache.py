#!/usr/bin/python
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pip_cache
short_description: Remove, purge and prune pip's cache, idempotently and safely
version_added: 0.1.0
description:
  - Removes projects from pip's cache (O(state=absent)), empties it the way C(pip cache purge) does (O(state=purged)),
    or prunes it to an age and size budget (O(state=pruned)), for one user, several users or every user of a host.
  - Check mode predicts exactly what a real run removes; both take the same path through the engine.
  - Deletes only files at the positions of pip's own layout inside the cache's buckets (C(http-v2/), C(http/), C(wheels/),
    C(selfcheck/) when asked, and the legacy C(selfcheck.json)). Follows no symbolic link; a link is at most removed as a link.
  - Files that vanish while the module runs (pip running at the same time) are skipped; permission errors are reported
    path by path and the run goes on.
  - Every state also clears what pip 26 clears after a removal - wheel folders left without a wheel (their C(origin.json)
    included) and empty folders in the HTTP buckets - so a cache is never left in a state pip misreads.
author:
  - fleet.cache developers (@fleet-cache)
extends_documentation_fragment:
  - fleet.cache._common
  - fleet.cache._common.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows entries, files and bytes of the cache before and after, in the same shape in check and real runs.
  platform:
    platforms: [posix, windows]
  idempotent:
    support: full
options:
  state:
    description:
      - V(absent) removes the projects in O(name).
      - V(purged) removes exactly what the newest C(pip cache purge) removes (every wheel, every HTTP file, the folders left
        empty, C(selfcheck.json)), and what O(purge_extras) adds.
      - V(pruned) removes entries oldest first until the cache is within O(max_age) and O(max_size); O(ci) drops every download.
        An entry goes whole - an C(http-v2) metadata file with its body, a wheel folder with its C(origin.json).
    type: str
    required: true
    choices: [absent, purged, pruned]
  name:
    description:
      - With O(state=absent), the projects to remove.
      - With O(match=name) (the default), PEP 503 normalised names as people write them, each with an optional version
        specifier - V(PyYAML), V(typing-extensions), V(zope.interface), V(requests<2.30). Pre-releases match like any version.
      - With O(match=glob), pip's own patterns, matched exactly as C(pip cache remove PATTERN) matches them.
    type: list
    elements: str
  match:
    description:
      - V(name) matches normalised project names and version specifiers.
      - V(glob) reproduces pip's rule (C(*.whl) appended when the pattern holds a hyphen, C(-*.whl) otherwise, matched against
        wheel file names); the result equals C(pip cache remove), which removes HTTP files only for the literal pattern V(*).
    type: str
    default: name
    choices: [name, glob]
  downloads:
    description:
      - With O(match=name), also remove the projects' HTTP-cached downloads and index pages, found by decoding the cached
        bodies (pip cannot do this, pip issue 2882). Defaults to V(true) with O(match=name).
      - Not available with O(match=glob), whose result is pip's.
    type: bool
  purge_extras:
    description:
      - With O(state=purged), what pip's purge leaves that should go as well.
      - V(selfcheck) - pip's version-check state in C(selfcheck/) (pip issue 7372).
      - V(build_dirs) - build folders (C(tmp*)) inside wheel entries that still hold a wheel file.
      - V(stray_wheels) - C(.whl) files whose names pip's pattern does not match (older layouts, odd names).
    type: list
    elements: str
    choices: [selfcheck, build_dirs, stray_wheels]
    default: []
  max_age:
    description: With O(state=pruned), remove entries older than this - V(30d), V(12h), V(90m), V(2w) or seconds.
    type: str
  max_size:
    description:
      - With O(state=pruned), remove the oldest entries until the whole cache is at most this size -
        V(2GB), V(500MiB), V(1.5G) or bytes. Entries of the same second go in path order.
    type: str
  ci:
    description: With O(state=pruned), drop every HTTP-cached download and keep locally built wheels (what C(uv cache prune --ci) does).
    type: bool
    default: false
  min_age:
    description:
      - Spare every entry younger than this (V(5m), seconds), and wheel folders with a build in progress, so that cleaning
        while pip runs leaves alone what pip is writing right now.
      - V(0) (the default) spares nothing, like pip.
    type: str
    default: "0"
  allow_unsafe_cache_dir:
    description:
      - The module refuses to delete from a cache directory that is C(/), a filesystem root or mount point, a home folder or a
        system folder. Set V(true) only when such a directory really is a pip cache.
    type: bool
    default: false
  limit:
    description: The most removed paths returned in RV(removed.paths).
    type: int
    default: 100
seealso:
  - module: fleet.cache.pip_cache_info
  - module: fleet.cache.pip_config
"""

EXAMPLES = r"""
- name: Remove PyYAML and old requests from the cache, downloads included
  fleet.cache.pip_cache:
    state: absent
    name:
      - PyYAML
      - requests<2.30

- name: Do what 'pip cache remove "numpy-1.*"' does
  fleet.cache.pip_cache:
    state: absent
    match: glob
    name: ["numpy-1.*"]

- name: Empty every user's cache like 'pip cache purge', and pip's version-check state too
  fleet.cache.pip_cache:
    state: purged
    user: all
    purge_extras: [selfcheck]
  become: true

- name: Keep the cache under 2 GB and nothing older than 30 days, sparing what pip writes now
  fleet.cache.pip_cache:
    state: pruned
    max_size: 2GB
    max_age: 30d
    min_age: 5m

- name: CI runner - drop downloads, keep built wheels
  fleet.cache.pip_cache:
    state: pruned
    ci: true
"""

RETURN = r"""
removed:
  description: What was removed (or, in check mode, would be), over every cache acted on.
  returned: success
  type: dict
  contains:
    files:
      description: Files removed.
      type: int
      sample: 84
    dirs:
      description: Folders removed.
      type: int
      sample: 120
    entries:
      description: Cache entries removed (a wheel, an HTTP metadata and body pair, a legacy HTTP file).
      type: int
      sample: 45
    bytes:
      description: Bytes freed.
      type: int
      sample: 32456123
    freed:
      description: Bytes freed, in words.
      type: str
      sample: 30.9 MiB
    paths:
      description: Removed files, sorted, at most O(limit).
      type: list
      elements: str
      sample: [/home/alice/.cache/pip/wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl]
    paths_truncated:
      description: Whether RV(removed.paths) was cut at O(limit).
      type: bool
      sample: false
  sample: {files: 84, dirs: 120, entries: 45, bytes: 32456123, freed: 30.9 MiB}
before:
  description: Entries, files and bytes in the buckets acted on, before the run.
  returned: success
  type: dict
  sample: {entries: 45, files: 90, bytes: 32456200}
after:
  description: The same after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {entries: 0, files: 6, bytes: 77}
caches:
  description: One item per distinct cache directory acted on.
  returned: success
  type: list
  elements: dict
  contains:
    cache_dir:
      description: The cache directory; null when the cache is disabled.
      type: str
      sample: /home/alice/.cache/pip
    users:
      description: The users whose pip uses this directory.
      type: list
      elements: str
      sample: [alice]
    source:
      description: Why this directory (V(option), V(env), V(config), V(default), V(disabled)).
      type: str
      sample: default
    removed:
      description: As RV(removed), for this directory.
      type: dict
      sample: {files: 84, dirs: 120, entries: 45, bytes: 32456123}
    before:
      description: As RV(before), for this directory.
      type: dict
      sample: {entries: 45, files: 90, bytes: 32456200}
    after:
      description: As RV(after), for this directory.
      type: dict
      sample: {entries: 0, files: 6, bytes: 77}
    errors:
      description: Paths that could not be removed or read, with the reason (at most 50).
      type: list
      elements: dict
      sample: [{path: /home/alice/.cache/pip/wheels/ab, error: Permission denied}]
"""

import os
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.cache.plugins.module_utils._cache_common import human_size, parse_duration, parse_size
from ansible_collections.fleet.cache.plugins.module_utils._cache_http import identify_for_removal
from ansible_collections.fleet.cache.plugins.module_utils._cache_module import common_argument_spec, host_platform, run_guarded, targets
from ansible_collections.fleet.cache.plugins.module_utils._cache_remove import Request, check_cache_dir, remove
from ansible_collections.fleet.cache.plugins.module_utils._cache_scan import NameMatcher, check_glob_pattern, scan
from ansible_collections.fleet.cache.plugins.module_utils._cache_version import parse_requirement


def build_request(module: AnsibleModule) -> Request:
    params = module.params
    state = params["state"]
    case_insensitive = host_platform() == "win32"
    min_age = parse_duration(params["min_age"], option="min_age")
    if state == "absent":
        names = params["name"] or []
        if not names:
            module.fail_json(msg="name: state=absent needs at least one project name or pattern", option="name")
        if params["match"] == "glob":
            if params["downloads"]:
                module.fail_json(msg="downloads: not available with match=glob, whose result is pip's own; use match=name", option="downloads")
            patterns = [check_glob_pattern(pattern, option="name") for pattern in names]
            matchers = [NameMatcher(glob=pattern, case_insensitive=case_insensitive) for pattern in patterns]
            return Request(mode="absent", matcher=_AnyOf(matchers), http_all="*" in patterns, min_age=min_age)
        requirements = [parse_requirement(text, option="name") for text in names]
        downloads = True if params["downloads"] is None else params["downloads"]
        return Request(
            mode="absent",
            matcher=NameMatcher(requirements=requirements),
            http_projects=downloads,
            identify=identify_for_removal,
            min_age=min_age,
        )
    if state == "purged":
        return Request(
            mode="purged", purge_extras=frozenset(params["purge_extras"]), min_age=min_age, matcher=NameMatcher(glob="*", case_insensitive=case_insensitive)
        )
    if params["max_age"] is None and params["max_size"] is None and not params["ci"]:
        module.fail_json(msg="state=pruned needs max_age, max_size or ci=true", option="state")
    max_age = parse_duration(params["max_age"], option="max_age") if params["max_age"] is not None else None
    max_size = parse_size(params["max_size"], option="max_size") if params["max_size"] is not None else None
    return Request(mode="pruned", max_age=max_age, max_size=max_size, ci=params["ci"], min_age=min_age)


class _AnyOf(NameMatcher):
    """Several of pip's patterns at once: a wheel goes when any of them matches."""

    def __init__(self, matchers: list[NameMatcher]) -> None:
        super().__init__()
        self.matchers = matchers

    def matches_filename(self, filename: str) -> bool:
        return any(matcher.matches_filename(filename) for matcher in self.matchers)


def run(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    if params["limit"] < 0:
        module.fail_json(msg="limit: must be 0 or more", option="limit")
    request = build_request(module)
    homes = _homes()
    caches: list[dict[str, Any]] = []
    by_dir: dict[str, dict[str, Any]] = {}
    totals = {"files": 0, "dirs": 0, "entries": 0, "bytes": 0}
    paths: list[str] = []
    truncated = False
    before_all = {"entries": 0, "files": 0, "bytes": 0}
    after_all = {"entries": 0, "files": 0, "bytes": 0}
    for target in targets(module, resolve_commands=False):
        resolution = target.resolution
        for warning in resolution.warnings:
            module.warn(f"{target.account.name}: {warning}")
        directory = resolution.cache_dir
        if directory is None:
            caches.append({"cache_dir": None, "users": [target.account.name], "source": resolution.source, "disabled_reason": resolution.disabled_reason})
            continue
        if directory in by_dir:
            by_dir[directory]["users"].append(target.account.name)
            continue
        check_cache_dir(directory, homes=homes, allow_unsafe=params["allow_unsafe_cache_dir"])
        before_scan = scan(directory)
        outcome = remove(directory, request, dry_run=module.check_mode, list_limit=params["limit"], total_bytes=before_scan.total.bytes)
        for warning in outcome.warnings:
            module.warn(warning)
        if outcome.errors.count:
            first = outcome.errors.items[0]
            module.warn(f"{directory}: {outcome.errors.count} path(s) could not be removed or read, first: {first['path']}: {first['error']}")
        total = before_scan.total
        before = {"entries": total.entries, "files": total.files, "bytes": total.bytes}
        after = {
            "entries": max(0, total.entries - outcome.entries),
            "files": max(0, total.files - outcome.files),
            "bytes": max(0, total.bytes - outcome.bytes),
        }
        removed = outcome.as_dict()
        item = {
            "cache_dir": directory,
            "users": [target.account.name],
            "source": resolution.source,
            "removed": removed,
            "before": before,
            "after": after,
            "errors": outcome.errors.items,
        }
        by_dir[directory] = item
        caches.append(item)
        for key in totals:
            totals[key] += removed[key]
        for key in before_all:
            before_all[key] += before[key]
            after_all[key] += after[key]
        paths.extend(removed["paths"])
        truncated = truncated or removed["paths_truncated"]
    paths.sort()
    if len(paths) > params["limit"]:
        paths, truncated = paths[: params["limit"]], True
    changed = totals["files"] > 0 or totals["dirs"] > 0
    result: dict[str, Any] = {
        "changed": changed,
        "removed": dict(totals, freed=human_size(totals["bytes"]), paths=paths, paths_truncated=truncated),
        "before": before_all,
        "after": after_all,
        "caches": caches,
    }
    if module._diff:
        result["diff"] = {
            "before": {item["cache_dir"]: item["before"] for item in caches if item.get("before")},
            "after": {item["cache_dir"]: item["after"] for item in caches if item.get("after")},
        }
    return result


def _homes() -> list[str]:
    homes: list[str] = []
    try:
        import pwd

        homes.extend(entry.pw_dir for entry in pwd.getpwall() if entry.pw_dir not in ("/", ""))
    except ImportError:
        pass
    homes.append(os.environ.get("HOME", ""))
    return homes


def main() -> None:
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
        min_age={"type": "str", "default": "0"},
        allow_unsafe_cache_dir={"type": "bool", "default": False},
        limit={"type": "int", "default": 100},
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "absent", ("name",))],
    )
    run_guarded(module, lambda: run(module))


if __name__ == "__main__":
    main()
