#!/usr/bin/python
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pip_cache_info
short_description: Report where pip's cache is, why, and what is in it
version_added: 0.1.0
description:
  - Reports, for one user, several users or every user of a host, the directory pip uses as its cache and the reason
    (an option, C(PIP_CACHE_DIR), which configuration file and section, or the platform default), or why the cache is disabled.
  - Scans the cache in one streaming walk and reports, per bucket (C(http-v2), C(http), C(wheels), C(selfcheck)),
    bytes, files, entries and the oldest and newest modification times.
  - Returns the seven lines of C(pip cache info) exactly as the newest pip words them, and the wheels C(pip cache list) lists.
  - Optionally identifies the HTTP-cached downloads by their content (a wheel, an sdist or an index page, with project name
    and version), which pip itself cannot list.
  - Changes nothing. Lists are capped by O(limit) and say when they were cut.
  - A large cache (more than 10,000 files and folders) is counted by the module and up to three helper processes it
    forks, one per CPU it may run on beyond its own; they only read, and a helper that fails has its share counted by
    the module. On Windows, or from a process running threads, one process counts.
  - A cache directory that is the root of the file system, a home folder or a system folder (those M(fleet.cache.pip_cache)
    refuses to clean) gets a warning, and only pip's own folders in it are read, as pip reads them; nothing else there
    is walked or counted in RV(caches[].other).
author:
  - fleet.cache developers (@fleet-cache)
extends_documentation_fragment:
  - fleet.cache._common
attributes:
  diff_mode:
    support: N/A
    details: The module changes nothing.
options:
  pattern:
    description:
      - List only the wheels that C(pip cache list PATTERN) lists, with pip's own rule (C(*.whl) or C(-*.whl) appended,
        matched against file names; case-sensitive except on Windows).
      - A pattern holding a path separator or a NUL character is refused.
    type: str
  name:
    description:
      - List only these projects, matched by their PEP 503 normalised names as people write them (V(PyYAML),
        V(typing-extensions), V(zope.interface)), each with an optional version specifier (V(requests<2.30)).
      - Also filters O(downloads).
    type: list
    elements: str
  wheels:
    description: List the locally built wheels (RV(caches[].wheels)).
    type: bool
    default: true
  downloads:
    description:
      - Identify the HTTP cache's entries by content and list them (RV(caches[].downloads)). Reads a few KiB of each entry.
    type: bool
    default: false
  limit:
    description: The most items any returned list holds; the counts are always complete.
    type: int
    default: 1000
seealso:
  - module: fleet.cache.pip_cache
  - module: fleet.cache.pip_config
"""

EXAMPLES = r"""
- name: Report the pip cache of the connecting user
  fleet.cache.pip_cache_info:
  register: pip_cache

- name: Show it in a few lines (where, why, how big)
  ansible.builtin.debug:
    var: pip_cache.about

- name: Use the figures
  ansible.builtin.debug:
    msg: "{{ pip_cache.caches[0].cache_dir }} ({{ pip_cache.caches[0].source }}): {{ pip_cache.caches[0].total.size }}"

- name: Fail when the caches reported pass 10 GB together (totals count a shared folder once)
  ansible.builtin.assert:
    that: pip_cache.totals.bytes < 10000000000
    fail_msg: "{{ pip_cache.about | join('; ') }}"

- name: Report every user's cache, run as root
  fleet.cache.pip_cache_info:
    user: all
  become: true
  register: all_caches

- name: Which cached wheels and downloads belong to PyYAML
  fleet.cache.pip_cache_info:
    name: [PyYAML]
    downloads: true
"""

RETURN = r"""
about:
  description:
    - The result in a few lines for people (first in Ansible's output) - one per user (where the cache is and why, its
      size, its downloads and index pages, its built wheels; or why it is disabled, shared or not reported) and, with
      several users, one for the total.
    - Sizes here and in every C(size) field are in pip's decimal units (C(kB), C(MB); then C(GB), C(TB) where pip goes on
      counting megabytes). RV(caches[].pip_cache_info_lines) keep pip's own wording exactly. Raw bytes are beside them.
  returned: success
  type: list
  elements: str
  sample:
    - "alice: /home/alice/.cache/pip (default): 32.5 MB in 92 files (downloads and index pages 31.2 MB, built wheels 1.2 MB)"
    - "bob: pip's cache is disabled (PIP_NO_CACHE_DIR in the environment)"
    - "total: 32.5 MB in 92 files, 1 cache(s) of 2 user(s)"
totals:
  description:
    - The figures across every cache reported, each directory counted once (RV(caches[].shared_with)) - C(caches),
      C(users), C(disabled), C(failed), C(bytes), C(size), C(files), C(entries), C(dirs), C(http_bytes) and
      C(wheels_bytes) (the bytes of pip's two figures), C(oldest) and C(newest).
    - Throughout the results, C(bytes) and C(*_bytes) are raw byte counts and C(size) is the same in words, in pip's
      decimal units; the C(*_size) figures of RV(caches[].pip_cache_info) keep the names of pip's own lines.
    - The result gives each cache's figures once, in its RV(caches) entry; nothing of an entry is repeated at the top
      level, also for a single user (read the first item of RV(caches) there).
  returned: success
  type: dict
  sample: {caches: 1, users: 2, disabled: 1, failed: 0, bytes: 32456123, size: 32.5 MB, files: 92, entries: 45, dirs: 120,
           http_bytes: 31221556, wheels_bytes: 1234567, oldest: "2026-01-02T03:04:05Z", newest: "2026-11-20T10:00:00Z"}
failed_users:
  description:
    - The users whose cache could not be reported (a configuration file pip rejects, a process acting as them that
      failed), each with RV(caches[].failed) and RV(caches[].error) in its entry. The other users are reported all
      the same; the module fails only when no user's cache could be read.
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
      sample: "pip cannot load this configuration file: a line that is neither a [section] nor key = value (line 3) (path: /home/mallory/.config/pip/pip.conf)"
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
      description: The cache directory, null when disabled.
      type: str
      sample: /home/alice/.cache/pip
    exists:
      description: Whether the cache directory exists.
      type: bool
      sample: true
    source:
      description:
        - V(option), V(env), V(config), V(default) or V(disabled).
        - V(disabled) whatever disabled the cache, C(no-cache-dir) or pip's ownership check (a folder that is not the
          user's); RV(caches[].disabled_reason) says which, and C(configured_source) in RV(caches[].resolution) where
          the refused folder came from.
      type: str
      sample: config
    disabled:
      description: Whether the cache is disabled.
      type: bool
      sample: false
    disabled_reason:
      description: Why the cache is disabled (which file or variable, or the ownership check).
      type: str
      sample: "no-cache-dir = true in [global] of /etc/pip.conf"
    resolution:
      description:
        - The full resolution for O(command) - the deciding setting, config files considered (with C(exists)),
          the ownership check.
        - C(configured_dir) is the folder pip was pointed at and C(configured_source) why (V(option), V(env), V(config)
          or V(default)), also when the ownership check then disabled it (C(source) V(disabled), C(owner_ok) V(false));
          both are null when C(no-cache-dir) disabled the cache.
      type: dict
      sample:
        command: cache
        source: config
        configured_source: config
        configured_dir: /srv/pip
        setting: {key: cache-dir, value: /srv/pip, origin: /etc/pip.conf, section: global}
    commands:
      description: The cache directory of other pip commands where their sections differ (C(cache) and C(install)).
      type: dict
      sample: {install: {cache_dir: /srv/install-cache, source: config}}
    shared_with:
      description: Other users reported whose pip uses the same directory.
      type: list
      elements: str
      sample: [bob]
    counted_in:
      description:
        - When this user's pip uses a directory already reported for another user, that user - the directory's figures
          (RV(caches[].buckets), RV(caches[].total) and the rest) are in that user's entry, not repeated in this one.
      type: str
      returned: when the directory is shared
      sample: alice
    buckets:
      description: Per bucket (C(http-v2), C(http), C(wheels), C(selfcheck)) files, bytes, entries, dirs, oldest and newest.
      type: dict
      sample: {wheels: {files: 6, bytes: 1234567, entries: 3, dirs: 13, oldest: "2026-01-02T03:04:05Z", newest: "2026-11-20T10:00:00Z"}}
    other:
      description: The same figures for anything at the cache's top level that is not a bucket.
      type: dict
      sample: {files: 1, bytes: 20, entries: 1, dirs: 0, oldest: null, newest: null}
    total:
      description: Totals over the whole directory, with C(size), the bytes in pip's decimal units.
      type: dict
      sample: {files: 92, bytes: 32456123, size: 32.5 MB, entries: 45, dirs: 120, oldest: "2026-01-02T03:04:05Z", newest: "2026-11-20T10:00:00Z"}
    pip_cache_info:
      description: The figures of C(pip cache info), raw (bytes, counts) and in pip's words.
      type: dict
      sample: {http_files: 84, http_size: 31234567, http_size_human: 31.2 MB, wheels_count: 3, wheels_size: 1234567}
    pip_cache_info_lines:
      description: The seven lines of C(pip cache info) as the newest pip prints them.
      type: list
      elements: str
      sample: ["Number of HTTP files: 84"]
    wheels:
      description:
        - Locally built wheels selected by O(pattern) or O(name) (all without them), at most O(limit).
        - In the order of C(pip cache list), which sorts the lines it prints; each item's C(pip_line) is that line, so
          those lines joined are pip's output.
      type: list
      elements: dict
      sample:
        - {filename: tiny-1.0-py3-none-any.whl, name: tiny, version: "1.0", tags: py3-none-any, bytes: 1234, size: 1.2 kB,
           pip_line: " - tiny-1.0-py3-none-any.whl (1.2 kB)"}
    wheels_count:
      description: How many wheels were selected, whatever O(limit).
      type: int
      sample: 3
    wheels_truncated:
      description: Whether RV(caches[].wheels) was cut at O(limit).
      type: bool
      sample: false
    downloads:
      description: With O(downloads), the HTTP cache's entries identified by content.
      type: list
      elements: dict
      sample: [{kind: wheel, name: PyYAML, version: "6.0.2", bytes: 812345, size: 812 kB, files: 2}]
    downloads_count:
      description: With O(downloads), how many entries were selected.
      type: int
      sample: 12
    downloads_unrecognised:
      description: With O(downloads), entries whose content was not a wheel, an sdist or an index page.
      type: int
      sample: 0
    errors:
      description: Paths that could not be read, with the reason (at most 50; the walk goes on past them).
      type: list
      elements: dict
      sample: [{path: /home/alice/.cache/pip/wheels/ab, error: Permission denied}]
"""

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.fleet.cache.plugins.module_utils._entry import module_main
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache_info as task


def main() -> None:
    # The task gets the validated params and module.warn; a typed error comes back as the failure finish passes to fail_json.
    module_main(task, AnsibleModule, _load_params)


if __name__ == "__main__":
    main()
