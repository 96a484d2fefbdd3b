# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: pip_cache_engine
short_description: The collection's engine as the pip_cache_policy role installs it
version_added: 0.1.0
description:
  - Gives the collection's engine (the code the modules run, standard library only) as one archive and the launcher
    that runs it, for the C(fleet.cache.pip_cache_policy) role to install for its scheduled job. The modules send the
    same archive to Windows hosts for each task.
  - The archive is the same bytes for the same collection; it is written once into Ansible's temporary folder on the
    controller (removed when Ansible exits), so that a copy module can send it.
  - Meant for the role; it may change with the role.
author:
  - fleet.cache developers (@fleet-cache)
options:
  check:
    description:
      - Whether the launcher refuses to run unless the interpreter, the launcher and the archive can be changed by
        root alone and the archive is the one given here (by its SHA-256). V(true) for POSIX hosts, where the job runs
        as root.
    type: bool
    default: true
  windows:
    description:
      - Whether the engine is for a Windows host. V(true) first checks that the controller can load the
        C(ansible.windows) modules the role's Windows tasks use (C(ansible.windows) is an optional dependency of
        this collection, not installed with it), and fails with a message naming the collection when it cannot.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Build the engine's archive and launcher
  ansible.builtin.set_fact:
    engine: "{{ lookup('fleet.cache.pip_cache_engine', check=true) }}"

- name: The same for a Windows host, failing early when the controller lacks ansible.windows
  ansible.builtin.set_fact:
    engine: "{{ lookup('fleet.cache.pip_cache_engine', check=false, windows=true) }}"

- name: Install the archive
  ansible.builtin.copy:
    src: "{{ engine.archive }}"
    dest: "/usr/local/lib/fleet-cache/{{ engine.archive_name }}"
    owner: root
    group: root
    mode: "0644"
"""

RETURN = r"""
_raw:
  description: One dictionary.
  type: list
  elements: dict
  contains:
    archive:
      description: The archive's path on the controller.
      type: str
    archive_name:
      description: The archive's name beside the launcher, V(fleet_cache_engine.zip).
      type: str
    archive_sha256:
      description: The archive's SHA-256, recorded in the launcher.
      type: str
    launcher:
      description: The scheduled job's launcher (Python source).
      type: str
    launcher_sha256:
      description: The launcher's SHA-256 (of its UTF-8 bytes).
      type: str
    role_check:
      description: The Python source the role runs on the host before it installs anything (the trust check).
      type: str
"""

import hashlib
from typing import Any, Optional

from ansible import constants as C
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import action_loader, module_loader
from ansible.plugins.lookup import LookupBase

from ansible_collections.fleet.cache.plugins.plugin_utils._engine_bundle import (
    ENGINE_ARCHIVE,
    archive_file,
    archive_sha256,
    launcher_source,
    role_check_source,
)

# The ansible.windows modules the pip_cache_policy role's Windows tasks use (tasks/*_windows.yml).
WINDOWS_MODULES = ("win_command", "win_copy", "win_file", "win_powershell", "win_stat")


def missing_windows_modules() -> list[str]:
    """The WINDOWS_MODULES that the controller cannot load, as a task would look for them (an action plugin or a module)."""
    return [
        name
        for name in WINDOWS_MODULES
        if not any(loader.find_plugin_with_context(f"ansible.windows.{name}").resolved for loader in (action_loader, module_loader))
    ]


def windows_modules_message(missing: list[str]) -> str:
    """What a user is told when ``missing`` (some of WINDOWS_MODULES) cannot be loaded: all of them, the collection is
    not installed; some, it is too old for the role."""
    head = "fleet.cache.pip_cache_policy: Windows hosts need"
    if len(missing) == len(WINDOWS_MODULES):
        return f"{head} the ansible.windows collection on the controller: ansible-galaxy collection install ansible.windows"
    names = ", ".join(f"ansible.windows.{name}" for name in missing)
    upgrade = "ansible-galaxy collection install --upgrade ansible.windows"
    return f"{head} a newer ansible.windows collection on the controller (the one installed has no {names}): {upgrade}"


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Optional[dict[str, Any]] = None, **kwargs: Any) -> list[dict[str, str]]:
        self.set_options(var_options=variables, direct=kwargs)
        if self.get_option("windows"):
            missing = missing_windows_modules()
            if missing:
                raise AnsibleLookupError(windows_modules_message(missing))
        digest = archive_sha256()
        launcher = launcher_source(job=True, check=bool(self.get_option("check")), digest=digest)
        return [
            {
                "archive": archive_file(C.DEFAULT_LOCAL_TMP),
                "archive_name": ENGINE_ARCHIVE,
                "archive_sha256": digest,
                "launcher": launcher,
                "launcher_sha256": hashlib.sha256(launcher.encode("utf-8")).hexdigest(),
                "role_check": role_check_source(),
            }
        ]
