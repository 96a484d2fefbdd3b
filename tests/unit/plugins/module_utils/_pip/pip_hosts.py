# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hosts as pip sees them, for the tests of host.py, config_read.py and resolve.py.

Linux, macOS and Windows contexts with every fact an input (HostContext with live=False), and configuration loaded
from texts instead of files.
"""

from __future__ import annotations

from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import config_files, load_config
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import resolve

WIN_FOLDERS = {
    "LOCAL_APPDATA": r"C:\Users\Alice\AppData\Local",
    "APPDATA": r"C:\Users\Alice\AppData\Roaming",
    "COMMON_APPDATA": r"C:\ProgramData",
}


LINUX_FILES = [
    ("global", "/etc/xdg/pip/pip.conf"),
    ("global", "/etc/pip.conf"),
    ("user", "/home/alice/.pip/pip.conf"),
    ("user", "/home/alice/.config/pip/pip.conf"),
    ("site", "/opt/venv/pip.conf"),
]


def _posix(platform, environ, *, home, passwd_home, files, dirs, sys_prefix, base_prefix, cwd):
    """A POSIX host: HOME is ``home`` (unset for None) under ``environ``; the password database gives ``passwd_home``."""
    env = {"HOME": home} if home is not None else {}
    env.update(environ or {})
    present = set(files)
    folders = set(dirs)
    return HostContext(
        platform=platform,
        environ=env,
        home=passwd_home,
        sys_prefix=sys_prefix,
        base_prefix=base_prefix,
        cwd=cwd,
        isdir=lambda path: path in folders,
        exists=lambda path: path in present,
        live=False,
    )


def linux(environ=None, *, home="/home/alice", passwd_home="same", files=(), dirs=(), sys_prefix="/opt/venv", base_prefix="/usr", cwd="/work"):
    passwd_home = home if passwd_home == "same" else passwd_home
    return _posix("linux", environ, home=home, passwd_home=passwd_home, files=files, dirs=dirs, sys_prefix=sys_prefix, base_prefix=base_prefix, cwd=cwd)


def macos(
    environ=None,
    *,
    home="/Users/alice",
    files=(),
    dirs=(),
    sys_prefix="/Users/alice/venv",
    base_prefix="/Library/Frameworks/Python.framework/Versions/3.13",
    cwd="/Users/alice",
):
    return _posix("darwin", environ, home=home, passwd_home=home, files=files, dirs=dirs, sys_prefix=sys_prefix, base_prefix=base_prefix, cwd=cwd)


def windows(environ=None, *, files=(), folders=None, sys_prefix=r"C:\Python313", cwd=r"C:\work"):
    env = {"USERPROFILE": r"C:\Users\Alice", "USERNAME": "Alice"}
    env.update(environ or {})
    present = set(files)
    return HostContext(
        platform="win32",
        environ=env,
        home=r"C:\Users\Alice",
        sys_prefix=sys_prefix,
        base_prefix=sys_prefix,
        cwd=cwd,
        windows_folders=WIN_FOLDERS if folders is None else folders,
        isdir=lambda path: False,
        exists=lambda path: path in present,
        live=False,
    )


def paths(ctx, **kwargs):
    return [(item.variant, item.path) for item in config_files(ctx, **kwargs)]


def loaded(ctx, texts, **kwargs):
    """load_config with file contents from a dict; records which paths were read."""
    reads = []

    def reader(path):
        reads.append(path)
        return texts.get(path)

    config = load_config(ctx, reader=reader, **kwargs)
    return config, reads


def resolved(ctx, texts=None, **kwargs):
    config, _reads = loaded(ctx, texts or {}, isolated=kwargs.get("isolated", False))
    return resolve(ctx, config=config, **kwargs)


USER = "/home/alice/.config/pip/pip.conf"


LEGACY = "/home/alice/.pip/pip.conf"


GLOBAL = "/etc/pip.conf"


SITE = "/opt/venv/pip.conf"


def ctx_with(texts, environ=None, **kwargs):
    return linux(environ, files=list(texts), **kwargs)
