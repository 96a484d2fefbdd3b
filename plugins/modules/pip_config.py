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
  - fleet.cache._common.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff is each file's text before and after.
  platform:
    platforms: [posix, windows]
  idempotent:
    support: full
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
backup_files:
  description: Backup copies made.
  returned: when O(backup=true) and a file changed
  type: list
  elements: str
  sample: [/etc/pip.conf.12345.2026-11-23@10:00:00~]
"""

import dataclasses
import os
from typing import Any, Callable, Optional

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleet.cache.plugins.module_utils._cache_common import CacheError, InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._cache_config_edit import (
    BOOLEAN_KEYS,
    atomic_write,
    check_value,
    remove_key,
    set_value,
    split_name,
)
from ansible_collections.fleet.cache.plugins.module_utils._cache_module import (
    accounts,
    common_argument_spec,
    context_for,
    interpreter_prefixes,
    run_guarded,
)
from ansible_collections.fleet.cache.plugins.module_utils._cache_resolve import (
    HostContext,
    LoadedConfig,
    config_files,
    default_reader,
    load_config,
    resolve,
    strtobool,
)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise CacheError(f"cannot read this configuration file: {error}", option="path", path=path) from None


def _scope_files(context: HostContext, scope: str) -> list[str]:
    if scope == "site":
        if not context.sys_prefix:
            raise InvalidValue("scope=site needs venv or python", option="venv")
        return [context.path.join(context.sys_prefix, context.config_basename)]
    # Ask for the files as if PIP_CONFIG_FILE were unset: the scope's own files.
    plain = dict(context.environ)
    plain.pop("PIP_CONFIG_FILE", None)
    view = HostContext(
        platform=context.platform,
        environ=plain,
        home=context.home,
        uid=context.uid,
        gids=context.gids,
        sys_prefix=context.sys_prefix,
        base_prefix=context.base_prefix,
        cwd=context.cwd,
        windows_folders=context.windows_folders,
        live=context.live,
    )
    return [item.path for item in config_files(view) if item.variant == scope]


def _effective(config: LoadedConfig, section: str, key: str) -> tuple[Optional[str], Optional[str]]:
    """What `pip config get section.key` prints (files only, the last file wins), and from which file."""
    value: Optional[str] = None
    origin: Optional[str] = None
    for source, values in config.values:
        if source != "environment" and f"{section}.{key}" in values:
            value, origin = values[f"{section}.{key}"], source
    return value, origin


def _planned_exists(planned: dict[str, str]) -> Callable[[str], bool]:
    def exists(name: str) -> bool:
        return name in planned or os.path.exists(name)

    return exists


def _planned_reader(planned: dict[str, str]) -> Callable[[str], Optional[str]]:
    def reader(name: str) -> Optional[str]:
        return planned[name] if name in planned else default_reader(name)

    return reader


def _make_folders(directory: str, owner: Optional[tuple[Any, Any]]) -> None:
    """Create ``directory`` and its missing parents; each folder created for a user's file is that user's."""
    missing: list[str] = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for folder in reversed(missing):
        os.mkdir(folder, 0o755)
        if owner is not None:
            os.chown(folder, owner[0], owner[1])


def _variable(context: HostContext, key: str) -> Optional[str]:
    """The PIP_* variable that sets this key for every command, when there is one with a value."""
    name = "PIP_" + key.upper().replace("-", "_")
    return name if context.getenv(name) else None


def manage(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    section, key = split_name(params["name"])
    state = params["state"]
    value = params["value"]
    if state == "present":
        if value is None:
            module.fail_json(msg="value: state=present needs a value", option="value")
        if key in BOOLEAN_KEYS:
            check_value(key, value)
            if key == "no-cache-dir" and not strtobool(value):
                module.warn("pip reads any boolean in no-cache-dir as 'disable the cache'; value=false removes the key instead")
                state = "absent"
            else:
                value = "true" if strtobool(value) else "false"
        else:
            check_value(key, value)
    prefixes = (params["venv"], params["venv"]) if params["venv"] else interpreter_prefixes(module, params.get("python"))
    environment = {str(k): str(v) for k, v in (params.get("environment") or {}).items()}
    scope = params["scope"]
    targets = accounts(params.get("user")) if scope == "user" else accounts(None)
    changed_files: list[str] = []
    backups: list[str] = []
    diffs: list[dict[str, str]] = []
    users: list[dict[str, Any]] = []
    seen: set[str] = set()
    for account in targets:
        context = context_for(account, environment=environment, prefixes=prefixes)
        candidates = [params["path"]] if params["path"] else _scope_files(context, scope)
        texts = {path: _read(path) for path in candidates}
        if state == "present":
            chosen = candidates[-1]
            if params["prefer"] == "existing":
                chosen = next((path for path in reversed(candidates) if texts[path] is not None), candidates[-1])
            plan = {chosen: set_value(texts[chosen] or "", section, key, value)}
        else:
            chosen = candidates[-1]
            plan = {path: remove_key(text, section, key) for path, text in texts.items() if text is not None}
        for path, edit in plan.items():
            if not edit.changed or path in seen:
                continue
            seen.add(path)
            changed_files.append(path)
            diffs.append({"before_header": path, "after_header": path, "before": texts.get(path) or "", "after": edit.text})
            if module.check_mode:
                continue
            owner = None
            if texts.get(path) is None:
                give = scope == "user" and account.uid is not None and not params["path"] and hasattr(os, "chown")
                _make_folders(os.path.dirname(path), (account.uid, account.gid if account.gid is not None else -1) if give else None)
                if scope == "user" and account.uid is not None and account.gid is not None:
                    owner = (account.uid, account.gid)
            elif params["backup"]:
                backups.append(module.backup_local(path))
            atomic_write(path, edit.text, owner=owner)
        # What pip reads once the plan is on disk (in check mode too): planned texts stand in for the files.
        planned = {path: edit.text for path, edit in plan.items()}
        view = dataclasses.replace(context, exists=_planned_exists(planned))
        config = load_config(view, reader=_planned_reader(planned))
        effective, origin = _effective(config, section, key)
        resolution = resolve(view, config=config)
        wrote = state == "present" and value is not None
        if wrote and (effective != value or (origin not in (chosen, None))):
            module.warn(f"{account.name}: pip reads {params['name']} = {effective!r} from {origin}, which has more weight than {chosen}")
        if state == "absent" and effective is not None:
            module.warn(f"{account.name}: {params['name']} is still set to {effective!r} by {origin}, outside the files of this scope")
        variable = _variable(context, key)
        if variable:
            module.warn(f"{account.name}: the environment variable {variable} overrides {key} in every configuration file")
        users.append(
            {
                "user": account.name,
                "file": chosen,
                "value": effective,
                "origin": origin,
                "cache_dir": resolution.cache_dir,
                "disabled": resolution.disabled,
            }
        )
    result: dict[str, Any] = {"changed": bool(changed_files), "files": changed_files, "users": users, "file": users[0]["file"] if users else None}
    if len(users) == 1:
        result.update({name: users[0][name] for name in ("value", "origin", "cache_dir", "disabled")})
    if backups:
        result["backup_files"] = backups
    if module._diff:
        result["diff"] = diffs
    return result


def main() -> None:
    argument_spec = common_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        value={"type": "str"},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        scope={"type": "str", "default": "user", "choices": ["global", "user", "site"]},
        prefer={"type": "str", "default": "weight", "choices": ["weight", "existing"]},
        path={"type": "path"},
        venv={"type": "path"},
        backup={"type": "bool", "default": False},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_if=[("state", "present", ("value",))])
    run_guarded(module, lambda: manage(module))


if __name__ == "__main__":
    main()
