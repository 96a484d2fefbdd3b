# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Windows known folders and the profile list, read the way pip's platformdirs reads them.

Windows known folders, read the way platformdirs reads them for pip: the shell's known-folder
API (not the LOCALAPPDATA variable), so a redirected folder is found where it really is.
The accounts of a host come from the registry's profile list, each with its own folders.
Standard library only; imported on Windows hosts. The registry is a parameter (winreg's API),
so the profile rules run anywhere against a stand-in.
"""

from __future__ import annotations

import ntpath
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any, Optional

# FOLDERID values from KnownFolders.h, keyed by the names the resolver uses.
KNOWN_FOLDER_IDS = {
    "LOCAL_APPDATA": "{F1B32785-6FBA-4FCF-9D55-7B8E7F157091}",
    "APPDATA": "{3EB685DB-65F9-4CF6-A03A-E3EF65729F3D}",
    "COMMON_APPDATA": "{62AB5D82-FDC1-4DC3-A9DD-070D1D495D97}",
}
ENVIRONMENT_FALLBACK = {"LOCAL_APPDATA": "LOCALAPPDATA", "APPDATA": "APPDATA", "COMMON_APPDATA": "ALLUSERSPROFILE"}


def known_folder(name: str) -> str:
    """One known folder of the current user, by the shell API; the environment only when the API is missing."""
    try:
        import ctypes
        from ctypes import wintypes
    except ImportError:
        return os.environ.get(ENVIRONMENT_FALLBACK[name], "")

    class GUID(ctypes.Structure):
        _fields_ = [("Data1", wintypes.DWORD), ("Data2", wintypes.WORD), ("Data3", wintypes.WORD), ("Data4", wintypes.BYTE * 8)]

    value = uuid.UUID(KNOWN_FOLDER_IDS[name])
    guid = GUID()
    guid.Data1, guid.Data2, guid.Data3 = value.fields[0], value.fields[1], value.fields[2]
    for index, byte in enumerate(value.bytes[8:]):
        guid.Data4[index] = byte if byte < 128 else byte - 256
    path = ctypes.c_wchar_p()
    shell32 = ctypes.windll.shell32  # type: ignore[attr-defined]
    ole32 = ctypes.windll.ole32  # type: ignore[attr-defined]
    if shell32.SHGetKnownFolderPath(ctypes.byref(guid), 0, None, ctypes.byref(path)) != 0:
        return os.environ.get(ENVIRONMENT_FALLBACK[name], "")
    try:
        return str(path.value)
    finally:
        ole32.CoTaskMemFree(path)


def known_folders() -> dict[str, str]:
    return {name: known_folder(name) for name in KNOWN_FOLDER_IDS}


PROFILE_LIST_KEY = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
USER_SHELL_FOLDERS_KEY = r"Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders"

# Accounts that own a profile and may run pip: SYSTEM (the analogue of root), local and domain
# users (S-1-5-21-...), Microsoft Entra ID users (S-1-12-1-...). Service accounts (S-1-5-19, -20)
# and the ".bak" keys Windows leaves beside a damaged profile are not accounts.
_ACCOUNT_SID = re.compile(r"^(S-1-5-18|S-1-5-21(-\d+)+|S-1-12-1(-\d+)+)$", re.IGNORECASE)
_SYSTEM_SID = "S-1-5-18"

# Shell-folder value names in a user's registry hive, keyed by the names the resolver uses.
_SHELL_FOLDER_VALUES = {"LOCAL_APPDATA": "Local AppData", "APPDATA": "AppData"}
_ACCOUNT_VARIABLES = re.compile("%(USERPROFILE|USERNAME)%", re.IGNORECASE)


@dataclass(frozen=True)
class Profile:
    """One account's profile, as the registry's profile list records it."""

    sid: str
    path: str  # ProfileImagePath, environment variables expanded
    name: str  # SYSTEM, else the profile folder's name (the account name when the profile was made)


def _winreg() -> Any:
    import winreg  # Windows only

    return winreg


def _expand(registry: Any, value: str, kind: int) -> str:
    if kind == getattr(registry, "REG_EXPAND_SZ", 2):
        return str(registry.ExpandEnvironmentStrings(value))
    return value


def profiles(*, registry: Any = None, key_path: str = PROFILE_LIST_KEY) -> list[Profile]:
    """Every account profile under HKLM ``key_path``, in the registry's order; ``registry`` has winreg's API."""
    reg = registry if registry is not None else _winreg()
    found: list[Profile] = []
    with reg.OpenKey(reg.HKEY_LOCAL_MACHINE, key_path) as root:
        index = 0
        while True:
            try:
                sid = reg.EnumKey(root, index)
            except OSError:  # ERROR_NO_MORE_ITEMS
                break
            index += 1
            if not _ACCOUNT_SID.match(sid):
                continue
            try:
                with reg.OpenKey(root, sid) as key:
                    value, kind = reg.QueryValueEx(key, "ProfileImagePath")
            except OSError:
                continue
            if not isinstance(value, str) or not value.strip():
                continue
            path = ntpath.normpath(_expand(reg, value.strip(), kind))
            name = "SYSTEM" if sid.upper() == _SYSTEM_SID else ntpath.basename(path)
            found.append(Profile(sid=sid, path=path, name=name))
    return found


def profile_folders(profile: Profile, *, common_appdata: str, registry: Any = None) -> dict[str, str]:
    """Another account's known folders, without its logon: the folders its loaded registry hive names
    (it is logged on, perhaps with a folder redirected), else the profile's default layout."""
    folders = {
        "LOCAL_APPDATA": ntpath.join(profile.path, "AppData", "Local"),
        "APPDATA": ntpath.join(profile.path, "AppData", "Roaming"),
        "COMMON_APPDATA": common_appdata,
    }
    reg = registry if registry is not None else _winreg()
    try:
        key = reg.OpenKey(reg.HKEY_USERS, profile.sid + "\\" + USER_SHELL_FOLDERS_KEY)
    except OSError:  # the hive is not loaded: the account is not logged on
        return folders
    with key:
        for name, value_name in _SHELL_FOLDER_VALUES.items():
            try:
                value, kind = reg.QueryValueEx(key, value_name)
            except OSError:
                continue
            if not isinstance(value, str) or not value.strip():
                continue
            # %USERPROFILE% and %USERNAME% are that account's, not this process's: put them in before the rest is expanded.
            text = _ACCOUNT_VARIABLES.sub(lambda match: profile.path if match.group(1).upper() == "USERPROFILE" else profile.name, value.strip())
            folders[name] = ntpath.normpath(_expand(reg, text, kind))
    return folders


def find_profile(name: str, listed: list[Profile]) -> Optional[Profile]:
    """The profile of the account called ``name`` (Windows account names ignore case)."""
    wanted = name.casefold()
    for profile in listed:
        if profile.name.casefold() == wanted:
            return profile
    return None
