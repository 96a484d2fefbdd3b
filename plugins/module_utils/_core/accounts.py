# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The local accounts a run acts for, and whose privileges act on each one's cache.

Tool-neutral: every tool's targets (``_pip.targets``, ``_uv.targets``) take their accounts, the home folders no
removal may treat as a cache, and the identity acting on a cache from here. Standard library only.
"""

from __future__ import annotations

import ntpath
import os
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .errors import InvalidValue
from .privilege import Identity, identity_of, is_root, switches

try:
    import pwd
except ImportError:  # Windows
    pwd = None  # type: ignore[assignment]


def host_platform() -> str:
    if sys.platform.startswith("win"):
        return "win32"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


@dataclass
class Account:
    """A local user whose pip cache a run acts on."""

    name: str
    uid: Optional[int]
    gid: Optional[int]
    home: str
    current: bool
    folders: Optional[dict[str, str]] = field(default=None, compare=False)  # Windows: another account's known folders

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.name, "uid": self.uid, "home": self.home}


def _login_uid_min() -> int:
    try:
        with open("/etc/login.defs", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "UID_MIN" and parts[1].isdigit():
                    return int(parts[1])
    except OSError:
        pass
    return 500 if sys.platform == "darwin" else 1000


def _account(entry: Any, current_uid: int) -> Account:
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir, entry.pw_uid == current_uid)


def accounts(user: Optional[str]) -> list[Account]:
    """The accounts ``user`` names: the current user, one name, or ``all`` (root and every login user with a home)."""
    if pwd is None:
        return windows_accounts(user, environ=os.environ)
    current_uid = os.geteuid()
    if user is None:
        try:
            return [_account(pwd.getpwuid(current_uid), current_uid)]
        except KeyError:
            return [Account(str(current_uid), current_uid, os.getegid(), os.path.expanduser("~"), True)]
    if user == "all":
        uid_min = _login_uid_min()
        found: list[Account] = []
        seen: set[str] = set()
        for entry in sorted(pwd.getpwall(), key=lambda item: item.pw_uid):
            if entry.pw_name in seen:
                continue
            if entry.pw_uid == 0 or (entry.pw_uid >= uid_min and entry.pw_uid != 65534 and os.path.isdir(entry.pw_dir) and entry.pw_dir != "/"):
                seen.add(entry.pw_name)
                found.append(_account(entry, current_uid))
        if not any(account.current for account in found):  # a service account not root: its own cache is one of all
            found.extend(accounts(None))
        return found
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise InvalidValue(f"no local user named {user!r} on this host", option="user") from None
    return [_account(entry, current_uid)]


def windows_accounts(
    user: Optional[str],
    *,
    environ: Mapping[str, str],
    registry: Any = None,
    isdir: Callable[[str], bool] = os.path.isdir,
    common_appdata: Optional[str] = None,
) -> list[Account]:
    """The accounts ``user`` names on Windows: the current user, or others from the registry's profile list.

    ``all`` is every profile whose folder exists (SYSTEM, local, domain and Entra ID users); another account's
    folders come from its registry hive when it is loaded, else from its profile's default layout.
    """
    from .windows import find_profile, known_folder, profile_folders, profiles

    home = environ.get("USERPROFILE") or os.path.expanduser("~")
    name = environ.get("USERNAME") or ntpath.basename(home)
    current = Account(name, None, None, home, True)
    if user is None or user.casefold() == name.casefold():
        return [current]
    try:
        listed = profiles(registry=registry)
    except OSError as error:
        raise InvalidValue(f"cannot read the profile list from the registry: {error}", option="user") from None
    shared = common_appdata if common_appdata is not None else known_folder("COMMON_APPDATA")

    def other(profile: Any) -> Account:
        return Account(profile.name, None, None, profile.path, False, profile_folders(profile, common_appdata=shared, registry=registry))

    if user != "all":
        found = find_profile(user, listed)
        if found is None or not isdir(found.path):
            raise InvalidValue(f"no user profile named {user!r} on this host (names are profile folder names)", option="user")
        return [other(found)]
    result: list[Account] = []
    for profile in listed:
        if ntpath.normcase(profile.path) == ntpath.normcase(home):
            result.append(current)
        elif isdir(profile.path):
            result.append(other(profile))
    if current not in result:
        result.insert(0, current)
    return result


def homes() -> list[str]:
    """Home folders a removal refuses to treat as a cache: every account's, and this process's."""
    found: list[str] = []
    if pwd is not None:
        found.extend(entry.pw_dir for entry in pwd.getpwall() if entry.pw_dir not in ("/", ""))
    elif sys.platform.startswith("win"):
        from .windows import profiles

        try:
            found.extend(profile.path for profile in profiles())
        except OSError:
            pass
    found.extend(os.environ.get(name, "") for name in ("HOME", "USERPROFILE"))
    return [path for path in found if path]


def run_program(args: list[str]) -> tuple[int, str, str]:
    """Run a program without a shell and wait for it: (exit code, output, errors); 127 and the reason when it cannot start."""
    try:
        # The same on every host, with or without Ansible: the engine runs where no AnsibleModule does (Windows, the job).
        proc = subprocess.run(  # pylint: disable=ansible-bad-function
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError as error:
        return 127, "", str(error)
    return proc.returncode, proc.stdout, proc.stderr


def needs_root(account: Account, tool: str = "pip") -> Optional[str]:
    """Why this process cannot act for ``account`` (None when it can): another POSIX user's configuration and cache
    are read with that user's own privileges, which only root can take. Reading them as this user instead would
    report what this user may see (the tool's ownership check failing, files missing) as if it were that user's cache."""
    if pwd is None or account.current or account.uid is None or is_root() or account.uid == os.geteuid():
        return None
    try:
        me = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        me = str(os.geteuid())
    return f"needs root: {account.name}'s {tool} configuration and cache are read with that user's privileges, which only root takes (this run is {me})"


def root_only_path(path: str) -> bool:
    """True when ``path`` (or, if it does not exist yet, its nearest existing folder) is owned by root, and every
    folder above it is owned by root and writable by no one else (or sticky): no other user can swap it, or anything
    on the way to it, for a link. (What is inside a shared cache, which may be writable by all, is walked by descriptor.)"""
    if not hasattr(os, "geteuid"):
        return False
    current = os.path.abspath(path)
    while True:
        try:
            info = os.lstat(current)
            break
        except FileNotFoundError:
            parent = os.path.dirname(current)
            if parent == current:
                return False
            current = parent
        except OSError:
            return False
    deepest = True
    while True:
        # Above the cache, a folder others may write is safe only when sticky (/tmp): there nobody but root can
        # rename or remove the root-owned entry below it.
        shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX
        if stat.S_ISLNK(info.st_mode) or info.st_uid != 0 or (not deepest and shared):
            return False
        deepest = False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent
        try:
            info = os.lstat(current)
        except OSError:
            return False


def identity_for(account: Account) -> Optional[Identity]:
    """Whose privileges act on ``account``'s files: None for the account this process runs as."""
    if account.current:
        return None
    return identity_of(account.name, account.uid, account.gid)


def acting_identity(identity: Optional[Identity], directory: str) -> Optional[Identity]:
    """Whose privileges scan and remove ``directory`` for the account ``identity`` stands for: the user's own, except
    for a cache that only root can reach (a shared folder set in a system-wide configuration file), which root handles
    itself, by descriptor."""
    if identity is None or identity.uid == 0 or not switches(identity):
        return None
    if root_only_path(directory):
        return None
    return identity


def host_fields(account: Account, *, environment: Mapping[str, str], platform: str) -> dict[str, Any]:
    """What a tool run by ``account`` sees of this host, as ``Host``'s fields: this process's environment for the
    account it runs as; for another account a minimal login environment (its shell variables are unknown); with
    ``environment`` added either way. The working folder is this process's for its own account, else the home."""
    if account.current:
        environ = dict(os.environ)
        environ.update(environment)
        cwd = os.getcwd() if os.path.isdir(os.getcwd()) else account.home
    elif platform == "win32":
        environ = {"USERPROFILE": account.home, "USERNAME": account.name}
        environ.update({name: value for name, value in os.environ.items() if name.upper() in ("SYSTEMDRIVE", "SYSTEMROOT", "PATH", "PATHEXT")})
        environ.update(environment)
        cwd = account.home
    else:
        environ = {"HOME": account.home, "USER": account.name, "LOGNAME": account.name, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        environ.update(environment)
        cwd = account.home
    gids: tuple[int, ...] = ()
    if account.uid is not None and account.gid is not None and hasattr(os, "getgrouplist"):
        try:
            gids = tuple(os.getgrouplist(account.name, account.gid))
        except OSError:
            gids = (account.gid,)
    folders: dict[str, str] = {}
    if platform == "win32":
        from .windows import known_folders

        folders = dict(account.folders) if account.folders is not None else known_folders()
    return {
        "platform": platform,
        "environ": environ,
        "home": account.home,
        "uid": account.uid,
        "gids": gids,
        "cwd": cwd,
        "windows_folders": folders,
        "live": True,
    }
