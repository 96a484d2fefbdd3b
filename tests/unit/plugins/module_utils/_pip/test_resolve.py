# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resolution of pip's cache directory and configuration files on Linux, macOS and Windows.

Every host fact is an input (HostContext with live=False), so each platform's rules run here.
Expected values come from pip's own source (pip/_internal/utils/appdirs.py, configuration.py,
cli/parser.py of pip 26.3) written out as tables; a second file compares the default folders
with the real platformdirs library.
"""

from __future__ import annotations

import ntpath
import os
import posixpath

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import ConfigError
from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import config_files, load_config, read_config_text, strtobool
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import normalize_path, resolve

WIN_FOLDERS = {
    "LOCAL_APPDATA": r"C:\Users\Alice\AppData\Local",
    "APPDATA": r"C:\Users\Alice\AppData\Roaming",
    "COMMON_APPDATA": r"C:\ProgramData",
}


def linux(environ=None, *, home="/home/alice", passwd_home="same", files=(), dirs=(), sys_prefix="/opt/venv", base_prefix="/usr", cwd="/work"):
    env = {"HOME": home} if home is not None else {}
    env.update(environ or {})
    present = set(files)
    folders = set(dirs)
    return HostContext(
        platform="linux",
        environ=env,
        home=home if passwd_home == "same" else passwd_home,
        sys_prefix=sys_prefix,
        base_prefix=base_prefix,
        cwd=cwd,
        isdir=lambda path: path in folders,
        exists=lambda path: path in present,
        live=False,
    )


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
    env = {"HOME": home} if home is not None else {}
    env.update(environ or {})
    present = set(files)
    folders = set(dirs)
    return HostContext(
        platform="darwin",
        environ=env,
        home=home,
        sys_prefix=sys_prefix,
        base_prefix=base_prefix,
        cwd=cwd,
        isdir=lambda path: path in folders,
        exists=lambda path: path in present,
        live=False,
    )


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


# --- HostContext basics ---------------------------------------------------------------------------


def test_unknown_platform_is_rejected():
    with pytest.raises(ValueError, match="platform must be one of"):
        HostContext(platform="sunos", environ={})


def test_strtobool_words():
    for value, expected in [
        ("y", True),
        ("YES", True),
        ("t", True),
        ("True", True),
        ("on", True),
        ("1", True),
        ("n", False),
        ("No", False),
        ("f", False),
        ("off", False),
        ("0", False),
    ]:
        assert strtobool(value) is expected


def test_strtobool_rejects():
    for value in ["", "2", "maybe", "yess", " true"]:
        with pytest.raises(ValueError):
            strtobool(value)


def test_windows_environment_is_case_insensitive_and_posix_is_not():
    win = windows({"pip_cache_dir": r"D:\x", "Path": "C:\\bin"})
    assert win.getenv("PIP_CACHE_DIR") == r"D:\x"
    assert win.getenv("path") == "C:\\bin"
    assert win.pip_environ_items() == [("cache_dir", r"D:\x")]
    lin = linux({"pip_cache_dir": "/x", "PIP_VERSION": "1", "PIP_HELP": "1", "PIP_NO_CACHE_DIR": "0"})
    assert lin.getenv("PIP_CACHE_DIR") is None
    assert lin.pip_environ_items() == [("no_cache_dir", "0")]


# --- default cache folder -------------------------------------------------------------------------


def test_linux_default_cache_dir():
    for environ, expected in [
        ({}, "/home/alice/.cache/pip"),
        ({"XDG_CACHE_HOME": "/xdg/cache"}, "/xdg/cache/pip"),
        ({"XDG_CACHE_HOME": "  /xdg/padded  "}, "/xdg/padded/pip"),
        ({"XDG_CACHE_HOME": ""}, "/home/alice/.cache/pip"),
        ({"XDG_CACHE_HOME": "   "}, "/home/alice/.cache/pip"),
        ({"XDG_CACHE_HOME": "relative/cache"}, "/home/alice/.cache/pip"),
        ({"XDG_CACHE_HOME": "~/cache"}, "/home/alice/.cache/pip"),
        ({"HOME": "/home/alice/"}, "/home/alice/.cache/pip"),
    ]:
        ctx = linux(environ)
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


def test_macos_default_cache_dir():
    for environ, expected in [
        ({}, "/Users/alice/Library/Caches/pip"),
        ({"XDG_CACHE_HOME": "/Users/alice/.cache"}, "/Users/alice/.cache/pip"),
        ({"XDG_CACHE_HOME": " "}, "/Users/alice/Library/Caches/pip"),
        ({"XDG_CACHE_HOME": "rel"}, "/Users/alice/Library/Caches/pip"),
    ]:
        ctx = macos(environ)
        assert ctx.user_cache_dir() == expected
        assert resolve(ctx, config=loaded(ctx, {})[0]).cache_dir == expected


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


# --- configuration files, in pip's order ----------------------------------------------------------

LINUX_FILES = [
    ("global", "/etc/xdg/pip/pip.conf"),
    ("global", "/etc/pip.conf"),
    ("user", "/home/alice/.pip/pip.conf"),
    ("user", "/home/alice/.config/pip/pip.conf"),
    ("site", "/opt/venv/pip.conf"),
]


def test_linux_config_files_in_pips_order():
    assert paths(linux()) == LINUX_FILES


def test_linux_config_files_with_xdg():
    for environ, expected_global, expected_user_new in [
        ({"XDG_CONFIG_DIRS": "/a:/b"}, ["/a/pip/pip.conf", "/b/pip/pip.conf", "/etc/pip.conf"], "/home/alice/.config/pip/pip.conf"),
        ({"XDG_CONFIG_DIRS": "rel:/b: /c "}, ["/b/pip/pip.conf", "/c/pip/pip.conf", "/etc/pip.conf"], "/home/alice/.config/pip/pip.conf"),
        ({"XDG_CONFIG_DIRS": "   "}, ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"], "/home/alice/.config/pip/pip.conf"),
        ({"XDG_CONFIG_DIRS": "rel:also-rel"}, ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"], "/home/alice/.config/pip/pip.conf"),
        ({"XDG_CONFIG_HOME": "/xdg/config"}, ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"], "/xdg/config/pip/pip.conf"),
        ({"XDG_CONFIG_HOME": " "}, ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"], "/home/alice/.config/pip/pip.conf"),
        ({"XDG_CONFIG_HOME": "cfg"}, ["/etc/xdg/pip/pip.conf", "/etc/pip.conf"], "/home/alice/.config/pip/pip.conf"),
    ]:
        found = paths(linux(environ))
        assert [path for variant, path in found if variant == "global"] == expected_global
        assert [path for variant, path in found if variant == "user"] == ["/home/alice/.pip/pip.conf", expected_user_new]
        assert found[-1] == ("site", "/opt/venv/pip.conf")


MAC_GLOBAL = ("global", "/Library/Application Support/pip/pip.conf")
MAC_LEGACY = ("user", "/Users/alice/.pip/pip.conf")
MAC_SITE = ("site", "/Users/alice/venv/pip.conf")


def test_macos_config_files_without_application_support_folder():
    assert paths(macos()) == [MAC_GLOBAL, MAC_LEGACY, ("user", "/Users/alice/.config/pip/pip.conf"), MAC_SITE]


def test_macos_application_support_used_only_when_it_is_a_folder():
    support = "/Users/alice/Library/Application Support/pip"
    assert paths(macos(dirs=[support])) == [MAC_GLOBAL, MAC_LEGACY, ("user", support + "/pip.conf"), MAC_SITE]
    # A file of that name does not count: isdir decides.
    assert paths(macos(files=[support]))[2] == ("user", "/Users/alice/.config/pip/pip.conf")


def test_macos_xdg_data_home_replaces_application_support_when_it_is_a_folder():
    assert paths(macos({"XDG_DATA_HOME": "/xdg/data"}, dirs=["/xdg/data/pip"]))[2] == ("user", "/xdg/data/pip/pip.conf")
    # Not a folder: pip falls back to ~/.config/pip, not to Application Support.
    support = "/Users/alice/Library/Application Support/pip"
    assert paths(macos({"XDG_DATA_HOME": "/xdg/data"}, dirs=[support]))[2] == ("user", "/Users/alice/.config/pip/pip.conf")


def test_macos_ignores_xdg_config_home_for_the_user_file():
    assert paths(macos({"XDG_CONFIG_HOME": "/xdg/config"}))[2] == ("user", "/Users/alice/.config/pip/pip.conf")


def test_macos_global_files_from_xdg_data_dirs():
    for environ, expected in [
        ({"XDG_DATA_DIRS": "/usr/local/share:/usr/share"}, ["/usr/local/share/pip/pip.conf", "/usr/share/pip/pip.conf"]),
        ({"XDG_DATA_DIRS": "relative:/opt/share"}, ["/opt/share/pip/pip.conf"]),
        ({"XDG_DATA_DIRS": ""}, ["/Library/Application Support/pip/pip.conf"]),
        ({"XDG_DATA_DIRS": "relative"}, ["/Library/Application Support/pip/pip.conf"]),
    ]:
        assert [path for variant, path in paths(macos(environ)) if variant == "global"] == expected


def test_macos_homebrew_prefix_adds_share_pip():
    for base_prefix, expected in [
        ("/opt/homebrew/opt/python@3.13/Frameworks/Python.framework/Versions/3.13", ["/opt/homebrew/share/pip/pip.conf", MAC_GLOBAL[1]]),
        ("/usr/local/opt/python@3.12/Frameworks/Python.framework/Versions/3.12", ["/usr/local/share/pip/pip.conf", MAC_GLOBAL[1]]),
        ("/opt/homebrew/opt/python3/Frameworks/Python.framework/Versions/3.11", ["/opt/homebrew/share/pip/pip.conf", MAC_GLOBAL[1]]),
        ("/Library/Frameworks/Python.framework/Versions/3.13", [MAC_GLOBAL[1]]),
        ("/opt/homebrew/Cellar/python@3.13/3.13.0/Frameworks/Python.framework/Versions/3.13", [MAC_GLOBAL[1]]),
        (None, [MAC_GLOBAL[1]]),
    ]:
        assert [path for variant, path in paths(macos(base_prefix=base_prefix)) if variant == "global"] == expected


def test_macos_xdg_data_dirs_win_over_homebrew():
    ctx = macos({"XDG_DATA_DIRS": "/d"}, base_prefix="/opt/homebrew/opt/python@3.13/Frameworks/Python.framework/Versions/3.13")
    assert [path for variant, path in paths(ctx) if variant == "global"] == ["/d/pip/pip.conf"]


WIN_FILES = [
    ("global", r"C:\ProgramData\pip\pip.ini"),
    ("user", r"C:\Users\Alice\pip\pip.ini"),
    ("user", r"C:\Users\Alice\AppData\Roaming\pip\pip.ini"),
    ("site", r"C:\Python313\pip.ini"),
]


def test_windows_config_files_in_pips_order():
    assert paths(windows()) == WIN_FILES


def test_windows_legacy_file_follows_homedrive_homepath_without_userprofile():
    ctx = HostContext(
        platform="win32",
        environ={"HOMEDRIVE": "D:", "HOMEPATH": r"\Users\Bob"},
        windows_folders=WIN_FOLDERS,
        sys_prefix=None,
        exists=lambda path: False,
    )
    assert paths(ctx)[1] == ("user", r"D:\Users\Bob\pip\pip.ini")
    assert [variant for variant, _path in paths(ctx)] == ["global", "user", "user"]


def test_no_site_file_without_a_prefix():
    assert [variant for variant, _path in paths(linux(sys_prefix=None))] == ["global", "global", "user", "user"]


def test_isolated_skips_user_files_and_environment():
    ctx = linux({"PIP_CACHE_DIR": "/from/env"}, files=["/home/alice/.config/pip/pip.conf"])
    assert paths(ctx, isolated=True) == [LINUX_FILES[0], LINUX_FILES[1], LINUX_FILES[4]]
    texts = {"/home/alice/.config/pip/pip.conf": "[global]\ncache-dir = /from/user\n"}
    result = resolved(ctx, texts, isolated=True)
    assert (result.cache_dir, result.source) == ("/home/alice/.cache/pip", "default")
    assert resolved(ctx, texts).cache_dir == "/from/env"


def test_exists_is_reported_per_file():
    ctx = linux(files=["/etc/pip.conf", "/opt/venv/pip.conf"])
    assert [item.exists for item in config_files(ctx)] == [False, True, False, False, True]
    assert config_files(ctx)[1].as_dict() == {"variant": "global", "path": "/etc/pip.conf", "exists": True}


# --- PIP_CONFIG_FILE ------------------------------------------------------------------------------


def test_pip_config_file_existing_replaces_user_files():
    ctx = linux({"PIP_CONFIG_FILE": "/srv/pip.conf"}, files=["/srv/pip.conf", "/home/alice/.config/pip/pip.conf"])
    assert paths(ctx) == [LINUX_FILES[0], LINUX_FILES[1], LINUX_FILES[4], ("env", "/srv/pip.conf")]
    texts = {"/srv/pip.conf": "[global]\ncache-dir = /from/env-file\n", "/home/alice/.config/pip/pip.conf": "[global]\ncache-dir = /from/user\n"}
    result = resolved(ctx, texts)
    assert result.cache_dir == "/from/env-file"
    assert result.setting.as_dict() == {"key": "cache-dir", "value": "/from/env-file", "origin": "/srv/pip.conf", "section": "global"}


def test_pip_config_file_missing_keeps_user_files():
    ctx = linux({"PIP_CONFIG_FILE": "/srv/missing.conf"}, files=["/home/alice/.config/pip/pip.conf"])
    assert paths(ctx) == [*LINUX_FILES, ("env", "/srv/missing.conf")]
    assert config_files(ctx)[-1].exists is False
    texts = {"/home/alice/.config/pip/pip.conf": "[global]\ncache-dir = /from/user\n"}
    assert resolved(ctx, texts).cache_dir == "/from/user"


def test_pip_config_file_empty_keeps_user_files():
    ctx = linux({"PIP_CONFIG_FILE": ""})
    assert paths(ctx) == [*LINUX_FILES, ("env", "")]
    assert config_files(ctx)[-1].exists is False


def test_pip_config_file_relative_is_taken_from_the_working_directory():
    ctx = linux({"PIP_CONFIG_FILE": "conf/pip.conf"}, files=["/work/conf/pip.conf"], cwd="/work")
    assert paths(ctx)[-1] == ("env", "conf/pip.conf")
    assert [variant for variant, _path in paths(ctx)] == ["global", "global", "site", "env"]
    config, reads = loaded(ctx, {"/work/conf/pip.conf": "[cache]\ncache-dir = rel-cache\n"})
    assert "/work/conf/pip.conf" in reads
    result = resolve(ctx, config=config)
    assert (result.cache_dir, result.source) == ("/work/rel-cache", "config")


def test_pip_config_file_devnull_skips_every_file_posix():
    for make in [linux, macos]:
        user = "/home/alice/.config/pip/pip.conf" if make is linux else "/Users/alice/.config/pip/pip.conf"
        ctx = make({"PIP_CONFIG_FILE": "/dev/null", "PIP_CACHE_DIR": "/from/env"}, files=["/dev/null", user, "/etc/pip.conf"])
        config, reads = loaded(ctx, {user: "[global]\nno-cache-dir = yes\n", "/etc/pip.conf": "[global]\nno-cache-dir = yes\n"})
        assert reads == []
        assert config.skipped_all_files is True
        assert config.values == [("environment", {":env:.config-file": "/dev/null", ":env:.cache-dir": "/from/env"})]
        result = resolve(ctx, config=config)
        assert (result.cache_dir, result.source, result.disabled) == ("/from/env", "env", False)


def test_pip_config_file_devnull_on_windows_is_nul():
    user = r"C:\Users\Alice\AppData\Roaming\pip\pip.ini"
    texts = {user: "[global]\ncache-dir = D:\\FromUser\n"}
    ctx = windows({"PIP_CONFIG_FILE": "nul"}, files=[user, r"C:\work\nul"])
    config, reads = loaded(ctx, texts)
    assert (config.skipped_all_files, reads) == (True, [])
    assert resolve(ctx, config=config).cache_dir == r"c:\users\alice\appdata\local\pip\cache"
    # /dev/null means nothing special to pip on Windows: a missing file, the user file still counts.
    ctx = windows({"PIP_CONFIG_FILE": "/dev/null"}, files=[user])
    config, reads = loaded(ctx, texts)
    assert config.skipped_all_files is False
    assert resolve(ctx, config=config).cache_dir == r"d:\fromuser"


def test_pip_config_file_naming_a_global_file_keeps_its_first_position():
    # pip keys loaded files by name: the env variant's copy of /etc/pip.conf stays where the global one was,
    # so the site file, loaded later, overrides it.
    ctx = linux({"PIP_CONFIG_FILE": "/etc/pip.conf"}, files=["/etc/pip.conf", "/opt/venv/pip.conf"])
    texts = {"/etc/pip.conf": "[global]\ncache-dir = /from/etc\n", "/opt/venv/pip.conf": "[global]\ncache-dir = /from/site\n"}
    config, _reads = loaded(ctx, texts)
    assert [origin for origin, _values in config.values] == ["/etc/xdg/pip/pip.conf", "/etc/pip.conf", "/opt/venv/pip.conf", "environment"]
    assert resolve(ctx, config=config).cache_dir == "/from/site"


# --- settings: sections, override order, booleans -------------------------------------------------

USER = "/home/alice/.config/pip/pip.conf"
LEGACY = "/home/alice/.pip/pip.conf"
GLOBAL = "/etc/pip.conf"
SITE = "/opt/venv/pip.conf"


def ctx_with(texts, environ=None, **kwargs):
    return linux(environ, files=list(texts), **kwargs)


def test_cache_dir_setting_order():
    for texts, environ, command, expected, source in [
        ({GLOBAL: "[global]\ncache-dir = /g\n"}, {}, "cache", "/g", "config"),
        ({GLOBAL: "[global]\ncache-dir = /g\n", USER: "[global]\ncache-dir = /u\n"}, {}, "cache", "/u", "config"),
        ({LEGACY: "[global]\ncache-dir = /legacy\n", USER: "[global]\ncache-dir = /new\n"}, {}, "cache", "/new", "config"),
        ({USER: "[global]\ncache-dir = /u\n", SITE: "[global]\ncache-dir = /s\n"}, {}, "cache", "/s", "config"),
        ({USER: "[global]\ncache-dir = /u\n"}, {"PIP_CACHE_DIR": "/e"}, "cache", "/e", "env"),
        ({USER: "[global]\ncache-dir = /u\n"}, {"PIP_CACHE_DIR": ""}, "cache", "/u", "config"),
        ({USER: "[install]\ncache-dir = /inst\n"}, {}, "cache", "/home/alice/.cache/pip", "default"),
        ({USER: "[install]\ncache-dir = /inst\n"}, {}, "install", "/inst", "config"),
        ({USER: "[install]\ncache-dir = /inst\n"}, {}, "download", "/home/alice/.cache/pip", "default"),
        ({USER: "[global]\ncache-dir = /g\n[cache]\ncache-dir = /c\n"}, {}, "cache", "/c", "config"),
        ({USER: "[global]\ncache-dir = /g\n[cache]\ncache-dir = /c\n"}, {}, "install", "/g", "config"),
        # The command's section beats [global] even from a lower file.
        ({GLOBAL: "[cache]\ncache-dir = /c\n", USER: "[global]\ncache-dir = /g\n"}, {}, "cache", "/c", "config"),
        # The environment beats every section.
        ({USER: "[cache]\ncache-dir = /c\n"}, {"PIP_CACHE_DIR": "/e"}, "cache", "/e", "env"),
        # Keys are normalised: underscores, leading dashes, case.
        ({USER: "[global]\ncache_dir = /underscores\n"}, {}, "cache", "/underscores", "config"),
        ({USER: "[global]\n--cache-dir = /dashes\n"}, {}, "cache", "/dashes", "config"),
        ({USER: "[global]\nCACHE-DIR = /upper\n"}, {}, "cache", "/upper", "config"),
        # Values: ~ expanded, relative joined to the working directory, normalised.
        ({USER: "[global]\ncache-dir = ~/from-user\n"}, {}, "cache", "/home/alice/from-user", "config"),
        ({USER: "[global]\ncache-dir = rel/cache\n"}, {}, "cache", "/work/rel/cache", "config"),
        ({USER: "[global]\ncache-dir = /a/./b/../c//\n"}, {}, "cache", "/a/c", "config"),
        # An empty value in a higher file overrides the lower one, then counts as unset.
        ({GLOBAL: "[global]\ncache-dir = /g\n", USER: "[global]\ncache-dir =\n"}, {}, "cache", "/home/alice/.cache/pip", "default"),
        ({GLOBAL: "[global]\ncache-dir = /g\n[cache]\ncache-dir = /c\n", USER: "[cache]\ncache-dir =\n"}, {}, "cache", "/g", "config"),
    ]:
        result = resolved(ctx_with(texts, environ), texts, command=command)
        assert (result.cache_dir, result.source, result.disabled) == (expected, source, False), (texts, environ, command)


def test_setting_records_where_it_came_from():
    texts = {GLOBAL: "[global]\ncache-dir = /g\n", USER: "[cache]\ncache-dir = /c\n"}
    result = resolved(ctx_with(texts), texts)
    assert result.setting.as_dict() == {"key": "cache-dir", "value": "/c", "origin": USER, "section": "cache"}
    env = resolved(ctx_with({}, {"PIP_CACHE_DIR": "/e"}), {})
    assert env.setting.as_dict() == {"key": "cache-dir", "value": "/e", "origin": "environment", "section": "PIP_CACHE_DIR"}
    as_dict = env.as_dict()
    assert as_dict["cache_dir"] == "/e"
    assert as_dict["source"] == "env"
    assert [item["path"] for item in as_dict["config_files"]] == [path for _variant, path in LINUX_FILES]


def test_no_cache_dir_any_boolean_disables():
    for value in ["true", "yes", "1", "on", "false", "0", "no", "off", "True", "Y"]:
        texts = {USER: f"[global]\nno-cache-dir = {value}\n"}
        result = resolved(ctx_with(texts, {"PIP_CACHE_DIR": "/e"}), texts)
        assert (result.cache_dir, result.disabled, result.source) == (None, True, "disabled")
        assert result.disabled_by.value == value
        assert USER in result.disabled_reason


def test_no_cache_dir_empty_is_ignored():
    texts = {USER: "[global]\nno-cache-dir =\n"}
    result = resolved(ctx_with(texts), texts)
    assert (result.cache_dir, result.disabled) == ("/home/alice/.cache/pip", False)


def test_no_cache_dir_empty_overrides_a_lower_file():
    texts = {GLOBAL: "[global]\nno-cache-dir = yes\n", USER: "[global]\nno-cache-dir =\n"}
    result = resolved(ctx_with(texts), texts)
    assert (result.cache_dir, result.disabled) == ("/home/alice/.cache/pip", False)
    # Without the user file's empty value the global one disables the cache.
    only_global = {GLOBAL: texts[GLOBAL]}
    assert resolved(ctx_with(only_global), only_global).disabled is True


def test_no_cache_dir_in_another_commands_section_does_not_count():
    texts = {USER: "[install]\nno-cache-dir = yes\n"}
    assert resolved(ctx_with(texts), texts).disabled is False
    assert resolved(ctx_with(texts), texts, command="install").disabled is True


def test_no_cache_dir_with_underscores_and_from_environment():
    texts = {USER: "[global]\nno_cache_dir = on\n"}
    assert resolved(ctx_with(texts), texts).disabled is True
    result = resolved(ctx_with({}, {"PIP_NO_CACHE_DIR": "1"}), {})
    assert result.disabled is True
    assert result.disabled_by.as_dict() == {"key": "no-cache-dir", "value": "1", "origin": "environment", "section": "PIP_NO_CACHE_DIR"}
    assert "PIP_NO_CACHE_DIR" in result.disabled_reason
    assert resolved(ctx_with({}, {"PIP_NO_CACHE_DIR": ""}), {}).disabled is False


def test_no_cache_dir_invalid_is_a_config_error():
    for texts, environ, where in [
        ({USER: "[global]\nno-cache-dir = maybe\n"}, {}, USER),
        ({USER: "[cache]\nno-cache-dir = 2\n"}, {}, USER),
        ({}, {"PIP_NO_CACHE_DIR": "maybe"}, "PIP_NO_CACHE_DIR"),
    ]:
        with pytest.raises(ConfigError) as caught:
            resolved(ctx_with(texts, environ), texts)
        assert where in str(caught.value)
        assert "no-cache-dir" in str(caught.value)


def test_invalid_no_cache_dir_in_a_section_pip_does_not_read_is_ignored():
    texts = {USER: "[install]\nno-cache-dir = maybe\n"}
    assert resolved(ctx_with(texts), texts).disabled is False


def test_options_act_as_pips_command_line():
    texts = {USER: "[global]\nno-cache-dir = yes\ncache-dir = /u\n"}
    ctx = ctx_with(texts)
    result = resolved(ctx, texts, cache_dir="~/opt-cache")
    assert (result.cache_dir, result.source, result.disabled) == ("/home/alice/opt-cache", "option", False)
    assert result.setting.origin == "option"
    result = resolved(ctx_with({}), {}, no_cache_dir=True)
    assert (result.cache_dir, result.disabled, result.disabled_reason) == (None, True, "the no_cache_dir option")


def test_windows_lowercase_environment_variable_counts():
    result = resolved(windows({"pip_cache_dir": "D:/Team/PipCache"}), {})
    assert (result.cache_dir, result.source) == (r"d:\team\pipcache", "env")
    assert resolved(windows({"Pip_No_Cache_Dir": "yes"}), {}).disabled is True


def test_posix_lowercase_environment_variable_does_not_count():
    result = resolved(linux({"pip_cache_dir": "/team"}), {})
    assert (result.cache_dir, result.source) == ("/home/alice/.cache/pip", "default")


def test_windows_config_value_is_expanded_and_lowercased():
    user = r"C:\Users\Alice\AppData\Roaming\pip\pip.ini"
    texts = {user: "[global]\ncache-dir = ~\\PipCache\\Mixed\n"}
    assert resolved(windows(files=[user]), texts).cache_dir == r"c:\users\alice\pipcache\mixed"
    texts = {user: "[global]\ncache-dir = Relative\\Cache\n"}
    assert resolved(windows(files=[user]), texts).cache_dir == r"c:\work\relative\cache"


def test_unreadable_config_text_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        read_config_text("cache-dir = /x\n", origin="/etc/pip.conf")
    assert caught.value.path == "/etc/pip.conf"
    texts = {USER: "no section header\n"}
    with pytest.raises(ConfigError):
        loaded(ctx_with(texts), texts)


def test_read_config_text_normalises_keys():
    assert read_config_text("[Global]\nCache_Dir = /x\n[install]\n--No-Cache-Dir = 1\n", origin="f") == {
        "Global.cache-dir": "/x",
        "install.no-cache-dir": "1",
    }


def test_missing_files_are_not_read_and_existing_are():
    texts = {USER: "[global]\ncache-dir = /u\n"}
    _config, reads = loaded(ctx_with(texts), texts)
    assert reads == [USER]


def test_default_reader_reads_real_files(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\ncache-dir = /from-disk\n", encoding="utf-8")
    folder = tmp_path / "dir.conf"
    folder.mkdir()

    def host(config_file):
        # Only files under tmp_path exist for this host: the machine's own pip files stay out of it.
        return HostContext(
            platform="linux",
            environ={"HOME": str(tmp_path), "PIP_CONFIG_FILE": str(config_file)},
            sys_prefix=None,
            cwd=str(tmp_path),
            exists=lambda path: path.startswith(str(tmp_path)) and os.path.exists(path),
        )

    result = resolve(host(conf))
    assert (result.cache_dir, result.source) == ("/from-disk", "config")
    assert result.setting.origin == str(conf)
    with pytest.raises(ConfigError, match="directory"):
        resolve(host(folder))


# --- path helpers ---------------------------------------------------------------------------------


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


def test_normalize_path_per_platform():
    assert normalize_path(linux(), "~/a/../B") == "/home/alice/B"
    assert normalize_path(linux(cwd="/srv"), "rel") == "/srv/rel"
    assert normalize_path(windows(), "~/A/../B") == r"c:\users\alice\b"
    assert normalize_path(windows(cwd=r"D:\Work"), r"Rel\X") == r"d:\work\rel\x"


def test_live_normalize_path_resolves_links(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    ctx = HostContext(platform="linux", environ={"HOME": str(tmp_path)}, cwd=str(tmp_path), live=True)
    assert normalize_path(ctx, "link") == os.path.realpath(str(real))


# --- disabled by pip's ownership check ------------------------------------------------------------

STRANGER = 4242  # a uid that owns nothing here: every folder of tmp_path is someone else's to it


@pytest.mark.parametrize(
    "how, expected_source",
    [("option", "option"), ("env", "env"), ("config", "config"), ("default", "default")],
)
def test_ownership_check_disables_and_says_so(tmp_path, how, expected_source):
    """A folder that is not the user's disables the cache, as no-cache-dir does: source says disabled, the reason names
    the ownership check, and configured_source keeps where the refused folder came from."""
    if hasattr(os, "geteuid") and os.geteuid() == STRANGER:
        pytest.skip(f"this test runs as uid {STRANGER}")
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o755)
    environ = {"HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    texts = {}
    if how == "env":
        environ["PIP_CACHE_DIR"] = str(folder)
    if how == "config":
        texts[str(tmp_path / "config" / "pip" / "pip.conf")] = f"[global]\ncache-dir = {folder}\n"
    ctx = HostContext(platform="linux", environ=environ, uid=STRANGER, gids=(STRANGER,), cwd=str(tmp_path), live=True, exists=lambda path: path in texts)
    config, _reads = loaded(ctx, texts)
    result = resolve(ctx, config=config, cache_dir=str(folder) if how == "option" else None)
    expected_dir = str(tmp_path / "xdg" / "pip") if how == "default" else str(folder)
    assert (result.cache_dir, result.disabled, result.owner_ok) == (None, True, False)
    assert (result.source, result.configured_source, result.configured_dir) == ("disabled", expected_source, os.path.realpath(expected_dir))
    assert "not owned or is not writable by the user" in result.disabled_reason
    # The advice fits the cause: 'sudo pip' left the default folder to root; a chosen folder is the wrong place.
    advice = {"option": "chosen by the option", "env": "chosen by the environment", "config": "chosen by the configuration", "default": "after 'sudo pip'"}
    assert advice[how] in result.disabled_reason and (("sudo pip" in result.disabled_reason) == (how == "default")), result.disabled_reason
    as_dict = result.as_dict()
    assert (as_dict["source"], as_dict["configured_source"]) == ("disabled", expected_source)
    assert type(result).from_data(result.to_data()) == result
    # The user's own folder: the same setting is used as it is.
    mine = HostContext(platform="linux", environ=environ, uid=os.geteuid(), cwd=str(tmp_path), live=True, exists=lambda path: path in texts)
    kept = resolve(mine, config=loaded(mine, texts)[0], cache_dir=str(folder) if how == "option" else None)
    assert (kept.disabled, kept.source, kept.configured_source) == (False, expected_source, expected_source)


def test_configured_source_is_null_when_no_cache_dir_disables():
    texts = {USER: "[global]\nno-cache-dir = true\n"}
    result = resolved(ctx_with(texts, {"PIP_CACHE_DIR": "/e"}), texts)
    assert (result.source, result.configured_source, result.configured_dir) == ("disabled", None, None)
