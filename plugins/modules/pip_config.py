#!/usr/bin/python
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pip_config
short_description: Manage pip's configuration files, such as disabling or relocating the cache
version_added: 0.1.0
description:
  - Sets or removes one key of pip's configuration (V(global.no-cache-dir), V(install.cache-dir), ...) in the file pip
    reads for a scope on that OS, or in an explicit O(path).
  - Keeps comments, other sections, key order and the file's line endings byte for byte; writes atomically; keeps the owner
    and mode of an existing file, and gives a new user file to that user.
  - Knows the keys that matter for the cache. C(no-cache-dir) is written so that it means what was asked - pip treats
    I(any) boolean as "disable", so O(value=false) removes the key instead of writing it. C(cache-dir) must be a path, since
    C(cache-dir = false) would make a folder named C(false).
  - Returns the value pip now sees for that key, where it comes from, and the cache directory pip resolves;
    warns when something with more weight (a later file, a C(PIP_*) variable) overrides what was written.
author:
  - fleet.cache developers (@fleet-cache)
extends_documentation_fragment:
  - fleet.cache._common
attributes:
  diff_mode:
    details: The diff is each file's text before and after.
options:
  name:
    description: The key as C(pip config) names it, C(section.key) - V(global.no-cache-dir), V(global.cache-dir), V(install.cache-dir).
    type: str
    required: true
  value:
    description:
      - The value to set with O(state=present). Booleans are written as C(true).
      - For C(no-cache-dir), V(false) (or any false word) removes the key, since pip would read any boolean as "disable".
    type: str
  state:
    description: V(present) sets the key; V(absent) removes it from every file of the scope (or from O(path)).
    type: str
    default: present
    choices: [present, absent]
  scope:
    description:
      - V(user) - the user's own file (C(~/.config/pip/pip.conf) or C($XDG_CONFIG_HOME/pip/pip.conf) on Linux,
        C(~/Library/Application Support/pip/pip.conf) when that folder exists on macOS, C(%APPDATA%\pip\pip.ini) on Windows).
      - V(global) - the system-wide file (C(/etc/pip.conf) on Linux, C(/Library/Application Support/pip/pip.conf) on macOS,
        C(C:\ProgramData\pip\pip.ini) on Windows).
      - V(site) - the file of the virtual environment in O(venv) (or of O(python)'s environment).
      - Ignored when O(path) is given.
    type: str
    default: user
    choices: [global, user, site]
  prefer:
    description:
      - Where a scope has several files (the legacy C(~/.pip/pip.conf) and the new one; each C(XDG_CONFIG_DIRS) entry and
        C(/etc/pip.conf)), which one O(state=present) writes.
      - V(weight) - the one pip gives the most weight to, as C(pip config set) does.
      - V(existing) - the weightiest one that exists already (V(weight) when none does).
    type: str
    default: weight
    choices: [weight, existing]
  path:
    description: An explicit configuration file to edit instead of the scope's.
    type: path
  venv:
    description: With O(scope=site), the virtual environment (its C(sys.prefix)) whose C(pip.conf) or C(pip.ini) to edit.
    type: path
  backup:
    description: Keep a timestamped copy of a file before changing it.
    type: bool
    default: false
seealso:
  - module: fleet.cache.pip_cache_info
  - module: fleet.cache.pip_cache
"""

EXAMPLES = r"""
- name: Disable pip's cache for everybody on the host
  fleet.cache.pip_config:
    name: global.no-cache-dir
    value: "true"
    scope: global
  become: true

- name: Enable it again (pip reads any boolean as "disable", so the key goes)
  fleet.cache.pip_config:
    name: global.no-cache-dir
    state: absent
    scope: global
  become: true

- name: Move every user's cache to a scratch disk
  fleet.cache.pip_config:
    name: global.cache-dir
    value: /scratch/pip-cache
    scope: global
  become: true

- name: Only pip install of this virtual environment uses another cache
  fleet.cache.pip_config:
    name: install.cache-dir
    value: /srv/build/pip-cache
    scope: site
    venv: /srv/build/venv
"""

RETURN = r"""
files:
  description: The files changed (or that would be, in check mode).
  returned: success
  type: list
  elements: str
  sample: [/etc/pip.conf]
file:
  description: The file written or considered first.
  returned: success
  type: str
  sample: /etc/pip.conf
value:
  description: The value pip now reads for O(name) (as C(pip config get) prints it), null when unset.
  returned: success and a single user is concerned
  type: str
  sample: "true"
origin:
  description: Where that value comes from - a file, or the environment variable.
  returned: success and a single user is concerned
  type: str
  sample: /etc/pip.conf
cache_dir:
  description: The cache directory C(pip cache dir) now resolves for that user (null when disabled).
  returned: success and a single user is concerned
  type: str
  sample: /scratch/pip-cache
disabled:
  description: Whether pip's cache is now disabled for that user.
  returned: success and a single user is concerned
  type: bool
  sample: false
users:
  description: Per user (O(scope=user)) or once - the same fields.
  returned: success
  type: list
  elements: dict
  sample: [{user: alice, file: /home/alice/.config/pip/pip.conf, value: "true", origin: /home/alice/.config/pip/pip.conf}]
failed_users:
  description:
    - With O(user=all), the users whose configuration was left alone because it could not be read or pip would
      reject it; their entries in RV(users) have C(failed) and C(error) (which never quotes a file's contents).
      The other users' files are written all the same; the module fails only when every user failed.
  returned: when a user failed
  type: list
  elements: str
  sample: [mallory]
backup_files:
  description: Backup copies made.
  returned: when O(backup=true) and a file changed
  type: list
  elements: str
  sample: [/etc/pip.conf.12345.2026-11-23@10:00:00~]
"""

from ansible.module_utils.basic import AnsibleModule, _load_params

from ansible_collections.fleet.cache.plugins.module_utils._entry import module_main
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_config as task


def main() -> None:
    # The task gets the validated params and module.warn; a typed error comes back as the failure finish passes to fail_json.
    module_main(task, AnsibleModule, _load_params)


if __name__ == "__main__":
    main()
