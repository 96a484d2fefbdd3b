# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The resolver's default folders against the real platformdirs library, its platform forced.

pip asks its vendored platformdirs (4.12 in pip 26.3) through pip/_internal/utils/appdirs.py;
the same calls are made here on platformdirs' MacOS, Unix and Windows classes, with the
environment set through monkeypatch and, for Windows, ntpath and the known folders swapped in.
"""

from __future__ import annotations

import ntpath
import os
import sys

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import NtOs

platformdirs = pytest.importorskip("platformdirs", minversion="4.12")
pd_macos = pytest.importorskip("platformdirs.macos")
pd_unix = pytest.importorskip("platformdirs.unix")
pd_windows = pytest.importorskip("platformdirs.windows")

XDG_NAMES = ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CONFIG_DIRS", "XDG_DATA_DIRS", "XDG_STATE_HOME", "XDG_RUNTIME_DIR")
WIN_FOLDERS = {
    "LOCAL_APPDATA": r"C:\Users\Alice\AppData\Local",
    "APPDATA": r"C:\Users\Alice\AppData\Roaming",
    "COMMON_APPDATA": r"C:\ProgramData",
}


class PosixEnv:
    """Sets HOME and XDG variables for platformdirs (os.environ) and the resolver (the returned dict) alike."""

    def __init__(self, monkeypatch, tmp_path):
        self.monkeypatch = monkeypatch
        self.plain_home = str(tmp_path / "home")
        self.support_home = str(tmp_path / "home-with-app-support")
        os.makedirs(self.plain_home)
        os.makedirs(os.path.join(self.support_home, "Library", "Application Support", "pip"))

    def use(self, values, *, home=None):
        home = home or self.plain_home
        for name in XDG_NAMES:
            self.monkeypatch.delenv(name, raising=False)
        environ = {"HOME": home}
        environ.update(values)
        for name, value in environ.items():
            self.monkeypatch.setenv(name, value)
        return environ


@pytest.fixture
def posix_env(monkeypatch, tmp_path):
    return PosixEnv(monkeypatch, tmp_path)


def pip_user_config_dir_macos():
    """pip's _macos_user_config_dir: Application Support (or XDG_DATA_HOME) when it is a folder, else ~/.config/pip."""
    path = pd_macos.MacOS(appname="pip", appauthor=False, roaming=True).user_data_dir
    if os.path.isdir(path):
        return path
    return os.path.expanduser(os.path.join("~/.config/", "pip"))


POSIX_CASES = [
    {},
    {"XDG_CACHE_HOME": "/xdg/cache"},
    {"XDG_CACHE_HOME": "  /xdg/padded  "},
    {"XDG_CACHE_HOME": "   "},
    {"XDG_CACHE_HOME": "relative/cache"},
    {"XDG_CONFIG_HOME": "/xdg/config"},
    {"XDG_CONFIG_HOME": "relative"},
    {"XDG_DATA_HOME": "/xdg/data"},
    {"XDG_CONFIG_DIRS": "/etc/a:relative: /etc/b "},
    {"XDG_CONFIG_DIRS": "relative"},
    {"XDG_DATA_DIRS": "/usr/local/share:/usr/share"},
    {"XDG_DATA_DIRS": "rel:/opt/share"},
    {"XDG_DATA_DIRS": ""},
]


def test_linux_defaults_match_platformdirs_unix(posix_env):
    for values in POSIX_CASES:
        environ = posix_env.use(values)
        ctx = HostContext(platform="linux", environ=environ, home=environ["HOME"])
        unix = pd_unix.Unix(appname="pip", appauthor=False, roaming=True, multipath=True)
        ours = (ctx.user_cache_dir(), ctx.user_config_dir(), ctx.site_config_dirs())
        reference = (pd_unix.Unix(appname="pip", appauthor=False).user_cache_dir, unix.user_config_dir, [*unix.site_config_dir.split(os.pathsep), "/etc"])
        assert ours == reference, values


def test_macos_defaults_match_platformdirs_macos(posix_env, monkeypatch):
    monkeypatch.setattr(sys, "base_prefix", "/Library/Frameworks/Python.framework/Versions/3.13")
    for home in (posix_env.plain_home, posix_env.support_home):
        for values in POSIX_CASES:
            environ = posix_env.use(values, home=home)
            ctx = HostContext(platform="darwin", environ=environ, home=home, base_prefix=sys.base_prefix, isdir=os.path.isdir)
            ours = (ctx.user_cache_dir(), ctx.user_config_dir(), ctx.site_config_dirs())
            site = pd_macos.MacOS(appname="pip", appauthor=False, multipath=True).site_data_dir
            reference = (pd_macos.MacOS(appname="pip", appauthor=False).user_cache_dir, pip_user_config_dir_macos(), site.split(os.pathsep))
            assert ours == reference, (home, values)


def test_macos_application_support_used_when_present(posix_env):
    environ = posix_env.use({}, home=posix_env.support_home)
    support = os.path.join(posix_env.support_home, "Library", "Application Support", "pip")
    ctx = HostContext(platform="darwin", environ=environ, home=posix_env.support_home, isdir=os.path.isdir)
    assert ctx.user_config_dir() == support == pip_user_config_dir_macos()


def test_macos_homebrew_site_dirs_match_platformdirs(posix_env, monkeypatch):
    environ = posix_env.use({})
    for base_prefix in [
        "/opt/homebrew/opt/python@3.13/Frameworks/Python.framework/Versions/3.13",
        "/usr/local/opt/python3/Frameworks/Python.framework/Versions/3.12",
        "/opt/homebrew/Cellar/python@3.13/3.13.1/Frameworks/Python.framework/Versions/3.13",
        "/usr",
    ]:
        monkeypatch.setattr(sys, "base_prefix", base_prefix)
        ctx = HostContext(platform="darwin", environ=environ, home=environ["HOME"], base_prefix=base_prefix)
        expected = pd_macos.MacOS(appname="pip", appauthor=False, multipath=True).site_data_dir.split(os.pathsep)
        assert ctx.site_config_dirs() == expected
        assert expected[-1] == "/Library/Application Support/pip"
    # The Homebrew prefix really was recognised by the reference for the first one.
    monkeypatch.setattr(sys, "base_prefix", "/opt/homebrew/opt/python@3.13/Frameworks/Python.framework/Versions/3.13")
    assert pd_macos.MacOS(appname="pip", appauthor=False, multipath=True).site_data_dir.split(os.pathsep)[0] == "/opt/homebrew/share/pip"


def test_empty_home_matches_platformdirs_password_database_home(posix_env):
    pwd = pytest.importorskip("pwd")
    try:
        passwd_home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        pytest.skip("this user has no password database entry")
    environ = posix_env.use({"HOME": ""})
    for platform, cls in (("linux", pd_unix.Unix), ("darwin", pd_macos.MacOS)):
        ctx = HostContext(platform=platform, environ=environ, home=passwd_home)
        assert ctx.user_cache_dir() == cls(appname="pip", appauthor=False).user_cache_dir


@pytest.fixture
def windows_dirs(monkeypatch):
    folders = dict(WIN_FOLDERS)
    monkeypatch.setattr(pd_windows, "os", NtOs())
    monkeypatch.setattr(pd_windows, "_resolve_win_folder", lambda csidl_name: folders[csidl_name[len("CSIDL_") :]])

    def check(environ, folder_values=None):
        """A Windows HostContext, with platformdirs seeing the same variables and known folders."""
        for name in list(os.environ):
            if name.upper().startswith(("WIN_PD_OVERRIDE_", "XDG_")):
                monkeypatch.delenv(name)
        folders.clear()
        folders.update(folder_values or WIN_FOLDERS)
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        ctx = HostContext(platform="win32", environ=dict(environ, USERPROFILE=r"C:\Users\Alice"), windows_folders=dict(folders))
        return ctx

    return check


WINDOWS_CASES = [
    ({}, None),
    ({}, dict(WIN_FOLDERS, LOCAL_APPDATA="C:/Users/Alice/AppData/Local/", APPDATA=r"C:\Users\Alice\.\AppData\Roaming")),
    ({"WIN_PD_OVERRIDE_LOCAL_APPDATA": r"D:\Cache Root"}, None),
    ({"WIN_PD_OVERRIDE_LOCAL_APPDATA": r"  \\server\share\cache  "}, None),
    ({"WIN_PD_OVERRIDE_LOCAL_APPDATA": r"relative\cache"}, None),
    ({"WIN_PD_OVERRIDE_LOCAL_APPDATA": r"\rooted"}, None),
    ({"WIN_PD_OVERRIDE_LOCAL_APPDATA": "C:relative"}, None),
    ({"WIN_PD_OVERRIDE_APPDATA": r"E:\Roaming"}, None),
    ({"WIN_PD_OVERRIDE_COMMON_APPDATA": r"F:\Common"}, None),
    ({"XDG_CACHE_HOME": r"C:\xdg", "XDG_CONFIG_DIRS": r"C:\a"}, None),
]


def windows_pair(ctx):
    """(ours, platformdirs') user cache, user config and site config folders."""
    ours = (ctx.user_cache_dir(), ctx.user_config_dir(), ctx.site_config_dirs())
    reference = (
        pd_windows.Windows(appname="pip", appauthor=False).user_cache_dir,
        pd_windows.Windows(appname="pip", appauthor=False, roaming=True).user_config_dir,
        [pd_windows.Windows(appname="pip", appauthor=False, multipath=True).site_config_dir],
    )
    return ours, reference


def test_windows_defaults_match_platformdirs_windows(windows_dirs):
    for environ, folders in WINDOWS_CASES:
        ours, reference = windows_pair(windows_dirs(environ, folders))
        assert ours == reference, (environ, folders)


def test_windows_override_is_normalised_like_platformdirs(windows_dirs):
    different = {}
    for environ in (
        {"WIN_PD_OVERRIDE_APPDATA": "D:/Roam/"},
        {"WIN_PD_OVERRIDE_LOCAL_APPDATA": "D:/Local/"},
        {"WIN_PD_OVERRIDE_COMMON_APPDATA": "D:\\Common\\..\\Data"},
    ):
        ours, reference = windows_pair(windows_dirs(environ))
        if ours != reference:
            different[str(environ)] = (ours, reference)
    assert different == {}


def test_windows_reference_really_is_forced_to_windows(windows_dirs):
    # Guard for the comparisons above: the library answers with Windows paths here, on any host.
    windows_dirs({})
    assert pd_windows.Windows(appname="pip", appauthor=False).user_cache_dir == r"C:\Users\Alice\AppData\Local\pip\Cache"
    assert pd_windows.Windows(appname="pip", appauthor=False, roaming=True).user_config_dir == r"C:\Users\Alice\AppData\Roaming\pip"
    assert pd_windows.Windows(appname="pip", appauthor=False, multipath=True).site_config_dir == r"C:\ProgramData\pip"


# --- Windows: pip's own use of those folders -----------------------------------------------------------
# pip/_internal/utils/appdirs.py and configuration.py (26.3), written out with ntpath and the forced
# platformdirs above: the configuration files pip considers, in its order, and the cache directory pip
# uses (normalize_path: expanduser, realpath, normcase). realpath's link resolution needs the real disk,
# so it stands here as normpath; the engine calls os.path.realpath on the host, as pip does.


def pip_windows_config_files(sys_prefix):
    """get_configuration_files() on Windows: global, then user (legacy, new), then site."""
    global_files = [ntpath.join(path, "pip.ini") for path in [pd_windows.Windows(appname="pip", appauthor=False, multipath=True).site_config_dir]]
    legacy = ntpath.join(ntpath.expanduser("~"), "pip", "pip.ini")
    new = ntpath.join(pd_windows.Windows(appname="pip", appauthor=False, roaming=True).user_config_dir, "pip.ini")
    return [*global_files, legacy, new, ntpath.join(sys_prefix, "pip.ini")]


def pip_windows_cache_dir():
    return ntpath.normcase(ntpath.normpath(ntpath.expanduser(pd_windows.Windows(appname="pip", appauthor=False).user_cache_dir)))


WINDOWS_PROFILE_CASES = [
    ({"USERPROFILE": r"C:\Users\Alice"}, None),
    ({"USERPROFILE": r"C:\Users\O'Brien Smith"}, dict(WIN_FOLDERS, LOCAL_APPDATA=r"C:\Users\O'Brien Smith\AppData\Local")),
    ({"USERPROFILE": r"C:\Users\Jos\u00e9"}, dict(WIN_FOLDERS, LOCAL_APPDATA=r"E:\Redirected\Jos\u00c9\LOCAL", APPDATA=r"\\fs\Profiles\Jos\u00e9\Roaming")),
    ({"USERPROFILE": r"C:\Users\Alice", "WIN_PD_OVERRIDE_LOCAL_APPDATA": r"D:\Cache Root\\"}, None),
    ({"USERPROFILE": r"C:\Windows\system32\config\systemprofile"}, dict(WIN_FOLDERS, LOCAL_APPDATA=r"C:\Windows\system32\config\systemprofile\AppData\Local")),
]


def test_windows_config_files_are_pips(windows_dirs, monkeypatch):
    from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import config_files

    for environ, folders in WINDOWS_PROFILE_CASES:
        monkeypatch.delenv("HOME", raising=False)
        ctx = windows_dirs(environ, folders)
        ctx = type(ctx)(**dict(vars(ctx), environ=dict(environ), sys_prefix=r"C:\Program Files\Python312"))
        ours = [(item.variant, item.path) for item in config_files(ctx)]
        reference = pip_windows_config_files(r"C:\Program Files\Python312")
        assert [path for _variant, path in ours] == reference, environ
        assert [variant for variant, _path in ours] == ["global", "user", "user", "site"]


def test_windows_cache_dir_is_pips_lowercased_path(windows_dirs, monkeypatch):
    from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import resolve

    for environ, folders in WINDOWS_PROFILE_CASES:
        monkeypatch.delenv("HOME", raising=False)
        ctx = windows_dirs(environ, folders)
        ctx = type(ctx)(**dict(vars(ctx), environ=dict(environ)))
        resolution = resolve(ctx)
        assert resolution.cache_dir == pip_windows_cache_dir(), environ
        assert resolution.cache_dir == resolution.cache_dir.lower()
        assert resolution.source == "default"


def test_windows_other_accounts_defaults_are_platformdirs_with_their_folders(windows_dirs):
    """An account not logged on: its profile's layout stands for the known folders, and platformdirs agrees on the rest."""
    from ansible_collections.fleet.cache.plugins.module_utils._core.windows import Profile, profile_folders

    class NoHive:
        HKEY_USERS = "HKU"

        def OpenKey(self, parent, sub):
            raise FileNotFoundError(2, "The system cannot find the file specified")

    for path in (r"C:\Users\bob.CORP", r"D:\Profiles\Carol Smith", r"C:\Windows\system32\config\systemprofile"):
        folders = profile_folders(Profile("S-1-5-21-1-2-3-1001", path, ntpath.basename(path)), common_appdata=r"C:\ProgramData", registry=NoHive())
        ctx = windows_dirs({"USERPROFILE": path}, folders)
        ours, reference = windows_pair(ctx)
        assert ours == reference, path
        assert ours[0] == ntpath.join(path, "AppData", "Local", "pip", "Cache")
