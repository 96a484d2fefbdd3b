# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What pip sees of a host on Linux, macOS and Windows: its environment, ``~``, and the default cache folder.

Every host fact is an input (HostContext with live=False), so each platform's rules run here. Expected values come
from pip's own source (pip/_internal/utils/appdirs.py of pip 26.3) written out as tables; test_resolve_platformdirs.py
compares the default folders with the real platformdirs library.
"""

from __future__ import annotations

import ntpath
import posixpath

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import ConfigError
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import resolve
from ansible_collections.fleet.cache.tests.unit.plugins.module_utils._pip.pip_hosts import WIN_FOLDERS, linux, loaded, macos, windows

# --- HostContext basics ---------------------------------------------------------------------------


def test_unknown_platform_is_rejected():
    with pytest.raises(ValueError, match="platform must be one of"):
        HostContext(platform="sunos", environ={})


def test_windows_environment_is_case_insensitive_and_posix_is_not():
    win = windows({"pip_cache_dir": r"D:\x", "Path": "C:\\bin"})
    assert win.getenv("PIP_CACHE_DIR") == r"D:\x"
    assert win.getenv("path") == "C:\\bin"
    assert win.pip_environ_items() == [("cache_dir", r"D:\x")]
    lin = linux({"pip_cache_dir": "/x", "PIP_VERSION": "1", "PIP_HELP": "1", "PIP_NO_CACHE_DIR": "0"})
    assert lin.getenv("PIP_CACHE_DIR") is None
    assert lin.pip_environ_items() == [("no_cache_dir", "0")]


# --- default cache folder -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host, environ, expected",
    [
        (linux, {}, "/home/alice/.cache/pip"),
        (linux, {"XDG_CACHE_HOME": "/xdg/cache"}, "/xdg/cache/pip"),
        (linux, {"XDG_CACHE_HOME": "  /xdg/padded  "}, "/xdg/padded/pip"),
        (linux, {"XDG_CACHE_HOME": ""}, "/home/alice/.cache/pip"),
        (linux, {"XDG_CACHE_HOME": "   "}, "/home/alice/.cache/pip"),
        (linux, {"XDG_CACHE_HOME": "relative/cache"}, "/home/alice/.cache/pip"),
        (linux, {"XDG_CACHE_HOME": "~/cache"}, "/home/alice/.cache/pip"),
        (linux, {"HOME": "/home/alice/"}, "/home/alice/.cache/pip"),
        (macos, {}, "/Users/alice/Library/Caches/pip"),
        (macos, {"XDG_CACHE_HOME": "/Users/alice/.cache"}, "/Users/alice/.cache/pip"),
        (macos, {"XDG_CACHE_HOME": " "}, "/Users/alice/Library/Caches/pip"),
        (macos, {"XDG_CACHE_HOME": "rel"}, "/Users/alice/Library/Caches/pip"),
    ],
)
def test_linux_and_macos_default_cache_dir(host, environ, expected):
    ctx = host(environ)
    assert ctx.user_cache_dir() == expected
    result = resolve(ctx, config=loaded(ctx, {})[0])
    assert (result.cache_dir, result.source, result.disabled, result.setting) == (expected, "default", False, None)


def test_linux_empty_home_uses_the_password_database_home():
    ctx = linux({"HOME": ""}, passwd_home="/var/lib/alice")
    assert ctx.user_cache_dir() == "/var/lib/alice/.cache/pip"
    assert ctx.user_config_dir() == "/var/lib/alice/.config/pip"


def test_linux_unset_home_uses_the_password_database_home():
    ctx = linux(home=None, passwd_home="/srv/alice")
    assert "HOME" not in ctx.environ
    assert ctx.user_cache_dir() == "/srv/alice/.cache/pip"
    assert ctx.expanduser("~/.pip/pip.conf") == "/srv/alice/.pip/pip.conf"


def test_linux_without_any_home_is_a_config_error():
    ctx = linux({"HOME": ""}, passwd_home=None)
    with pytest.raises(ConfigError, match="home directory"):
        ctx.user_cache_dir()
    # An absolute XDG variable needs no home.
    assert linux({"HOME": "", "XDG_CACHE_HOME": "/c"}, passwd_home=None).user_cache_dir() == "/c/pip"


def test_windows_default_cache_dir_is_local_appdata_and_lowercased():
    ctx = windows()
    assert ctx.user_cache_dir() == r"C:\Users\Alice\AppData\Local\pip\Cache"
    result = resolve(ctx, config=loaded(ctx, {})[0])
    assert result.cache_dir == r"c:\users\alice\appdata\local\pip\cache"
    assert result.source == "default"


def test_windows_ignores_xdg_and_home():
    ctx = windows({"XDG_CACHE_HOME": r"C:\xdg", "HOME": r"D:\home", "XDG_CONFIG_HOME": r"C:\xdgc"})
    assert ctx.user_cache_dir() == r"C:\Users\Alice\AppData\Local\pip\Cache"
    assert ctx.user_config_dir() == r"C:\Users\Alice\AppData\Roaming\pip"
    assert ctx.expanduser("~") == r"C:\Users\Alice"


def test_windows_known_folder_is_normalised():
    ctx = windows(folders=dict(WIN_FOLDERS, LOCAL_APPDATA="C:/Users/Alice/AppData/Local/"))
    assert ctx.user_cache_dir() == r"C:\Users\Alice\AppData\Local\pip\Cache"


def test_windows_missing_known_folder_is_a_config_error():
    ctx = windows(folders={"APPDATA": WIN_FOLDERS["APPDATA"]})
    with pytest.raises(ConfigError, match="LOCAL_APPDATA"):
        ctx.user_cache_dir()


def test_windows_win_pd_override_local_appdata():
    for override, expected in [
        (r"D:\Cache Root", r"d:\cache root\pip\cache"),
        (r"  D:\Padded  ", r"d:\padded\pip\cache"),
        (r"\\server\share\cache", r"\\server\share\cache\pip\cache"),
        ("E:/Forward/Slashes", r"e:\forward\slashes\pip\cache"),
        # Not fully qualified: platformdirs ignores these and asks Windows.
        (r"relative\cache", r"c:\users\alice\appdata\local\pip\cache"),
        (r"\rooted\no\drive", r"c:\users\alice\appdata\local\pip\cache"),
        ("C:relative", r"c:\users\alice\appdata\local\pip\cache"),
        ("", r"c:\users\alice\appdata\local\pip\cache"),
    ]:
        ctx = windows({"WIN_PD_OVERRIDE_LOCAL_APPDATA": override})
        assert resolve(ctx, config=loaded(ctx, {})[0]).cache_dir == expected


def test_windows_win_pd_override_name_is_case_insensitive():
    ctx = windows({"win_pd_override_local_appdata": r"D:\Lower"})
    assert resolve(ctx, config=loaded(ctx, {})[0]).cache_dir == r"d:\lower\pip\cache"


# --- expanding ~ ----------------------------------------------------------------------------------


WINDOWS_HOMES = [
    {"USERPROFILE": r"C:\Users\Alice"},
    {"HOMEDRIVE": "D:", "HOMEPATH": r"\Home\Bob"},
    {"HOMEPATH": r"\NoDrive"},
    {"USERPROFILE": r"C:\Users\Alice", "HOMEDRIVE": "D:", "HOMEPATH": r"\Ignored"},
    {},
]


def test_windows_expanduser_matches_ntpath(monkeypatch):
    paths_to_expand = ["~", "~/x", "~\\x\\y", "~/", "plain\\path", "C:\\abs"]
    for environ in WINDOWS_HOMES:
        for name in ("USERPROFILE", "HOMEDRIVE", "HOMEPATH", "HOME", "USERNAME"):
            monkeypatch.delenv(name, raising=False)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        ctx = HostContext(platform="win32", environ=dict(environ))
        expanded = [ctx.expanduser(path) for path in paths_to_expand]
        assert expanded == [ntpath.expanduser(path) for path in paths_to_expand], environ


def test_posix_expanduser_matches_posixpath(monkeypatch):
    paths_to_expand = ["~", "~/x", "~/", "x/~", "~//x"]
    for home in ["/home/alice", "/home/alice/", "/", ""]:
        monkeypatch.setenv("HOME", home)
        ctx = HostContext(platform="linux", environ={"HOME": home})
        assert [ctx.expanduser(path) for path in paths_to_expand] == [posixpath.expanduser(path) for path in paths_to_expand], home
