#!/usr/bin/python
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: uv_cache
short_description: Clean packages from, purge or prune uv's cache, as uv does, and within size and age budgets
version_added: 0.2.0
description:
  - Removes from each user's uv cache what C(uv cache clean PKG...) (O(state=absent)), C(uv cache clean)
    (O(state=purged)) or C(uv cache prune) (O(state=pruned), with O(ci=true) as C(uv cache prune --ci)) removes, for
    the uv version whose layout counts (see O(uv)), file by file.
  - Takes uv's cache lock as C(uv cache clean) and C(uv cache prune) take it (C(.lock) in the cache, the same kind of
    lock), waits for running uv processes as uv waits (O(lock_timeout), else C(UV_LOCK_TIMEOUT), else 5 minutes) and
    fails naming the lock when the time runs out; O(force=true) goes on without it, as C(--force).
  - Keeps the cache folder and its C(.lock) after a purge (as uv 0.13 does; older uv versions removed both), and keeps
    the buckets of a uv newer than this collection knows, with a warning.
  - Never follows a link; removes nothing outside the cache. Refuses a cache directory that is the root of the file
    system, a home folder or a system folder, or is not a folder, naming the option (or the setting) that chose it.
  - On POSIX hosts, a cache directory reached through a symbolic link (itself a link, or below one) is left alone, with a
    failure naming the link (with O(user=all), that user's failure).
  - Check mode removes nothing, takes the same path and reports exactly what a real run removes.
  - Goes further where uv has no command - with O(state=pruned), O(max_age) removes the entries uv last wrote longer ago
    than it and O(max_size) the oldest until the cache takes at most that much disk space as C(uv cache size) counts it;
    an entry (a wheel with its archive link and pointers, a source distribution's revisions, an index page) goes whole,
    and an archive only with the last link to it - never a link left without its archive. O(min_age) spares young
    entries. The age is the time since uv last wrote an entry (uv does not record when it reads one).
author:
  - fleet.cache developers (@fleet-cache)
extends_documentation_fragment:
  - fleet.cache._uv_common
attributes:
  diff_mode:
    support: full
    details: The cache's figures before and after (blocks on disk, as C(uv cache size)), and each root entry and package that loses files.
options:
  state:
    description:
      - V(absent) removes the packages O(name) names (their wheels, source distributions, index pages, and the archives
        no other entry points to), as C(uv cache clean PKG...). As uv does, it also empties the C(flat-index) bucket.
      - V(purged) empties the cache, as C(uv cache clean).
      - V(pruned) removes what C(uv cache prune) removes (the buckets other uv versions left, unused archives, temporary
        environments), with O(ci) what C(--ci) removes too, then what O(max_age) and O(max_size) ask.
    type: str
    required: true
    choices: [absent, purged, pruned]
  name:
    description:
      - With O(state=absent), the packages to remove, as people write them (V(PyYAML), V(zope.interface),
        V(typing_extensions)); compared after normalisation, as uv compares them. A name uv refuses is refused.
    type: list
    elements: str
  max_age:
    description:
      - With O(state=pruned), remove entries last written longer ago than this (V(30d), V(12h)).
    type: str
  max_size:
    description:
      - With O(state=pruned), remove the oldest entries until the cache takes at most this much disk space, counted as
        C(uv cache size) counts it (V(10GiB), V(500MB)).
    type: str
  min_age:
    description:
      - Never remove an entry written less than this long ago (V(10m)). uv's lock already keeps a running uv's entries
        safe; this matters with O(force=true).
    type: str
    default: "0"
  ci:
    description: With O(state=pruned), also remove what C(uv cache prune --ci) removes - every pre-built wheel, keeping the wheels uv built from source.
    type: bool
    default: false
  force:
    description: Go on without uv's cache lock when another uv process holds it, as C(--force); that uv may then fail.
    type: bool
    default: false
  lock_timeout:
    description:
      - Seconds to wait for uv's cache lock held by another uv process. Omitted, C(UV_LOCK_TIMEOUT) from the user's
        environment (O(environment)), read as uv reads it, else 300, uv's default. V(0) fails at once when the lock is held.
    type: int
  limit:
    description: The most archives RV(caches[].archives) names one by one; its count and figures are always complete.
    type: int
    default: 100
seealso:
  - module: fleet.cache.uv_cache_info
  - module: fleet.cache.pip_cache
"""

EXAMPLES = r"""
- name: Prune the connecting user's uv cache as uv cache prune does
  fleet.cache.uv_cache:
    state: pruned

- name: Then keep it within 10 GiB on disk and 30 days since uv last wrote an entry
  fleet.cache.uv_cache:
    state: pruned
    max_size: 10GiB
    max_age: 30d

- name: On a CI runner, what uv cache prune --ci removes, for every user
  fleet.cache.uv_cache:
    state: pruned
    ci: true
    user: all
  become: true

- name: Remove two packages from the cache, as uv cache clean does
  fleet.cache.uv_cache:
    state: absent
    name: [PyYAML, typing_extensions]

- name: Empty the cache at the end of an image build, waiting at most a minute for running uv processes
  fleet.cache.uv_cache:
    state: purged
    lock_timeout: 60
"""

RETURN = r"""
about:
  description: What went (or would go, in check mode) from each cache, in a line per cache, with the line that uv version prints.
  returned: success
  type: list
  elements: str
  sample: ["alice: /home/alice/.cache/uv: removed 135 files, 892.0KiB on disk (as uv 0.13.10 counts it: Removed 135 files (604.0KiB))"]
changed:
  description: Whether anything was (or, in check mode, would be) removed.
  returned: always
  type: bool
  sample: true
removed:
  description: What went from every cache - C(files), C(dirs), C(bytes) (apparent), C(allocated_bytes) (blocks on disk) and C(freed) (in uv's words).
  returned: success
  type: dict
  sample: {files: 135, dirs: 72, bytes: 238430, allocated_bytes: 913408, freed: 892.0KiB}
failed_users:
  description: The users whose cache was left alone, with the reason in their RV(caches) entry.
  returned: when a user failed
  type: list
  elements: str
  sample: [mallory]
caches:
  description: One item per distinct cache directory (and per user whose cache is disabled or failed).
  returned: success
  type: list
  elements: dict
  contains:
    cache_dir:
      description: The cache directory; null when the cache is disabled or the user failed before it was known.
      type: str
      sample: /home/alice/.cache/uv
    users:
      description: The users whose uv uses it.
      type: list
      elements: str
      sample: [alice]
    failed:
      description: Present and V(true) when this user's cache was left alone; RV(caches[].error) says why.
      type: bool
      returned: when this user failed
      sample: true
    error:
      description: Why this user's cache was left alone. Never quotes a file's contents.
      type: str
      returned: when this user failed
      sample: "uv cannot parse /home/mallory/.config/uv/uv.toml: line 3: expected a value"
    disabled_reason:
      description: What disabled this user's cache (C(UV_NO_CACHE), or C(no-cache) in which file); nothing to remove then.
      type: str
      returned: when the cache is disabled
      sample: "UV_NO_CACHE=1: uv works in a temporary folder it removes at exit"
    source:
      description: What chose the directory (see M(fleet.cache.uv_cache_info)).
      type: str
      sample: default
    uv:
      description: The uv whose layout counted - C(path), C(version), C(source).
      type: dict
      sample: {path: /home/alice/.local/bin/uv, version: 0.13.10, source: found}
    uv_version:
      description: The uv version whose rules applied.
      type: str
      sample: 0.13.10
    exists:
      description: Whether the cache directory existed.
      type: bool
      sample: true
    changed:
      description: Whether anything went from this cache.
      type: bool
      sample: true
    removed:
      description: C(files), C(dirs), C(bytes) and C(allocated_bytes) removed from this cache.
      type: dict
      sample: {files: 135, dirs: 72, bytes: 238430, allocated_bytes: 913408}
    uv_says:
      description:
        - What that uv version would count and print for the same operation - C(files), C(dirs), C(bytes), its
          C(lines) (C(Removed 135 files (604.0KiB)); one line per package before uv 0.5) and C(summary) (those lines in
          one text).
      type: dict
      sample:
        files: 135
        dirs: 72
        bytes: 618496
        lines: ["Removed 135 files (604.0KiB)"]
        summary: "Removed 135 files (604.0KiB)"
    entries:
      description:
        - Per root entry (bucket) the removal went through, its C(name), C(kind), C(role) for that uv (C(current),
          C(stale), C(other), ...) and what went from it (C(files), C(dirs), C(bytes), C(allocated_bytes); zeros when
          nothing in it went).
      type: list
      elements: dict
      sample: [{name: wheels-v8, kind: dir, role: current, files: 40, dirs: 12, bytes: 20480, allocated_bytes: 212992}]
    more_entries:
      description: What went from the root entries past the ones RV(caches[].entries) lists one by one (C(count) of them, and their figures).
      type: dict
      sample: {count: 0, files: 0, dirs: 0, bytes: 0, allocated_bytes: 0}
    stale_revisions:
      description: With O(state=pruned), the old revisions of built source distributions removed (C(count) and their figures).
      type: dict
      sample: {count: 1, files: 3, dirs: 1, bytes: 1200, allocated_bytes: 16384}
    packages:
      description: With O(state=absent), per package asked, its normalised name and what went for it.
      type: list
      elements: dict
      sample: [{requested: PyYAML, name: pyyaml, archives: 1, files: 20, dirs: 7, bytes: 53104, allocated_bytes: 131072}]
    archives:
      description: The unpacked archives removed, with their count and figures (names capped by O(limit)).
      type: dict
      sample:
        {count: 1, files: 15, dirs: 6, bytes: 43896, allocated_bytes: 106496, limit: 100, truncated: false,
         items: [{name: hTt-zDyk8zAz6hzU, files: 15}]}
    kept_newer_than_known:
      description: Buckets of a uv newer than this collection knows, kept.
      type: list
      elements: str
      sample: [wheels-v9]
    lock:
      description: uv's cache lock - C(path), C(held), C(forced), C(waited), C(created), C(timeout), C(reason).
      type: dict
      sample: {path: /home/alice/.cache/uv/.lock, held: true, forced: false, waited: false, created: false, timeout: 300,
               reason: null}
    budget:
      description:
        - With O(max_age) or O(max_size), what the budget found and did - C(cache_size_before) and C(cache_size) (blocks on
          disk, as C(uv cache size), after uv's own prune steps and after the budget), C(within_budget) (measured) and
          C(reason) when it is not, C(entries), C(by_age), C(by_size), C(archives), C(removed), C(kept), C(spared), and
          C(items) (each entry removed, capped by O(limit)).
      type: dict
      returned: when a budget was asked for
      sample: {cache_size_before: 917504, cache_size: 503808, within_budget: true, reason: null, entries: 33, by_age: 12, by_size: 1}
    before:
      description: In diff mode, the cache's C(files), C(bytes) and C(cache_size) (blocks on disk) before; null otherwise.
      type: dict
      sample: {files: 258, bytes: 481587, cache_size: 1855488}
    errors:
      description: Paths that could not be removed or read, with the reason.
      type: list
      elements: dict
      sample: [{path: /home/alice/.cache/uv/wheels-v8/pypi/x, error: Permission denied}]
"""

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.fleet.cache.plugins.module_utils._entry import module_main
from ansible_collections.fleet.cache.plugins.module_utils._tasks import uv_cache as task


def main() -> None:
    module_main(task, AnsibleModule, _load_params)


if __name__ == "__main__":
    main()
