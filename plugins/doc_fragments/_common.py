# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # What every pip cache module shares: the options (set them once with module_defaults,
    # group/fleet.cache.pip), the notes and the attributes; a module's own attributes add to these (diff_mode's details).
    DOCUMENTATION = r"""
options:
  cache_dir:
    description:
      - The cache directory to act on, as pip's C(--cache-dir) option would set it.
      - When omitted, the directory is the one each user's pip uses, resolved exactly as pip resolves it
        (C(PIP_CACHE_DIR), C(cache-dir) and C(no-cache-dir) in every configuration file pip reads, then the platform default).
      - C(~) and variables (C($NAME), C(${NAME}), and C(%NAME%) on Windows) are expanded on the host for each user the
        module acts for, as that user's shell would - C(~/.cache/pip) with O(user=alice) is alice's C(~/.cache/pip), and
        with O(user=all) each user's own, not the home of the user the module runs as. Another user's variables are
        those of O(environment) and C(HOME), C(USER), C(LOGNAME), C(PATH). C(~name) is that account's home.
      - One path - a list or a mapping is refused.
    type: str
  user:
    description:
      - Whose pip cache to act on. Omitted, the user the module runs as (use C(become_user) to change it).
      - A user name resolves that user's cache from their home folder, their configuration files and O(environment).
        Another user's shell variables are not known to the module; pass those that matter in O(environment).
      - V(all) acts on root and every login user with a home folder (user IDs from C(UID_MIN) in C(/etc/login.defs)).
      - Another user's cache needs root on POSIX hosts. Run without root, V(all) reports the caches of the user the module
        runs as, and gives every other user an entry with C(failed) and an C(error) that starts with C(needs root); a single
        other user's name is refused, naming O(user).
        Users that share one cache directory are reported together and the directory is scanned or cleaned once.
      - Run as root for another user, the module reads that user's configuration files and scans, cleans or writes
        their files with that user's own privileges (a child process with their uid, gid and groups), so a link the
        user made reaches only what they could reach. A cache folder owned by root on a path only root can change
        (a shared cache set in C(/etc/pip.conf)) is handled by root, by descriptor. See the security model guide.
      - With V(all), a user whose configuration or cache cannot be handled gets an entry with C(failed) and the
        reason, and is listed in C(failed_users); the other users go on.
      - On Windows, where C(become) is not available to these modules, the accounts come from the registry's profile list
        (C(SYSTEM), local, domain and Microsoft Entra ID users whose profile folder exists), named by their profile folder's name.
        Other accounts' folders need an administrator's connection.
    type: str
  python:
    description:
      - An interpreter whose pip is asked about, for example a virtual environment's C(bin/python).
        Its C(sys.prefix) decides the site configuration file (C(pip.conf) or C(pip.ini) in the environment).
      - Omitted, the site file of the interpreter that runs the module counts.
    type: path
  environment:
    description:
      - Environment variables the user's pip would see, added to those of the module's process for the current user,
        or to a minimal login environment (C(HOME), C(USER), C(PATH)) for another user.
      - "For example C({PIP_CACHE_DIR: /srv/pip-cache}) or C({XDG_CACHE_HOME: /scratch/cache})."
    type: dict
    default: {}
  python_interpreter:
    description:
      - On Windows hosts, the Python that runs the engine there, as a path (spaces allowed) or the C(py) launcher with its
        version flag (V(py -3.12)). It needs Python 3.9 or newer.
      - Omitted, the host's C(ansible_python_interpreter) (unless it is a POSIX path or V(auto)), else V(py -3), else
        V(python) from C(PATH).
      - Ignored on POSIX hosts, where the module runs with C(ansible_python_interpreter) like any Python module.
    type: str
    version_added: 0.2.0
  command:
    description:
      - The pip command whose view of the configuration counts. pip reads the V(global) section and then the command's own
        section, so C([install] cache-dir = ...) moves the cache of C(pip install) but not what C(pip cache dir) prints.
      - V(cache) gives what C(pip cache dir) prints.
    type: str
    default: cache
    choices: [cache, install, download, wheel]
notes:
  - Results, warnings and messages are valid UTF-8. A file name that is not (a byte sequence another encoding wrote)
    is reported with each such byte written as C(\xNN), for example C(caf\xe9-1.0-py3-none-any.whl); the files themselves
    are found, counted and removed by their real names.
  - A value holding a NUL character is refused with a message naming its option (even where Ansible logs the module's
    arguments to syslog or the journal, which take no NUL), as is an O(python) that is no executable file, and a list or
    a mapping given for an option that takes one path or text (on POSIX hosts).
  - On Windows hosts (WinRM, PSRP, or SSH with PowerShell or cmd) the action plugin validates the options on the controller and
    runs the same engine with the host's Python (see O(python_interpreter)); C(become) and C(async) are not available there.
  - Resolution follows the newest pip's rules on Linux, macOS and Windows, including the ownership check that makes pip
    disable a cache whose folder is not owned by (root) or not writable by (other users) the user.
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
