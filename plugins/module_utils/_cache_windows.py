# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the fleet.cache collection: not a public API, it may change at any time.

Windows known folders, read the way platformdirs reads them for pip: the shell's known-folder
API (not the LOCALAPPDATA variable), so a redirected folder is found where it really is.
Standard library only; imported on Windows hosts.
"""

from __future__ import annotations

import os
import uuid

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
