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
  - Files and folders that vanish while the module runs (pip or another run at the same time) are skipped, and two runs
    at once leave the tree one run leaves; a folder pip writes into again while it is being emptied is kept, without an
    error. Permission errors are reported path by path and the run goes on.
  - Every state also clears what pip 26 clears after a removal - wheel folders left without a wheel (their C(origin.json)
    included) and empty folders in the HTTP buckets - so a cache is never left in a state pip misreads.
  - The figures before a run come from the scan M(fleet.cache.pip_cache_info) makes, where a cache of more than 10,000 files
    and folders is counted with up to three read-only helper processes (POSIX hosts). A purge or removal that meets
    more than 10,000 files and folders in a bucket shares the rest of that bucket with helper processes too (POSIX
    hosts), each acting with the same user's privileges; a size budget is applied in the module's own process.
author:
  - fleet.cache developers (@fleet-cache)
extends_documentation_fragment:
  - fleet.cache._common
attributes:
  diff_mode:
    details: The diff shows entries, files and bytes of the cache before and after, in the same shape in check and real runs.
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
      - A download goes when its version matches. A project's index pages list every version, so they go only when
        the whole project goes - a name without a specifier, or a specifier that matched the project's cached versions
        (wheels and downloads) and left none; V(requests<2.30) keeps the pages a cached 2.34 still uses.
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
    description:
      - With O(state=pruned), remove entries older than this - V(30d), V(12h), V(90m), V(2w), V(1w2d), V(45s).
      - A number needs its unit (V(45s) for seconds); only V(0) may stand alone. A plain V(30) is refused rather than taken as 30 seconds.
    type: str
  max_size:
    description:
      - With O(state=pruned), remove the oldest entries until the whole cache is at most this size -
        V(2GB), V(500MiB), V(1.5G), V(7B) (SI units are powers of 1000, IEC units such as V(MiB) of 1024).
      - A number needs its unit (V(7B) for bytes); only V(0) may stand alone. A plain V(5) is refused rather than taken as 5 bytes.
      - The order is by age to within 1/4096 of the time between the oldest and the newest entry (to the second while
        that span is under about an hour); entries closer in age than that go in the order of the walk. This keeps the
        memory used the same for any size of cache.
    type: str
  ci:
    description: With O(state=pruned), drop every HTTP-cached download and keep locally built wheels (what C(uv cache prune --ci) does).
    type: bool
    default: false
  min_age:
    description:
      - Spare every entry younger than this (V(5m), V(90s), V(1h)), and wheel folders with a build in progress or
        changed that recently, so that cleaning while pip runs leaves alone what pip is writing right now.
      - The default V(5m) keeps every state safe beside a running C(pip install) into the same cache. pip builds a
        wheel into C(wheels/) and then installs it from there, and writes an HTTP entry's metadata and body one after
        the other; removing them in between breaks the install. pip installs only after its last build, so where one
        install builds wheels for longer than 5 minutes, set a longer age.
      - Why an age - it reads only the times of the files and folders themselves, so it works alike on Linux, macOS
        and Windows, for other users' caches and in containers, and check mode still predicts the real run exactly.
        pip takes no lock on its cache that could be waited for, and finding the pip processes that use a cache is
        neither reliable nor portable.
      - On an idle cache - nothing written into it or removed from it in the last 5 minutes - the default removes
        exactly what pip removes (O(state=purged) is C(pip cache purge)).
      - V(0) spares nothing, exactly like pip, even while pip runs.
      - Entries pip only reads are not protected by any age - an older wheel found in the cache that a running install
        is about to use. Purge when no install runs, or prune by O(max_age), if that matters.
    type: str
    default: 5m
  allow_unsafe_cache_dir:
    description:
      - The module refuses to delete from a cache directory that is C(/), a filesystem root or mount point, a home folder or a
        system folder. Set V(true) only when such a directory really is a pip cache.
    type: bool
    default: false
  limit:
    description:
      - The most removed entries named in RV(removed.largest), the C(--diff) output and RV(about); the rest are counted.
      - The largest entries are the ones named. An HTTP entry is read to name it (download or index page, project and
        version) only while it is among the largest so far, so a purge of a big cache reads a few hundred entries at most.
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

- name: Keep the cache under 2 GB and nothing older than 30 days, sparing what pip wrote in the last 10 minutes
  fleet.cache.pip_cache:
    state: pruned
    max_size: 2GB
    max_age: 30d
    min_age: 10m

- name: Exactly 'pip cache purge', even if pip wrote into the cache a moment ago (an image build step, nothing running)
  fleet.cache.pip_cache:
    state: purged
    min_age: "0"

- name: CI runner - drop downloads, keep built wheels
  fleet.cache.pip_cache:
    state: pruned
    ci: true
"""

RETURN = r"""
about:
  description:
    - The result in a few lines for people (first in Ansible's output) - what each cache freed (or, in check mode, would
      free), its size before and after, the entries younger than O(min_age) it left alone, a total with several caches,
      then the largest entries that went by kind, project and version (with their users, when there are several
      caches), and how many more.
    - Sizes here and in every C(freed) and C(size) field are in pip's decimal units (C(kB), C(MB); then C(GB), C(TB)
      where pip goes on counting megabytes); the raw bytes are beside them in the data.
  returned: success
  type: list
  elements: str
  sample:
    - "alice: /home/alice/.cache/pip: freed 48.2 MB (45 entries, 94 files); 48.3 MB -> 77 bytes"
    - "  download: numpy 2.1.3, 16.4 MB"
    - "  built wheel: pyyaml 6.0.2, 1.2 MB"
    - "  index page: numpy, 350 kB"
    - "  ... and 42 more entries"
removed:
  description: What was removed (or, in check mode, would be), over every cache acted on.
  returned: success
  type: dict
  contains:
    files:
      description:
        - Files removed, counted as pip counts its C(Files removed) - the wheels and HTTP files selected (and the
          O(purge_extras) asked for); with O(match=glob) and O(state=purged) it is the figure pip prints.
        - Files that go only with their folder are in RV(removed.extra_files) instead.
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
      description: Bytes of the files in RV(removed.files) (the size pip 25.0 and newer print beside C(Files removed)).
      type: int
      sample: 32456123
    freed:
      description: RV(removed.bytes) in pip's decimal units.
      type: str
      sample: 32.5 MB
    extra_files:
      description:
        - Files removed that pip does not count - C(origin.json) and other non-wheel files that go with their wheel's
          folder, and the legacy C(selfcheck.json). pip 26.0 and newer remove them too.
      type: int
      sample: 3
    extra_bytes:
      description: Bytes of the files in RV(removed.extra_files).
      type: int
      sample: 1520
    spared_entries:
      description:
        - Entries the request selects but left alone because they are younger than O(min_age) - what a running pip may
          be writing or about to install. RV(about) says so beside the figures; O(min_age=0) takes them too.
      type: int
      sample: 2
    spared_bytes:
      description: Bytes of the entries in RV(removed.spared_entries).
      type: int
      sample: 378112
    largest:
      description:
        - The largest entries removed, at most O(limit), largest first, each as people name it - C(kind) (V(download),
          V(index page), V(built wheel), V(selfcheck), or V(http entry) when an HTTP entry's content names no project),
          C(project) and C(version) (null when not known), C(bytes) and C(size), its C(path) (an HTTP entry's path
          without C(.body)), and C(cache_dir).
        - RV(removed.entries) counts them all.
      type: list
      elements: dict
      sample:
        - {kind: download, project: numpy, version: 2.1.3, bytes: 16412345, size: 16.4 MB, cache_dir: /home/alice/.cache/pip,
           path: /home/alice/.cache/pip/http-v2/a/b/c/d/e/0123456789abcdef}
        - {kind: built wheel, project: PyYAML, version: 6.0.2, bytes: 1234567, size: 1.2 MB, cache_dir: /home/alice/.cache/pip,
           path: /home/alice/.cache/pip/wheels/ab/cd/ef/0123/PyYAML-6.0.2-cp312-cp312-linux_x86_64.whl}
    largest_truncated:
      description: Whether RV(removed.largest) was cut at O(limit).
      type: bool
      sample: true
  sample: {files: 84, dirs: 120, entries: 45, bytes: 32456123, freed: 32.5 MB, extra_files: 3, extra_bytes: 1520, largest: [], largest_truncated: true}
before:
  description: Entries, files and bytes (and C(size), the bytes in pip's decimal units) in the caches acted on, before the run.
  returned: success
  type: dict
  sample: {entries: 45, files: 90, bytes: 32456200, size: 32.5 MB}
after:
  description: The same after the run (predicted in check mode).
  returned: success
  type: dict
  sample: {entries: 0, files: 6, bytes: 77, size: 77 bytes}
diff:
  description:
    - With C(--diff) (or the task keyword C(diff) set to C(true)), each cache's figures before and after, and under C(before) the
      largest entries that go, one per line - kind, project and version, size, and the path within the cache - capped
      at O(limit) with a count of the rest.
  returned: when diff mode is on
  type: dict
  sample:
    before: |
      /home/alice/.cache/pip: 48.3 MB in 45 entries, 94 files
        download: numpy 2.1.3, 16.4 MB  http-v2/a/b/c/d/e/0123456789abcdef
        ... and 44 more entries (limit: 1 shown)
    after: |
      /home/alice/.cache/pip: 77 bytes in 0 entries, 6 files
failed_users:
  description:
    - With several users (O(user=all)), the users whose cache was left alone because their configuration or cache
      could not be handled (a configuration file pip rejects, a cache folder that is a home or system folder or that
      changed into a link while it was checked), each with RV(caches[].failed) and RV(caches[].error) in its entry.
      The other users' caches are acted on all the same; the module fails only when every user failed.
  returned: when a user failed
  type: list
  elements: str
  sample: [mallory]
caches:
  description: One item per distinct cache directory acted on.
  returned: success
  type: list
  elements: dict
  contains:
    failed:
      description: Present and V(true) when this user's cache was left alone; RV(caches[].error) says why.
      type: bool
      returned: when this user failed
      sample: true
    error:
      description: Why this user's cache was left alone. Never quotes a file's contents.
      type: str
      returned: when this user failed
      sample: >-
        refusing to delete from '/home/mallory': it is a home folder, and pip's cache is there because of
        mallory's default cache folder (a link on the way to it leads there).
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
      description:
        - Why this directory (V(option), V(env), V(config), V(default), V(disabled)).
        - V(disabled) also when pip's ownership check disables the cache (a folder that is not the user's); the
          item's C(disabled_reason) says why.
      type: str
      sample: default
    removed:
      description: As RV(removed), for this directory.
      type: dict
      sample: {files: 84, dirs: 120, entries: 45, bytes: 32456123, extra_files: 3, extra_bytes: 1520}
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

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.fleet.cache.plugins.module_utils._entry import module_main
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache as task


def main() -> None:
    # The task gets the validated params and module.warn; a typed error comes back as the failure finish passes to fail_json.
    module_main(task, AnsibleModule, _load_params)


if __name__ == "__main__":
    main()
