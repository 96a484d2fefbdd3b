#!/usr/bin/python
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: uv_cache_info
short_description: Report where uv's cache is, why, and what is in it
version_added: 0.2.0
description:
  - Reports, for one user, several users or every user of a host, the directory uv uses as its cache and the reason
    (an option, C(UV_CACHE_DIR), which configuration file, C(XDG_CACHE_HOME) or the platform default), exactly as
    C(uv cache dir) prints it, or why the cache is disabled (C(UV_NO_CACHE), C(no-cache)).
  - Tells which uv version's layout counts (see O(uv)) and, per entry of the cache's root, its role for that uv - a
    bucket it reads (C(wheels-v8), C(archive-v0), ...), a bucket another uv version left (what C(uv cache prune) removes), a
    bucket of a uv newer than this collection knows (never removed), uv's marker files, or something else - with files,
    bytes, blocks on disk and the oldest and newest modification times.
  - Returns C(uv cache size)'s own figure (allocated blocks, like C(du -s -B1)) beside the apparent bytes (what
    C(uv cache clean) counts), per package sizes (the package's wheels, source distributions and index pages, and the
    unpacked archives they point to), and the archives nothing points to.
  - Tells whether a uv process holds the cache now (its lock).
  - Changes nothing; takes no lock (as C(uv cache size)). Lists are capped by O(limit) and say when they were cut.
  - A cache directory that is the root of the file system, a home folder or a system folder gets a warning and is not scanned.
author:
  - fleet.cache developers (@fleet-cache)
extends_documentation_fragment:
  - fleet.cache._uv_common
attributes:
  diff_mode:
    support: N/A
    details: The module changes nothing.
options:
  limit:
    description:
      - The most items each list of a cache's entry holds (RV(caches[].packages), RV(caches[].unreferenced_archives),
        RV(caches[].errors)); the counts are always complete.
    type: int
    default: 1000
seealso:
  - module: fleet.cache.pip_cache_info
  - name: uv's cache
    description: How uv stores and cleans its cache.
    link: https://docs.astral.sh/uv/concepts/cache/
"""

EXAMPLES = r"""
- name: Report the uv cache of the connecting user
  fleet.cache.uv_cache_info:
  register: uv_cache

- name: Show it in a few lines (where, why, how big, what uv cache prune would free)
  ansible.builtin.debug:
    var: uv_cache.about

- name: Fail when the caches pass 20 GiB on disk together
  ansible.builtin.assert:
    that: uv_cache.totals.cache_size < 20 * 1024 ** 3
    fail_msg: "{{ uv_cache.about | join('; ') }}"

- name: Every user's uv cache, run as root, with the layout of the uv the CI image runs
  fleet.cache.uv_cache_info:
    user: all
    uv_version: 0.13.10
  become: true

- name: The cache a project's uv.toml chooses
  fleet.cache.uv_cache_info:
    project: /srv/app
"""

RETURN = r"""
about:
  description:
    - The result in a few lines for people - one per user (where the cache is and why, the uv whose layout counts, its
      size on disk and in files, what C(uv cache prune) would free at least, whether uv is using it now; or why it is
      disabled, missing, shared, not scanned or not reported) and, with several users, one for the total. Sizes in
      uv's binary units (C(KiB), C(MiB)).
  returned: success
  type: list
  elements: str
  sample:
    - >-
      alice: /home/alice/.cache/uv (default, uv 0.13.10): 1.2GiB on disk, 1.1GiB in 20,345 files;
      uv cache prune frees at least 310.5MiB (other uv versions' buckets 300.0MiB, unused archives 10.5MiB)
totals:
  description:
    - The figures across every cache reported, each directory counted once - C(caches), C(users), C(disabled), C(failed),
      C(in_use), C(bytes) (apparent), C(files), C(dirs), C(cache_size) (blocks on disk, as C(uv cache size)) and C(size)
      (the same in uv's words), C(stale_bytes), C(unreferenced_bytes), C(oldest), C(newest).
  returned: success
  type: dict
  sample: {caches: 1, users: 1, disabled: 0, failed: 0, in_use: 0, bytes: 1181116006, files: 20345, dirs: 4012,
           cache_size: 1288490188, size: 1.2GiB, stale_bytes: 314572800, unreferenced_bytes: 11010048,
           oldest: "2026-01-02T03:04:05Z", newest: "2026-11-20T10:00:00Z"}
failed_users:
  description: The users whose cache could not be reported; the others are reported all the same.
  returned: when a user failed
  type: list
  elements: str
  sample: [mallory]
caches:
  description: One item per user reported (also for a single user). Fields below are per item.
  returned: success
  type: list
  elements: dict
  contains:
    failed:
      description: Present and V(true) when this user's cache could not be reported; RV(caches[].error) says why.
      type: bool
      returned: when this user failed
      sample: true
    error:
      description: Why this user's cache could not be reported. Never quotes a file's contents.
      type: str
      returned: when this user failed
      sample: "uv cannot parse /home/mallory/.config/uv/uv.toml: line 3: expected a value"
    user:
      description: The user name.
      type: str
      sample: alice
    uid:
      description: The user ID (null on Windows).
      type: int
      sample: 1000
    home:
      description: The user's home folder.
      type: str
      sample: /home/alice
    cache_dir:
      description: The cache directory as an absolute path (a relative setting joined with uv's working folder), null when disabled or when this user failed.
      type: str
      sample: /home/alice/.cache/uv
    uv_cache_dir:
      description: The cache directory exactly as C(uv cache dir) prints it (a relative setting stays relative), null when disabled.
      type: str
      returned: unless this user failed
      sample: /home/alice/.cache/uv
    exists:
      description: Whether the cache directory exists (V(false) when disabled, or when something that is no folder is there).
      type: bool
      returned: unless this user failed
      sample: true
    scanned:
      description:
        - Whether the cache was scanned by this entry - not when it is disabled, missing, counted in another user's entry
          (RV(caches[].counted_in)) or no place for a cache (RV(caches[].not_scanned_reason)).
      type: bool
      returned: unless this user failed
      sample: true
    not_scanned_reason:
      description:
        - Why a cache directory that is there was not scanned - the root of the file system, a home or system folder, a
          mount point (a warning says so too), or something that is not a folder.
      type: str
      returned: when the cache directory is there but was not scanned
      sample: "/home/alice is a home folder, no place for a cache"
    source:
      description: What chose the directory - the option, C(UV_CACHE_DIR), C(cache-dir) in a file (and its scope), C(XDG_CACHE_HOME), the default.
      type: str
      returned: unless this user failed
      sample: "cache-dir in /home/alice/.config/uv/uv.toml (user)"
    disabled:
      description: Whether uv's cache is disabled (uv then uses a new temporary folder per run).
      type: bool
      returned: unless this user failed
      sample: false
    disabled_reason:
      description: What disabled it (C(UV_NO_CACHE), or C(no-cache) in which file); null when the cache is not disabled.
      type: str
      returned: unless this user failed
      sample: "UV_NO_CACHE=1: uv works in a temporary folder it removes at exit"
    resolution:
      description:
        - The full resolution - C(source), C(uv_cache_dir), C(cache_dir), C(disabled), C(disabled_reason), every
          configuration file considered (C(config_files), each with its C(path), C(scope), whether it C(exists) and the
          cache settings uv reads from it), uv's working folder (C(working_dir)), the C(uv_version) whose rules decided
          and the C(warnings) about it.
      type: dict
      returned: unless this user failed
      sample: {source: default, uv_cache_dir: /home/alice/.cache/uv, cache_dir: /home/alice/.cache/uv, disabled: false,
               disabled_reason: null, config_files: [{path: /home/alice/.config/uv/uv.toml, scope: user, exists: false}],
               working_dir: /home/alice, uv_version: [0, 13, 10], warnings: []}
    uv:
      description:
        - The uv whose layout counts - C(path) (null when none was run), C(version), C(source) (V(uv_version option),
          V(uv option), V(found) or V(newest known)).
      type: dict
      returned: unless this user failed
      sample: {path: /home/alice/.local/bin/uv, version: 0.13.10, source: found}
    layout:
      description:
        - The bucket names that uv version reads (C(buckets)), its C(version), whether this collection knows that version
          exactly (C(exact)), and for a version it does not, the other bucket names each family may have (C(possible)).
      type: dict
      returned: when scanned or missing
      sample: {version: 0.13.10, exact: true, buckets: [archive-v0, wheels-v8], possible: {}}
    in_use:
      description: Whether a uv process holds the cache's lock now (null when it cannot be told).
      type: bool
      returned: when scanned or missing
      sample: false
    cache_size:
      description:
        - C(uv cache size)'s figure - blocks on disk (st_blocks x 512) of everything in the cache, folders included, a
          hard-linked file once; 0 for a missing cache, null where the system gives no block counts (Windows).
      type: int
      returned: when scanned or missing
      sample: 1288490188
    total:
      description:
        - Over the whole cache, the cache folder included - C(files) (every entry that is no folder, links included),
          C(dirs), C(bytes) (apparent, as C(uv cache clean) counts them), C(allocated_bytes) (blocks), C(oldest) and
          C(newest) modification times.
      type: dict
      returned: when scanned or missing
      sample: {files: 20345, dirs: 4012, bytes: 1181116006, allocated_bytes: 1288490188, oldest: "2026-01-02T03:04:05Z", newest: "2026-11-20T10:00:00Z"}
    roles:
      description:
        - The same figures per role of the cache's root entries - V(current) (a bucket that uv reads), V(stale) (a bucket
          of another uv version, what its C(uv cache prune) removes; RV(caches[].entries) tells one of a newer uv by
          C(from_newer_uv)), V(newer_than_known) (a bucket of a uv newer than this collection knows, never removed),
          V(marker) (C(CACHEDIR.TAG), C(.gitignore), C(.git), C(.lock)), V(other).
      type: dict
      returned: when scanned or missing
      sample: {current: {files: 20300, dirs: 4000, bytes: 1180000000, allocated_bytes: 1287000000, oldest: "2026-01-02T03:04:05Z",
                         newest: "2026-11-20T10:00:00Z"}}
    entries:
      description:
        - Per root entry - C(name), C(kind) (V(dir), V(file), V(link)), C(role), bucket C(family) and C(number),
          C(from_newer_uv), and its figures. Every bucket and marker, and up to 256 other entries (the rest summed in
          RV(caches[].more_entries)).
      type: list
      elements: dict
      returned: when scanned or missing
      sample: [{name: wheels-v8, kind: dir, role: current, family: wheels, number: 8, from_newer_uv: false, files: 120, dirs: 40,
                bytes: 61440, allocated_bytes: 655360, oldest: "2026-01-02T03:04:05Z", newest: "2026-11-20T10:00:00Z"}]
    more_entries:
      description: The figures and C(count) of the root entries past the 256 other entries listed.
      type: dict
      returned: when scanned or missing
      sample: {count: 0, files: 0, dirs: 0, bytes: 0, allocated_bytes: 0, oldest: null, newest: null}
    packages:
      description:
        - C(count) (C(count_exact) false past 100000 names), C(limit), C(truncated) and C(items) (the first O(limit) by
          name) - per package the buckets it is in, its figures there (C(in_buckets)), the archives its entries point to
          (C(archives), C(in_archives)) and both together (C(total)).
      type: dict
      returned: when scanned or missing
      sample: {count: 1, count_exact: true, limit: 1000, truncated: false,
               items: [{name: pyyaml, buckets: [simple, wheels], archives: 1, in_buckets: {files: 5, bytes: 9208},
                        in_archives: {files: 15, bytes: 43896}, total: {files: 20, bytes: 53104}}]}
    archives:
      description: The number of unpacked archives (entries of C(archive-v0)).
      type: int
      returned: when scanned or missing
      sample: 120
    unreferenced_archives:
      description:
        - Unpacked archives (C(archive-v0)) that no bucket the uv reads points to - what C(uv cache prune) removes - with
          their C(count), figures, C(limit), C(truncated) and C(items) (names and figures, the first O(limit) by name);
          C(known) false (and no count) when too many archives are linked to tell.
      type: dict
      returned: when scanned or missing
      sample: {known: true, count: 1, limit: 1000, truncated: false, files: 12, dirs: 4, bytes: 40960, allocated_bytes: 81920,
               items: [{name: hTt-zDyk8zAz6hzU, files: 12, dirs: 4, bytes: 40960, allocated_bytes: 81920}]}
    stale_revisions:
      description: Source distribution revisions that are no longer current (C(uv cache prune) removes them first) - C(count) and figures.
      type: dict
      returned: when scanned or missing
      sample: {count: 0, files: 0, dirs: 0, bytes: 0, allocated_bytes: 0, oldest: null, newest: null}
    hardlinks_exact:
      description: Whether every hard-linked file was counted once in the allocated bytes (false past a million of them).
      type: bool
      returned: when scanned or missing
      sample: true
    errors:
      description: Paths that could not be read, with the reason (at most 50 and at most O(limit); the walk goes on past them).
      type: list
      elements: dict
      returned: when scanned or missing
      sample: [{path: /home/alice/.cache/uv/wheels-v8/pypi/foo, error: Permission denied}]
    errors_count:
      description: How many paths could not be read (all of them, RV(caches[].errors) lists the first).
      type: int
      returned: when scanned or missing
      sample: 0
    shared_with:
      description: Other users reported whose uv uses the same directory (the same folder, links resolved).
      type: list
      elements: str
      returned: unless this user failed
      sample: [bob]
    counted_in:
      description: When this user's uv uses a directory already reported for another user, that user; the figures are in that user's entry.
      type: str
      returned: when the directory is shared
      sample: alice
"""

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.fleet.cache.plugins.module_utils._entry import module_main
from ansible_collections.fleet.cache.plugins.module_utils._tasks import uv_cache_info as task


def main() -> None:
    module_main(task, AnsibleModule, _load_params)


if __name__ == "__main__":
    main()
