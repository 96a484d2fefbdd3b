# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What every uv cache module shares: the options (set them once with module_defaults, group/fleet.cache.uv), the
    # notes and the attributes; a module's own attributes add to these (diff_mode's details).
    DOCUMENTATION = r"""
options:
  cache_dir:
    description:
      - The cache directory to act on, as uv's C(--cache-dir) option would set it.
      - When omitted, the directory is the one each user's uv uses, resolved exactly as uv resolves it (C(UV_NO_CACHE),
        C(UV_CACHE_DIR), C(no-cache) and C(cache-dir) in the project's, the user's and the system's configuration files,
        C(UV_CONFIG_FILE), C(UV_NO_CONFIG), C(XDG_CACHE_HOME), then the platform default).
      - C(~) and variables (C($NAME), C(${NAME}), and C(%NAME%) on Windows) are expanded on the host for each user the
        module acts for, as that user's shell would. uv itself expands neither in C(UV_CACHE_DIR) or a configuration
        file; a relative value there is relative to uv's working folder (O(project), else the user's home).
    type: str
  user:
    description:
      - Whose uv cache to act on. Omitted, the user the module runs as (use C(become_user) to change it).
      - A user name resolves that user's cache from their home folder, their configuration files and O(environment).
        Another user's shell variables are not known to the module; pass those that matter in O(environment).
      - V(all) acts on root and every login user with a home folder (user IDs from C(UID_MIN) in C(/etc/login.defs)).
      - Another user's cache needs root on POSIX hosts; run as root, the module reads that user's configuration, runs
        their uv (to ask its version) and scans or cleans their cache with that user's own privileges (a child process
        with their uid, gid and groups). See the security model guide.
      - With V(all), a user whose configuration or cache cannot be handled gets an entry with C(failed) and the
        reason, and is listed in C(failed_users); the other users go on.
    type: str
  environment:
    description:
      - Environment variables the user's uv would see, added to those of the module's process for the current user,
        or to a minimal login environment (C(HOME), C(USER), C(PATH)) for another user.
      - "For example C({UV_CACHE_DIR: /srv/uv-cache}) or C({XDG_CACHE_HOME: /scratch/cache})."
    type: dict
    default: {}
  project:
    description:
      - A project folder to resolve the cache from, as uv run in that folder resolves it - its C(uv.toml), or its
        C(pyproject.toml) with a C([tool.uv]) table, found from there upwards, beats the user's and the system's files.
      - Omitted, no project's configuration counts and uv's working folder is the user's home.
    type: str
  uv:
    description:
      - The uv program whose version decides the cache's layout (each uv version reads its own bucket versions, such as
        C(wheels-v5) or C(wheels-v8)), as a path or a name on the user's C(PATH). It is run with C(--version) only,
        with the user's privileges; one that does not answer within 15 seconds is stopped.
      - C(~) and variables are expanded for each user as in O(cache_dir); a relative path is taken from the user's
        home folder.
      - A program that is missing, is a folder, cannot be run or does not answer like uv fails the task, naming this
        option. Omitted, such a program found on the C(PATH) gets a warning and the newest uv this collection knows
        counts.
      - Omitted, C(uv) on the user's C(PATH), in C($XDG_BIN_HOME), C(~/.local/bin) or C(~/.cargo/bin); when none is
        found, the newest uv this collection knows counts. O(uv_version) takes precedence.
    type: str
  uv_version:
    description:
      - The uv version whose layout counts (V(0.13.10)), without looking for or running uv - for hosts where uv only
        runs in CI images or containers that share the cache.
    type: str
  python_interpreter:
    description:
      - On Windows hosts, the Python that runs the engine there, as a path (spaces allowed) or the C(py) launcher with its
        version flag (V(py -3.12)). It needs Python 3.9 or newer.
      - Ignored on POSIX hosts, where the module runs with C(ansible_python_interpreter) like any Python module.
    type: str
notes:
  - The module does not need uv on the host; it reads and cleans the cache itself, with the rules of the uv version
    that counts (see O(uv)), and its results equal real uv's.
  - Results, warnings and messages are valid UTF-8; a file name that is not is reported with each such byte as C(\xNN).
  - A value holding a NUL character, or a list or a mapping for an option that takes one path or text, is refused with a
    message naming its option; so is an empty O(cache_dir), O(project), O(uv) or O(uv_version).
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: [posix, windows]
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
    support: full
"""
