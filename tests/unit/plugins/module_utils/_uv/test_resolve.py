# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where uv's cache is and why: uv's rules for Linux, macOS and Windows, per uv version, and the TOML reader.

Every host fact is an input (UvHost with live=False, files from a dict), so each platform's rules run here. Expected
values come from uv's source (crates/uv/src/lib.rs, uv-cache/src/cli.rs, uv-dirs, uv-settings of the tags named by
each rule) and from real uv 0.4.30/0.9.21/0.13.10 (tests/oracle/test_uv_resolve_parity.py runs them).
"""

from __future__ import annotations

import datetime
import errno
import json
import math
import os
import threading

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import ConfigError, InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._uv import config
from ansible_collections.fleet.cache.plugins.module_utils._uv.config import (
    CONFIG_MAX_BYTES,
    TomlError,
    UnreadableFile,
    default_reader,
    parse_toml,
    read_toml,
)
from ansible_collections.fleet.cache.plugins.module_utils._uv.host import NEWEST_UV, UvHost, parse_boolish
from ansible_collections.fleet.cache.plugins.module_utils._uv.resolve import UvResolution, resolve

try:
    import tomllib
except ImportError:  # Python < 3.11: the reader is still checked against the expected values below
    tomllib = None  # type: ignore[assignment]

V0_4 = (0, 4, 30)
V0_9 = (0, 9, 21)
V0_12 = (0, 12, 5)
V0_13 = (0, 13, 10)
ORACLE_VERSIONS = (V0_4, V0_9, V0_13)

USER = "/home/alice/.config/uv/uv.toml"
XDG_SYSTEM = "/etc/xdg/uv/uv.toml"
ETC = "/etc/uv/uv.toml"


# --- hosts ----------------------------------------------------------------------------------------------------------


def _host(platform, environ, *, files, dirs, home, cwd, folders=None):
    """A host whose files are ``files`` (path -> text, or an OSError the read raises) and whose folders are ``dirs``,
    the working folder and every parent of a file or folder named."""
    import ntpath
    import posixpath

    module = ntpath if platform == "win32" else posixpath
    texts = dict(files)
    folders_present = set()
    for path in list(texts) + list(dirs) + [cwd]:
        folder = path if path in dirs or path == cwd else module.dirname(path)
        while True:
            folders_present.add(folder)
            parent = module.dirname(folder)
            if parent == folder:
                break
            folder = parent
    reads = []

    def reader(path):
        reads.append(path)
        if path in folders_present and path not in texts:
            raise IsADirectoryError(errno.EISDIR, "Is a directory")
        if path not in texts:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        value = texts[path]
        if isinstance(value, BaseException):
            raise value
        return value

    host = UvHost(
        platform=platform,
        environ=environ,
        home=home,
        cwd=cwd,
        windows_folders=folders or {},
        isdir=lambda path: path in folders_present,
        exists=lambda path: path in texts or path in folders_present,
        live=False,
    )
    return host, reader, reads


def linux(environ=None, *, files=None, dirs=(), home="/home/alice", passwd_home="same", cwd="/work", platform="linux"):
    env = {"HOME": home} if home is not None else {}
    env.update(environ or {})
    return _host(platform, env, files=files or {}, dirs=dirs, home=home if passwd_home == "same" else passwd_home, cwd=cwd)


def macos(environ=None, *, files=None, dirs=(), cwd="/Users/alice"):
    return linux(environ, files=files, dirs=dirs, home="/Users/alice", cwd=cwd, platform="darwin")


WIN_FOLDERS = {"LOCAL_APPDATA": r"C:\Users\Alice\AppData\Local", "APPDATA": r"C:\Users\Alice\AppData\Roaming"}
WIN_ENV = {
    "USERPROFILE": r"C:\Users\Alice",
    "LOCALAPPDATA": r"C:\Users\Alice\AppData\Local",
    "APPDATA": r"C:\Users\Alice\AppData\Roaming",
    "SYSTEMDRIVE": "C:",
}


def windows(environ=None, *, files=None, dirs=(), folders=None, cwd=r"C:\work", base=True):
    env = dict(WIN_ENV) if base else {}
    env.update(environ or {})
    return _host("win32", env, files=files or {}, dirs=dirs, home=r"C:\Users\Alice", cwd=cwd, folders=WIN_FOLDERS if folders is None else folders)


def run(made, **kwargs):
    host, reader, _reads = made
    return resolve(host, reader=reader, **kwargs)


def where(made, **kwargs):
    result = run(made, **kwargs)
    return result.uv_cache_dir, result.source


# --- Boolish ------------------------------------------------------------------------------------------------------


def test_boolish_is_clap_boolish():
    for word in ("true", "TRUE", "1", "yes", "Yes", "on", "y", "t"):
        assert parse_boolish(word) is True, word
    for word in ("false", "0", "no", "OFF", "n", "f"):
        assert parse_boolish(word) is False, word
    for word in ("", " 1", "2", "bogus", "enable", "truee"):
        assert parse_boolish(word) is None, word


# --- default folders: Linux -------------------------------------------------------------------------------------------


def test_linux_default_and_xdg_cache_home():
    for environ, expected, source in [
        ({}, "/home/alice/.cache/uv", "default"),
        ({"XDG_CACHE_HOME": "/x"}, "/x/uv", "XDG_CACHE_HOME"),
        ({"XDG_CACHE_HOME": "/x/"}, "/x/uv", "XDG_CACHE_HOME"),
        ({"XDG_CACHE_HOME": "/x//"}, "/x//uv", "XDG_CACHE_HOME"),
        ({"XDG_CACHE_HOME": "/x "}, "/x /uv", "XDG_CACHE_HOME"),  # not stripped
        ({"XDG_CACHE_HOME": ""}, "/home/alice/.cache/uv", "default"),
        ({"XDG_CACHE_HOME": "   "}, "/home/alice/.cache/uv", "default"),
        ({"XDG_CACHE_HOME": " /x"}, "/home/alice/.cache/uv", "default"),  # not absolute
        ({"XDG_CACHE_HOME": "rel/cache"}, "/home/alice/.cache/uv", "default"),
        ({"XDG_CACHE_HOME": "~/c"}, "/home/alice/.cache/uv", "default"),
    ]:
        for version in ORACLE_VERSIONS:
            assert where(linux(environ), version=version) == (expected, source), (environ, version)


def test_linux_home_rules():
    # HOME verbatim, even relative (then relative to the working folder); unset or empty: the account's home.
    result = run(linux(home="relhome"))
    assert (result.uv_cache_dir, result.cache_dir) == ("relhome/.cache/uv", "/work/relhome/.cache/uv")
    assert any("relative" in warning for warning in result.warnings)
    assert where(linux(home="/")) == ("/.cache/uv", "default")
    assert where(linux(home="/home/alice/")) == ("/home/alice/.cache/uv", "default")
    assert where(linux({"HOME": ""}, home=None, passwd_home="/root")) == ("/root/.cache/uv", "default")
    assert where(linux(home=None, passwd_home="/root")) == ("/root/.cache/uv", "default")
    # No home at all: Xdg::new fails, XDG_CACHE_HOME included, and uv falls back to .uv_cache in its folder.
    result = run(linux({"XDG_CACHE_HOME": "/x"}, home=None, passwd_home=None))
    assert (result.uv_cache_dir, result.cache_dir, result.source) == (".uv_cache", "/work/.uv_cache", "no home folder (.uv_cache)")


def test_tilde_and_variables_are_not_expanded():
    for variable, value in [("UV_CACHE_DIR", "~/x"), ("UV_CACHE_DIR", "$HOME/x"), ("UV_CACHE_DIR", "~")]:
        result = run(linux({variable: value}))
        assert result.uv_cache_dir == value
        assert result.cache_dir == "/work/" + value
        assert any("expands neither" in warning for warning in result.warnings)


def test_values_are_verbatim():
    for value, shown, absolute in [
        ("/e", "/e", "/e"),
        ("/e/", "/e/", "/e/"),
        ("/a/../b", "/a/../b", "/a/../b"),
        ("rel", "rel", "/work/rel"),
        ("rel/c/", "rel/c/", "/work/rel/c/"),
        ("..", "..", "/work/.."),
        ("./c", "./c", "/work/./c"),
    ]:
        result = run(linux({"UV_CACHE_DIR": value}), version=V0_9)
        assert (result.uv_cache_dir, result.cache_dir, result.source) == (shown, absolute, "UV_CACHE_DIR"), value
    assert not run(linux({"UV_CACHE_DIR": "/e"})).warnings
    assert run(linux({"UV_CACHE_DIR": "rel"})).warnings == [
        "the cache folder (UV_CACHE_DIR) is a relative path: uv takes it relative to its working folder /work"
    ]


# --- default folders: macOS --------------------------------------------------------------------------------------------


def test_macos_legacy_folder_when_it_exists():
    legacy = "/Users/alice/Library/Caches/uv"
    for version in ORACLE_VERSIONS:
        assert where(macos(), version=version) == ("/Users/alice/.cache/uv", "default")
        assert where(macos(dirs=[legacy]), version=version) == (legacy, "legacy default")
        # The legacy folder beats XDG_CACHE_HOME; without it XDG_CACHE_HOME counts, as on Linux.
        assert where(macos({"XDG_CACHE_HOME": "/x"}, dirs=[legacy]), version=version) == (legacy, "legacy default")
        assert where(macos({"XDG_CACHE_HOME": "/x"}), version=version) == ("/x/uv", "XDG_CACHE_HOME")
        # A set folder beats the legacy one.
        assert where(macos({"UV_CACHE_DIR": "/e"}, dirs=[legacy]), version=version) == ("/e", "UV_CACHE_DIR")
    # The user file is XDG's on macOS too (not ~/Library/Preferences).
    made = macos(files={"/Users/alice/.config/uv/uv.toml": 'cache-dir = "/u"\n'})
    assert where(made) == ("/u", "cache-dir in /Users/alice/.config/uv/uv.toml (user)")


def test_linux_has_no_legacy_rule():
    host, _reader, _reads = linux(dirs=["/home/alice/Library/Caches/uv"])
    assert host.legacy_cache_dir() is None
    assert where(linux(dirs=["/home/alice/Library/Caches/uv"])) == ("/home/alice/.cache/uv", "default")


# --- default folders: Windows ------------------------------------------------------------------------------------------


def test_windows_local_appdata_and_fallbacks():
    assert where(windows()) == (r"C:\Users\Alice\AppData\Local\uv\cache", "LOCALAPPDATA")
    # Variable names are case-insensitive on Windows.
    assert where(windows({"localappdata": r"D:\L"}, base=False, folders={})) == (r"D:\L\uv\cache", "LOCALAPPDATA")
    assert where(windows({"USERPROFILE": r"C:\Users\Alice", "LocalAppData": r"D:\L"}, base=False)) == (r"D:\L\uv\cache", "LOCALAPPDATA")
    # Empty or unset: the LocalAppData known folder, else the profile's AppData\Local.
    assert where(windows({"LOCALAPPDATA": ""}, folders={"LOCAL_APPDATA": r"E:\Known"})) == (r"E:\Known\uv\cache", "default")
    assert where(windows({"USERPROFILE": r"C:\Users\Bob"}, base=False, folders={})) == (r"C:\Users\Bob\AppData\Local\uv\cache", "default")
    assert where(windows({}, base=False, folders={})) == (r"C:\Users\Alice\AppData\Local\uv\cache", "default")
    # A relative LOCALAPPDATA is taken as it is (etcetera checks only that it is not empty).
    result = run(windows({"LOCALAPPDATA": "rel"}))
    assert (result.uv_cache_dir, result.cache_dir) == (r"rel\uv\cache", r"C:\work\rel\uv\cache")
    # XDG variables mean nothing on Windows.
    assert where(windows({"XDG_CACHE_HOME": r"C:\x"})) == (r"C:\Users\Alice\AppData\Local\uv\cache", "LOCALAPPDATA")


def test_windows_legacy_known_folder_before_0_5():
    known = r"C:\Users\Alice\AppData\Local\uv\cache"
    made = windows({"LOCALAPPDATA": r"D:\Elsewhere"}, dirs=[known])
    assert where(made, version=V0_4) == (known, "legacy default")  # the directories crate read the known folder
    assert where(made, version=(0, 5, 0)) == (r"D:\Elsewhere\uv\cache", "LOCALAPPDATA")
    assert where(windows({"LOCALAPPDATA": r"D:\Elsewhere"}), version=V0_4) == (r"D:\Elsewhere\uv\cache", "LOCALAPPDATA")


def test_windows_paths_use_ntpath_rules():
    result = run(windows({"UV_CACHE_DIR": r"rel\c"}))
    assert (result.uv_cache_dir, result.cache_dir) == (r"rel\c", r"C:\work\rel\c")
    result = run(windows({"uv_cache_dir": r"\\server\share\c"}))
    assert (result.uv_cache_dir, result.cache_dir) == (r"\\server\share\c", r"\\server\share\c")
    # uv prints paths without the \\?\ prefix (dunce::simplified).
    assert where(windows({"UV_CACHE_DIR": "\\\\?\\D:\\c"})) == ("D:\\c", "UV_CACHE_DIR")
    assert where(windows({"UV_CACHE_DIR": "\\\\?\\UNC\\srv\\sh\\c"})) == ("\\\\srv\\sh\\c", "UV_CACHE_DIR")


def test_windows_config_files():
    user = r"C:\Users\Alice\AppData\Roaming\uv\uv.toml"
    system = r"C:\ProgramData\uv\uv.toml"
    made = windows(files={user: 'cache-dir = "D:\\\\u"\n', system: 'cache-dir = "D:\\\\s"\n'})
    assert where(made) == ("D:\\u", f"cache-dir in {user} (user)")
    result = run(windows(files={system: "cache-dir = 'D:\\s'\n"}))
    assert (result.uv_cache_dir, result.source) == ("D:\\s", f"cache-dir in {system} (system)")
    # %SYSTEMDRIVE%, not %PROGRAMDATA%; none without SYSTEMDRIVE; before 0.5.6 the drive-relative C:ProgramData.
    assert where(windows({"SYSTEMDRIVE": "D:", "PROGRAMDATA": r"C:\ProgramData"}, files={system: "cache-dir = 'x'\n"}))[1] == "LOCALAPPDATA"
    host, _reader, _reads = windows({"SYSTEMDRIVE": "D:"})
    assert host.system_config_candidates() == [r"D:\ProgramData\uv\uv.toml"]
    assert host.system_config_candidates((0, 5, 5)) == [r"D:ProgramData\uv\uv.toml"]
    assert windows({}, base=False)[0].system_config_candidates() == []
    relative = r"C:\work\ProgramData\uv\uv.toml"  # C:ProgramData from the working folder C:\work
    assert where(windows(files={relative: "cache-dir = 'R:\\x'\n"}), version=V0_4)[0] == "R:\\x"
    assert where(windows(files={relative: "cache-dir = 'R:\\x'\n"}), version=(0, 5, 6))[0] == r"C:\Users\Alice\AppData\Local\uv\cache"
    # The user file: %APPDATA% (0.5.0+), the RoamingAppData known folder only before.
    made = windows({"APPDATA": r"D:\Roam"}, files={r"D:\Roam\uv\uv.toml": "cache-dir = 'D:\\env'\n", user: "cache-dir = 'D:\\known'\n"})
    assert where(made)[0] == "D:\\env"
    assert where(made, version=V0_4)[0] == "D:\\known"
    assert windows({"APPDATA": ""})[0].user_config_file() == user
    assert windows({}, base=False, folders={})[0].user_config_file() == user
    assert windows({}, base=False, folders={})[0].user_config_file(V0_4) is None


def test_windows_project_config_and_case_insensitive_inside_check():
    made = windows(files={r"C:\work\uv.toml": "cache-dir = 'c'\n"})
    result = run(made)
    assert (result.uv_cache_dir, result.cache_dir) == ("c", r"C:\work\c")
    with pytest.raises(ConfigError, match="inside its cache folder"):
        run(windows({"UV_CACHE_DIR": r"c:\WORK"}))


# --- what decides: option, variables, files ----------------------------------------------------------------------------


def test_precedence():
    project = "/work/uv.toml"
    system = XDG_SYSTEM
    everything = {project: 'cache-dir = "/p"\n', USER: 'cache-dir = "/u"\n', system: 'cache-dir = "/s"\n'}
    for files, environ, kwargs, expected, source in [
        (everything, {"UV_CACHE_DIR": "/e"}, {"cache_dir": "/o"}, "/o", "cache_dir option"),
        (everything, {"UV_CACHE_DIR": "/e"}, {}, "/e", "UV_CACHE_DIR"),
        (everything, {}, {}, "/p", f"cache-dir in {project} (project)"),
        ({USER: 'cache-dir = "/u"\n', system: 'cache-dir = "/s"\n'}, {}, {}, "/u", f"cache-dir in {USER} (user)"),
        ({system: 'cache-dir = "/s"\n'}, {}, {}, "/s", f"cache-dir in {system} (system)"),
        ({system: 'cache-dir = "/s"\n'}, {"XDG_CACHE_HOME": "/x"}, {}, "/s", f"cache-dir in {system} (system)"),
        ({}, {"XDG_CACHE_HOME": "/x"}, {}, "/x/uv", "XDG_CACHE_HOME"),
        # An option given, the variable is not read at all: an empty one is no error then.
        ({}, {"UV_CACHE_DIR": ""}, {"cache_dir": "/o"}, "/o", "cache_dir option"),
    ]:
        for version in ORACLE_VERSIONS:
            assert where(linux(environ, files=files), version=version, **kwargs) == (expected, source), (files, environ, kwargs)


def test_no_cache_beats_everything():
    for environ in ({"UV_NO_CACHE": "1"}, {"UV_NO_CACHE": "true"}, {"UV_NO_CACHE": "YES"}, {"UV_NO_CACHE": "on"}):
        result = run(linux(dict(environ, UV_CACHE_DIR="/e"), files={USER: 'cache-dir = "/u"\n'}), cache_dir="/o")
        assert (result.uv_cache_dir, result.cache_dir, result.disabled, result.source) == (None, None, True, "UV_NO_CACHE")
        assert result.disabled_reason.startswith("UV_NO_CACHE=")
    for value in ("0", "false", "no", "off"):
        assert not run(linux({"UV_NO_CACHE": value})).disabled
    # A file's no-cache = true beats the option and the variables; UV_NO_CACHE=0 does not turn it off before uv 0.13.
    made = linux({"UV_NO_CACHE": "0", "UV_CACHE_DIR": "/e"}, files={USER: "no-cache = true\n"})
    for version in (V0_4, V0_9, V0_12):
        result = run(made, cache_dir="/o", version=version)
        assert (result.disabled, result.source) == (True, f"no-cache in {USER} (user)")
        assert result.disabled_reason == f"no-cache = true in {USER} (user): uv works in a temporary folder it removes at exit"
    for version in ((0, 13, 0), V0_13):
        assert where(made, cache_dir="/o", version=version) == ("/o", "cache_dir option")
        assert where(linux({"UV_NO_CACHE": "false"}, files={"/work/uv.toml": "no-cache = true\n"}), version=version)[1] == "default"
    assert run(linux(files={USER: "no-cache = true\n"}), cache_dir="/o").disabled
    # Each setting merges on its own: the project's cache-dir and the user's no-cache give no cache.
    made = linux(files={"/work/uv.toml": 'cache-dir = "/p"\n', USER: "no-cache = true\n"})
    assert run(made).disabled
    # The first file that sets no-cache decides: a project's false beats a user's true.
    made = linux(files={"/work/uv.toml": "no-cache = false\n", USER: "no-cache = true\n", XDG_SYSTEM: "no-cache = true\n"})
    assert not run(made).disabled
    assert where(linux(files={USER: 'no-cache = false\ncache-dir = "/c"\n'})) == ("/c", f"cache-dir in {USER} (user)")


def test_variable_errors_name_the_variable():
    for environ, pattern in [
        ({"UV_CACHE_DIR": ""}, "UV_CACHE_DIR"),
        ({"UV_NO_CACHE": ""}, "UV_NO_CACHE"),
        ({"UV_NO_CACHE": "bogus"}, "UV_NO_CACHE='bogus'"),
        ({"UV_CONFIG_FILE": ""}, "UV_CONFIG_FILE"),
        ({"UV_NO_CONFIG": "maybe"}, "UV_NO_CONFIG='maybe'"),
        ({"UV_NO_CONFIG": ""}, "UV_NO_CONFIG"),
    ]:
        for version in ORACLE_VERSIONS:
            with pytest.raises(ConfigError, match=pattern):
                run(linux(environ), version=version)
    with pytest.raises(InvalidValue, match="cache_dir is empty") as caught:
        run(linux(), cache_dir="")
    assert caught.value.option == "cache_dir"
    # The invalid UV_NO_CACHE fails even with a valid option given (clap checks it).
    with pytest.raises(ConfigError, match="UV_NO_CACHE"):
        run(linux({"UV_NO_CACHE": "2"}), cache_dir="/o")


def test_uv_config_file():
    other = "/cfg/other.toml"
    files = {other: 'cache-dir = "/other"\n', "/work/uv.toml": 'cache-dir = "/p"\n', USER: "no-cache = true\n", XDG_SYSTEM: "no-cache = true\n"}
    result = run(linux({"UV_CONFIG_FILE": other}, files=files))
    # Only that file: the project, user and system files are not read.
    assert (result.uv_cache_dir, result.source) == ("/other", f"cache-dir in {other} (UV_CONFIG_FILE)")
    assert [item.to_data() for item in result.config_files] == [{"path": other, "scope": "UV_CONFIG_FILE", "exists": True, "keys": {"cache-dir": "/other"}}]
    # It beats UV_NO_CONFIG; a relative one is relative to the working folder.
    assert where(linux({"UV_CONFIG_FILE": other, "UV_NO_CONFIG": "1"}, files=files))[0] == "/other"
    assert where(linux({"UV_CONFIG_FILE": "rel.toml"}, files={"/work/rel.toml": 'cache-dir = "/rel"\n'}))[0] == "/rel"
    # Missing: an error naming the file (uv: failed to open file).
    with pytest.raises(ConfigError) as caught:
        run(linux({"UV_CONFIG_FILE": "/nope.toml"}))
    assert caught.value.path == "/nope.toml"
    assert "No such file" in str(caught.value)
    # A pyproject.toml is read as a uv.toml (its [project] is refused), with uv's warning.
    made = linux({"UV_CONFIG_FILE": "/p/pyproject.toml"}, files={"/p/pyproject.toml": "[tool.uv]\ncache-dir = '/x'\n"})
    with pytest.raises(ConfigError, match=r"`tool` belongs in a pyproject\.toml"):
        run(made)
    result = run(linux({"UV_CONFIG_FILE": "/p/pyproject.toml"}, files={"/p/pyproject.toml": "cache-dir = '/x'\n"}))
    assert result.uv_cache_dir == "/x" and "not a pyproject.toml" in result.warnings[0]
    # With UV_CONFIG_FILE, UV_NO_SYSTEM_CONFIG is never parsed.
    assert where(linux({"UV_CONFIG_FILE": other, "UV_NO_SYSTEM_CONFIG": "bogus"}, files=files))[0] == "/other"


def test_uv_no_config():
    files = {"/work/uv.toml": 'cache-dir = "/p"\n', USER: 'cache-dir = "/u"\n', XDG_SYSTEM: "no-cache = true\n"}
    for value in ("1", "true", "yes", "on"):
        # No file is read: not even the system file's no-cache.
        result = run(linux({"UV_NO_CONFIG": value}, files=files))
        assert (result.uv_cache_dir, result.source, result.config_files) == ("/home/alice/.cache/uv", "default", [])
    assert run(linux({"UV_NO_CONFIG": "0"}, files=files)).disabled
    assert where(linux({"UV_NO_CONFIG": "off"}, files=dict(files, **{XDG_SYSTEM: ""})))[0] == "/p"
    # Files uv does not read cannot fail it.
    assert where(linux({"UV_NO_CONFIG": "1"}, files={USER: "cache-dir = [\n"}))[1] == "default"


# --- the user file ----------------------------------------------------------------------------------------------------


def test_user_file_location():
    assert linux()[0].user_config_file() == USER
    assert linux({"XDG_CONFIG_HOME": "/cfg"})[0].user_config_file() == "/cfg/uv/uv.toml"
    assert linux({"XDG_CONFIG_HOME": "/cfg/"})[0].user_config_file() == "/cfg/uv/uv.toml"
    assert linux({"XDG_CONFIG_HOME": "rel"})[0].user_config_file() == USER
    assert linux({"XDG_CONFIG_HOME": ""})[0].user_config_file() == USER
    assert linux(home="relhome")[0].user_config_file() == "relhome/.config/uv/uv.toml"
    # Without any home folder: none (etcetera), but before 0.5.0 dirs-sys still took XDG_CONFIG_HOME.
    nohome = linux({"XDG_CONFIG_HOME": "/cfg"}, home=None, passwd_home=None)[0]
    assert nohome.user_config_file() is None
    assert nohome.user_config_file(V0_4) == "/cfg/uv/uv.toml"
    made = linux({"XDG_CONFIG_HOME": "/cfg"}, files={"/cfg/uv/uv.toml": 'cache-dir = "/xdg"\n', USER: 'cache-dir = "/dot"\n'})
    assert where(made)[0] == "/xdg"


def test_user_file_read_failures_per_version():
    denied = PermissionError(errno.EACCES, "Permission denied")
    notdir = NotADirectoryError(errno.ENOTDIR, "Not a directory")
    for error, version, skipped in [
        (denied, (0, 5, 21), True),
        (denied, V0_13, True),
        (denied, (0, 5, 20), False),
        (notdir, (0, 5, 9), True),
        (notdir, (0, 5, 8), False),
        (UnreadableFile(errno.EILSEQ, "stream did not contain valid UTF-8"), V0_13, False),
    ]:
        made = linux(files={USER: error})
        if skipped:
            result = run(made, version=version)
            assert result.source == "default" and result.config_files[0].to_data() == {"path": USER, "scope": "user", "exists": False, "keys": {}}
        else:
            with pytest.raises(ConfigError) as caught:
                run(made, version=version)
            assert caught.value.path == USER and error.strerror in str(caught.value)
    # A folder where the file should be is an error in every version (uv: Is a directory).
    for version in ORACLE_VERSIONS:
        with pytest.raises(ConfigError, match="Is a directory"):
            run(linux(dirs=[USER]), version=version)
    # Before 0.5.9 any failure is ignored when the configuration folder (~/.config) is not a folder.
    host, reader, _reads = linux(files={USER: notdir})
    host = UvHost(**{**host.__dict__, "isdir": lambda path: path != "/home/alice/.config"})
    assert resolve(host, reader=reader, version=V0_4).source == "default"
    with pytest.raises(ConfigError, match="Not a directory"):
        run(linux(files={USER: notdir}), version=V0_4)


def test_unparsable_file_is_an_error_naming_file_and_line_never_content():
    secret = "s3cr3t-token"
    for text, line in [
        (f'cache-dir = "/value-a"\nindex-url = {secret}\n', 2),
        (f'# {secret}\ncache-dir = "/value-a"\ncache-dir = "/b"\n', 3),
        (f'[pip]\nfoo = "{secret}\n', 2),
        (f'cache-dir = "/value-a" {secret}\n', 1),
    ]:
        for version in ORACLE_VERSIONS:
            with pytest.raises(ConfigError) as caught:
                run(linux(files={USER: text}), version=version)
            message = str(caught.value)
            assert caught.value.path == USER and USER in message
            assert f"(line {line})" in message, message
            assert secret not in message and "value-a" not in message, message


def test_schema_errors():
    for text, pattern in [
        ("cache-dir = 1\n", "cache-dir in uv.toml must be a path string"),
        ("cache-dir = ['/a']\n", "must be a path string"),
        ('no-cache = "yes"\n', "no-cache in uv.toml must be true or false"),
        ("no-cache = 1\n", "must be true or false"),
        ("[tool.uv]\ncache-dir = '/c'\n", "`tool` belongs in a pyproject.toml"),
        ("[project]\nname = 'x'\n", "`project` belongs"),
        ("managed = true\n", "`managed` belongs"),
    ]:
        with pytest.raises(ConfigError, match=pattern):
            run(linux(files={USER: text}))
    # pyproject-only keys: uv 0.4 still accepted `managed` in a uv.toml; `conflicts` only from 0.8.0.
    assert where(linux(files={USER: "managed = true\ncache-dir = '/m'\n"}), version=V0_4)[0] == "/m"
    assert where(linux(files={USER: "conflicts = []\ncache-dir = '/m'\n"}), version=(0, 7, 0))[0] == "/m"
    with pytest.raises(ConfigError, match="`conflicts` belongs"):
        run(linux(files={USER: "conflicts = []\n"}), version=(0, 8, 0))
    # Other keys are not checked (which ones a uv knows depends on its version).
    assert where(linux(files={USER: "index-url = 'https://x'\n[pip]\nsystem = true\ncache-dir = '/not-global'\n"}))[1] == "default"


def test_empty_cache_dir_in_a_file():
    made = linux(files={USER: 'cache-dir = ""\n'})
    for version in (V0_4, V0_9, (0, 11, 20)):
        result = run(made, version=version)
        assert (result.uv_cache_dir, result.cache_dir) == ("", "/work")
        assert "is empty" in result.warnings[0]
    for version in ((0, 11, 21), V0_13):
        with pytest.raises(ConfigError, match="cannot make an empty path absolute"):
            run(made, version=version)
    # With no cache there is no cache folder to check.
    assert run(linux({"UV_NO_CACHE": "1"}, files={USER: 'cache-dir = ""\n'})).disabled


# --- the system file --------------------------------------------------------------------------------------------------


def test_system_file_scan():
    def system_dir(environ, files, version=NEWEST_UV):
        return run(linux(environ, files=files), version=version).uv_cache_dir

    s1, s2 = "/s1/uv/uv.toml", "/s2/uv/uv.toml"
    files = {s1: 'cache-dir = "/from-s1"\n', s2: 'cache-dir = "/from-s2"\n', ETC: 'cache-dir = "/from-etc"\n'}
    for version in ORACLE_VERSIONS:
        assert system_dir({"XDG_CONFIG_DIRS": "/s1:/s2"}, files, version) == "/from-s1"
        assert system_dir({"XDG_CONFIG_DIRS": "/none:/s2"}, files, version) == "/from-s2"
        assert system_dir({"XDG_CONFIG_DIRS": "/none"}, files, version) == "/from-etc"
        # Unset or empty: /etc/xdg.
        assert system_dir({}, {XDG_SYSTEM: "cache-dir = '/xdg'\n", ETC: "cache-dir = '/etc'\n"}, version) == "/xdg"
        assert system_dir({"XDG_CONFIG_DIRS": ""}, {XDG_SYSTEM: "cache-dir = '/xdg'\n"}, version) == "/xdg"
        # A relative entry is taken relative to the working folder (no XDG absoluteness check here).
        assert system_dir({"XDG_CONFIG_DIRS": "rel:/s2"}, dict(files, **{"/work/rel/uv/uv.toml": "cache-dir = '/rel'\n"}), version) == "/rel"
        # A folder named uv.toml is not a file: skipped.
        assert run(linux({"XDG_CONFIG_DIRS": "/s1:/s2"}, files={s2: "cache-dir = '/s2'\n"}, dirs=[s1]), version=version).uv_cache_dir == "/s2"
    # An empty entry ends the scan up to 0.12.x (only /etc/uv/uv.toml is left); 0.13 skips it.
    for value in (":/s2", "/none::/s2"):
        for version in (V0_4, V0_9, V0_12):
            assert system_dir({"XDG_CONFIG_DIRS": value}, files, version) == "/from-etc", (value, version)
        for version in ((0, 13, 0), V0_13):
            assert system_dir({"XDG_CONFIG_DIRS": value}, files, version) == "/from-s2", (value, version)
    assert linux({"XDG_CONFIG_DIRS": "/a::/b:"})[0].system_config_candidates(V0_12) == ["/a/uv/uv.toml", ETC]
    assert linux({"XDG_CONFIG_DIRS": "/a::/b:"})[0].system_config_candidates(V0_13) == ["/a/uv/uv.toml", "/b/uv/uv.toml", ETC]


def test_etc_uv_folder_and_listing():
    # /etc/uv/uv.toml: 0.5.0+ takes it when it exists (a folder there fails the read); 0.4.30 only a file.
    with pytest.raises(ConfigError, match="Is a directory"):
        run(linux({"XDG_CONFIG_DIRS": "/none"}, dirs=[ETC]))
    assert run(linux({"XDG_CONFIG_DIRS": "/none"}, dirs=[ETC]), version=V0_4).source == "default"
    result = run(linux({"XDG_CONFIG_DIRS": "/none:/s"}, files={"/s/uv/uv.toml": "no-cache = false\n"}))
    assert [(item.path, item.scope, item.exists, item.keys) for item in result.config_files] == [
        (USER, "user", False, {}),
        ("/none/uv/uv.toml", "system", False, {}),
        ("/s/uv/uv.toml", "system", True, {"no-cache": False}),
    ]


def test_uv_no_system_config_per_version():
    files = {XDG_SYSTEM: 'cache-dir = "/sys"\n'}
    for version in ((0, 11, 16), V0_12, V0_13):
        assert where(linux({"UV_NO_SYSTEM_CONFIG": "1"}, files=files), version=version)[1] == "default"
        assert where(linux({"UV_NO_SYSTEM_CONFIG": "false"}, files=files), version=version)[0] == "/sys"
        for bad in ("bogus", ""):
            with pytest.raises(ConfigError, match="UV_NO_SYSTEM_CONFIG"):
                run(linux({"UV_NO_SYSTEM_CONFIG": bad}, files=files), version=version)
    for version in (V0_4, V0_9, (0, 11, 15)):
        assert where(linux({"UV_NO_SYSTEM_CONFIG": "1"}, files=files), version=version)[0] == "/sys"
        assert where(linux({"UV_NO_SYSTEM_CONFIG": "bogus"}, files=files), version=version)[0] == "/sys"
    # The user file still counts.
    assert where(linux({"UV_NO_SYSTEM_CONFIG": "1"}, files=dict(files, **{USER: "cache-dir = '/u'\n"})))[0] == "/u"
    # A system file uv does not read cannot fail it.
    assert run(linux({"UV_NO_SYSTEM_CONFIG": "1"}, files={XDG_SYSTEM: "[[\n"})).source == "default"


def test_system_file_failures_are_errors():
    with pytest.raises(ConfigError, match="Permission denied") as caught:
        run(linux(files={XDG_SYSTEM: PermissionError(errno.EACCES, "Permission denied")}))
    assert caught.value.path == XDG_SYSTEM


# --- the project file -------------------------------------------------------------------------------------------------


def test_project_discovery():
    for files, project, expected, warned in [
        ({"/work/uv.toml": "cache-dir = '/p'\n"}, None, "/p", False),
        ({"/work/pyproject.toml": "[tool.uv]\ncache-dir = '/py'\n"}, None, "/py", False),
        # uv.toml beats the [tool.uv] beside it, with uv's warning.
        ({"/work/uv.toml": "cache-dir = '/uvtoml'\n", "/work/pyproject.toml": "[tool.uv]\ncache-dir = '/py'\n"}, None, "/uvtoml", True),
        # A pyproject.toml without [tool.uv] is skipped: the parent's uv.toml counts.
        ({"/p/a/pyproject.toml": "[tool.black]\nx = 1\n", "/p/uv.toml": "cache-dir = '/parent'\n"}, "/p/a", "/parent", False),
        ({"/p/a/pyproject.toml": "[project]\nname = 'a'\n", "/p/uv.toml": "cache-dir = '/parent'\n"}, "/p/a", "/parent", False),
        # An unparsable pyproject.toml (or a [tool.uv] uv's schema refuses) is skipped with a warning.
        ({"/p/a/pyproject.toml": "[tool.uv\n", "/p/uv.toml": "cache-dir = '/parent'\n"}, "/p/a", "/parent", True),
        ({"/p/a/pyproject.toml": "[tool.uv]\ncache-dir = 1\n", "/p/uv.toml": "cache-dir = '/parent'\n"}, "/p/a", "/parent", True),
        ({"/p/a/pyproject.toml": "tool = 3\n", "/p/uv.toml": "cache-dir = '/parent'\n"}, "/p/a", "/parent", True),
        # The first hit ends the walk, even one that sets nothing about the cache.
        ({"/p/a/pyproject.toml": "[tool.uv]\n", "/p/uv.toml": "cache-dir = '/parent'\n"}, "/p/a", "/home/alice/.cache/uv", False),
        # Empty [tool.uv] beside a uv.toml: a warning before uv 0.8.1 only (below: the newest).
        ({"/work/uv.toml": "cache-dir = '/u'\n", "/work/pyproject.toml": "[tool.uv]\n"}, None, "/u", False),
        ({"/work/uv.toml": "cache-dir = '/u'\n", "/work/pyproject.toml": "[tool.uv\n"}, None, "/u", False),
    ]:
        result = run(linux(files=files, dirs=["/p/a"]), project=project)
        assert result.uv_cache_dir == expected, files
        assert bool(result.warnings) == warned, (files, result.warnings)
    result = run(linux(files={"/work/uv.toml": "cache-dir = '/u'\n", "/work/pyproject.toml": "[tool.uv]\n"}), version=V0_4)
    assert result.warnings and "the uv.toml wins" in result.warnings[0]
    result = run(linux(files={"/work/uv.toml": "", "/work/pyproject.toml": "[tool.uv]\ncache-dir = '/x'\nsources = {}\n"}))
    assert result.warnings == [
        "uv found both /work/uv.toml and a [tool.uv] table in the pyproject.toml beside it: the uv.toml wins (uv ignores these fields of it: cache-dir)"
    ]
    # Other key names of the file are counted, not repeated.
    result = run(linux(files={"/work/uv.toml": "", "/work/pyproject.toml": "[tool.uv]\nsecret-name = 1\nindex-url = 'x'\n"}))
    assert result.warnings[0].endswith("(uv ignores these fields of it: 2 more)")
    assert "secret" not in result.warnings[0]


def test_project_file_failures():
    # An unparsable uv.toml in the project is an error (uv: Failed to parse), as is an unreadable file there.
    with pytest.raises(ConfigError) as caught:
        run(linux(files={"/work/uv.toml": "cache-dir = 1\n"}))
    assert caught.value.path == "/work/uv.toml"
    with pytest.raises(ConfigError, match="Permission denied"):
        run(linux(files={"/work/pyproject.toml": PermissionError(errno.EACCES, "Permission denied")}))
    with pytest.raises(ConfigError, match="Is a directory"):
        run(linux(dirs=["/work/uv.toml"]))


def test_project_values_are_relative_to_the_working_folder():
    # Not to the file's folder: uv rebases only index and find-links paths.
    made = linux(files={"/p/uv.toml": "cache-dir = 'relp'\n"}, dirs=["/p/a/b"])
    result = run(made, project="/p/a/b")
    assert (result.uv_cache_dir, result.cache_dir, result.working_dir) == ("relp", "/p/a/b/relp", "/p/a/b")
    result = run(made, project="../p/a")  # relative to host.cwd (/work)
    assert (result.cache_dir, result.working_dir) == ("/p/a/relp", "/p/a")
    assert result.config_files[0].to_data() == {"path": "/p/uv.toml", "scope": "project", "exists": True, "keys": {"cache-dir": "relp"}}


def test_project_argument_errors():
    with pytest.raises(InvalidValue, match="not a folder") as caught:
        run(linux(), project="/nowhere")
    assert caught.value.option == "project"
    with pytest.raises(InvalidValue, match="project is empty"):
        run(linux(), project="")


def test_workspace_root_starts_the_search():
    member = {"/p/a/pyproject.toml": "[project]\nname = 'a'\n[tool.uv]\ncache-dir = '/member'\n"}
    for root_text, expected in [
        # The member's own [tool.uv] is not read: the search starts at the workspace root.
        ("[project]\nname = 'p'\n[tool.uv.workspace]\nmembers = ['a']\n", "/home/alice/.cache/uv"),
        ("[project]\nname = 'p'\n[tool.uv]\ncache-dir = '/root'\n[tool.uv.workspace]\nmembers = ['*']\n", "/root"),
        ("[tool.uv]\ncache-dir = '/root'\n[tool.uv.workspace]\nmembers = ['./a/']\n", "/root"),
        ("[tool.uv]\ncache-dir = '/root'\n[tool.uv.workspace]\nmembers = ['packages/*', 'a']\n", "/root"),
        # Not a member, or excluded: the project is its own root.
        ("[project]\nname = 'p'\n[tool.uv]\ncache-dir = '/root'\n[tool.uv.workspace]\nmembers = ['x']\n", "/member"),
        ("[tool.uv]\ncache-dir = '/root'\n[tool.uv.workspace]\nmembers = ['*']\nexclude = ['a']\n", "/member"),
        # A project above without a workspace: the project is left alone.
        ("[project]\nname = 'p'\n[tool.uv]\ncache-dir = '/root'\n", "/member"),
    ]:
        files = dict(member, **{"/p/pyproject.toml": root_text})
        assert run(linux(files=files), project="/p/a").uv_cache_dir == expected, root_text
    # A uv.toml in a folder below the project's pyproject.toml is passed over: the search starts at the project.
    files = {"/p/pyproject.toml": "[project]\nname = 'p'\n", "/p/sub/uv.toml": "cache-dir = '/sub'\n"}
    assert run(linux(files=files), project="/p/sub").uv_cache_dir == "/home/alice/.cache/uv"
    # ... unless workspace discovery fails (no [project], an unmanaged project, an unparsable file, no name).
    for text in ("[tool.black]\n", "[project]\nname = 'p'\n[tool.uv]\nmanaged = false\n", "[project\n", "[project]\nversion = '1'\n"):
        files = {"/p/pyproject.toml": text, "/p/sub/uv.toml": "cache-dir = '/sub'\n"}
        assert run(linux(files=files), project="/p/sub").uv_cache_dir == "/sub", text
    # An explicit workspace root is the root at once.
    files = {"/p/pyproject.toml": "[tool.uv.workspace]\nmembers = []\n[tool.uv]\ncache-dir = '/ws'\n", "/p/sub/uv.toml": "cache-dir = '/sub'\n"}
    assert run(linux(files=files), project="/p/sub").uv_cache_dir == "/ws"


def test_workspace_globs():
    assert config._glob_matches("/p/*", "/p/a")
    assert config._glob_matches("/p/*", "/p/a/b")  # `*` crosses `/` (require_literal_separator is off)
    assert config._glob_matches("/p/**/a", "/p/a")
    assert config._glob_matches("/p/pkg-?", "/p/pkg-1")
    assert config._glob_matches("/p/[ab]", "/p/b")
    assert not config._glob_matches("/p/[!ab]", "/p/b")
    assert not config._glob_matches("/p/x", "/p/a")
    host = linux()[0]
    assert config._member_glob(host, "/p[1]*", "./a/") == "/p[[]1[]][*]/a"
    assert config._glob_matches(config._member_glob(host, "/p[1]*", "a"), "/p[1]*/a")


# --- the working folder -----------------------------------------------------------------------------------------------


def test_working_folder_variables_per_version():
    files = {"/w/uv.toml": "cache-dir = 'c'\n"}
    made = linux({"UV_WORKING_DIR": "/w"}, files=files)
    assert run(made, version=(0, 9, 14)).cache_dir == "/w/c"
    assert run(made, version=(0, 9, 13)).cache_dir == "/home/alice/.cache/uv"
    made = linux({"UV_WORKING_DIRECTORY": "/w"}, files=files)
    assert run(made, version=(0, 9, 1)).cache_dir == "/w/c"
    assert run(made, version=(0, 9, 0)).cache_dir == "/home/alice/.cache/uv"
    # UV_WORKING_DIR wins over UV_WORKING_DIRECTORY, and is relative to the folder uv starts in.
    made = linux({"UV_WORKING_DIR": "w", "UV_WORKING_DIRECTORY": "/elsewhere"}, files={"/work/w/uv.toml": "cache-dir = 'c'\n"})
    assert run(made).cache_dir == "/work/w/c"
    for environ in ({"UV_WORKING_DIR": "/nowhere"}, {"UV_WORKING_DIR": ""}, {"UV_WORKING_DIRECTORY": ""}):
        name = next(iter(environ))
        with pytest.raises(ConfigError, match=name):
            run(linux(environ))


def test_uv_project_variable():
    files = {"/p/uv.toml": "cache-dir = 'c'\n"}
    made = linux({"UV_PROJECT": "/p"}, files=files)
    # The project's file is found from UV_PROJECT, but relative values stay relative to the working folder.
    assert (run(made).uv_cache_dir, run(made).cache_dir) == ("c", "/work/c")
    assert run(made, version=(0, 6, 10)).source == "default"
    assert run(linux({"UV_PROJECT": "/p/pyproject.toml"}, files=dict(files, **{"/p/pyproject.toml": ""}))).cache_dir == "/work/c"
    with pytest.raises(ConfigError, match="UV_PROJECT"):
        run(linux({"UV_PROJECT": "/nowhere"}), version=(0, 12, 0))
    result = run(linux({"UV_PROJECT": "/nowhere"}), version=(0, 11, 0))
    assert result.source == "default" and "does not exist" in result.warnings[0]
    assert not run(linux({"UV_PROJECT": "/nowhere"}), version=V0_9).warnings
    with pytest.raises(ConfigError, match="UV_PROJECT"):
        run(linux({"UV_PROJECT": ""}))


def test_project_inside_the_cache_fails_from_0_11_21():
    for environ, project in [({"UV_CACHE_DIR": "/work"}, None), ({"UV_CACHE_DIR": ".."}, None), ({"UV_CACHE_DIR": "/"}, None), ({}, "/home/alice/.cache/uv/x")]:
        made = linux(environ, dirs=["/home/alice/.cache/uv/x"])
        for version in ((0, 11, 21), V0_13):
            with pytest.raises(ConfigError, match="inside its cache folder"):
                run(made, project=project, version=version)
        assert not run(made, project=project, version=(0, 11, 20)).disabled
    assert run(linux({"UV_CACHE_DIR": "/work2"})).uv_cache_dir == "/work2"
    assert run(linux({"UV_CACHE_DIR": "/work/../x"})).uv_cache_dir == "/work/../x"
    assert run(linux({"UV_CACHE_DIR": "/", "UV_NO_CACHE": "1"})).disabled


# --- plain data -------------------------------------------------------------------------------------------------------


def test_to_data_round_trip_through_json():
    made = linux({"XDG_CONFIG_DIRS": "/s"}, files={"/work/uv.toml": "no-cache = false\n", USER: "cache-dir = 'rel'\n", "/s/uv/uv.toml": ""})
    result = run(made, version=V0_9)
    data = json.loads(json.dumps(result.to_data()))
    assert data == {
        "uv_cache_dir": "rel",
        "cache_dir": "/work/rel",
        "source": f"cache-dir in {USER} (user)",
        "disabled": False,
        "disabled_reason": None,
        "config_files": [
            {"path": "/work/uv.toml", "scope": "project", "exists": True, "keys": {"no-cache": False}},
            {"path": USER, "scope": "user", "exists": True, "keys": {"cache-dir": "rel"}},
            {"path": "/s/uv/uv.toml", "scope": "system", "exists": True, "keys": {}},
        ],
        "warnings": [
            "the cache folder (cache-dir in /home/alice/.config/uv/uv.toml (user)) is a relative path: uv takes it relative to its working folder /work"
        ],
        "working_dir": "/work",
        "uv_version": [0, 9, 21],
    }
    assert UvResolution.from_data(data) == result
    disabled = run(linux({"UV_NO_CACHE": "yes"}))
    assert UvResolution.from_data(json.loads(json.dumps(disabled.to_data()))) == disabled


def test_default_version_is_the_newest():
    made = linux({"XDG_CONFIG_DIRS": ":/s"}, files={"/s/uv/uv.toml": "cache-dir = '/s'\n"})
    assert run(made).uv_version == NEWEST_UV == V0_13
    assert run(made).uv_cache_dir == run(made, version=V0_13).uv_cache_dir == "/s"


def test_live_host_reads_files(tmp_path):
    home = tmp_path / "home"
    (home / ".config" / "uv").mkdir(parents=True)
    (home / ".config" / "uv" / "uv.toml").write_bytes(b'\xef\xbb\xbfcache-dir = "rel"\r\n')
    work = tmp_path / "work"
    work.mkdir()
    host = UvHost(platform="linux", environ={"HOME": str(home), "XDG_CONFIG_DIRS": str(tmp_path / "none")}, cwd=str(work), live=True)
    result = resolve(host)
    assert (result.uv_cache_dir, result.cache_dir) == ("rel", str(work / "rel"))
    (work / "link").symlink_to(work)
    assert resolve(host, project="link").working_dir == str(work)


# --- TOML -------------------------------------------------------------------------------------------------------------

VALID = [
    "",
    "# only a comment\n",
    'a = "b"\n',
    "a = 'b' # comment\n",
    'a."b.c".d = 1\n',
    "a . b = 1\na . c = 2\n",
    '"" = 1\n',
    "'quoted \"key\"' = 1\n",
    "[a]\nb = 1\n[a.c]\nd = 2\n",
    "[a.b]\nc = 1\n[a]\nd = 2\n",
    "[ a . b ]\n[[ c ]]\n",
    "[[a]]\nb = 1\n[[a]]\nb = 2\n[a.c]\nd = 3\n",
    "[[a.b]]\n[a]\nc = 1\n",
    "x = [[1, 2], ['a'], [], [{b = 1}]]\n",
    "x = [\n  1, # one\n  2,\n]\n",
    "x = {a = 1, b.c = 2, d = {e = 'f'}}\n",
    "x = {}\n",
    'a = "\\b\\t\\n\\f\\r\\"\\\\\\u00e9\\U0001F600"\n',
    "a = 'C:\\Users\\no\\escapes'\n",
    'a = """\nline1\nline2"""\n',
    'a = """\\\n    trimmed \\\n    words"""\n',
    'a = """ends with quotes"""""\n',
    "a = '''\n raw \\n '''\n",
    "a = '''x''''\n",
    'a = """a\\    \n  b"""\n',
    'a = """\r\nwindows\r\n"""\r\nb = 1\r\n',
    "a = true\nb = false\n",
    "a = 0\nb = -17\nc = +3\nd = 1_000\ne = 0xDEAD_beef\nf = 0o755\ng = 0b1010\n",
    "a = 1.5\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\nf = 6.626e-34\ng = 9_224.617_445\n",
    "a = inf\nb = +inf\nc = -inf\n",
    "a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00-07:00\nc = 1979-05-27 07:32:00.999999\nd = 1979-05-27\ne = 07:32:00\n",
    "a = 1979-05-27T07:32:00.1234567+05:30\nb = 1979-05-27t07:32:00z\nc = 00:00:00.5\n",
    "a = 1979-05-27 # date then comment\n",
    'a = "tab\tinside"\n',
    '[tool.uv]\ncache-dir = "/c"\nno-cache = false\n[tool.uv.pip]\nsystem = true\n',
    "a.b = 1\n[c]\na.b = 2\n",
    "a = [1, 'mixed', 2.0, true]\n",
]

INVALID = [
    "a = \n",
    "a = b\n",
    "a = 1 b = 2\n",
    "a = 1\na = 2\n",
    "[a]\n[a]\n",
    "a = 1\n[a]\n",
    "a.b = 1\n[a.b]\n",
    "[a]\nb.c = 1\n[a.b]\n",
    "a = {b = 1}\n[a]\n",
    "a = {b = 1}\na.c = 2\n",
    "a = [1]\n[[a]]\n",
    "[[a]]\n[a]\n",
    "a = {b = 1,}\n",
    "a = {\nb = 1}\n",
    "a = {b = 1, b = 2}\n",
    "a = {,}\n",
    'a = "unclosed\n',
    'a = "multi\nline"\n',
    "a = 'lit\nline'\n",
    'a = """never closed\n',
    "a = '''never closed\n",
    'a = "\\x41"\n',
    'a = "\\e"\n',
    'a = "\\q"\n',
    'a = "\\uD800"\n',
    'a = "\\u12"\n',
    'a = "\\U00110000"\n',
    "a = 01\n",
    "a = 1__0\n",
    "a = _1\n",
    "a = 1.\n",
    "a = .5\n",
    "a = 0x\n",
    "a = 1979-02-30\n",
    "a = 1979-05-27T07:32Z\n",
    "a = 07:32\n",
    "a = 24:00:00\n",
    "a = True\n",
    "= 1\n",
    "a b = 1\n",
    "[a\n",
    "[[a]\n",
    "[]\n",
    "a = [1 2]\n",
    "a = [1,,2]\n",
    "# control \x01 in comment\n",
    "a = 1 # del \x7f\n",
    'a = "nul \x00"\n',
    "a = 1\rb = 2\n",
    "é = 1\n",
    "a = 'x' junk\n",
    "a = nan1\n",
    "\ufeffa = 1\n",
]

TOML_1_1_ONLY = [
    ("a = {b = 1,}\n", {"a": {"b": 1}}),
    ("a = {\n  b = 1, # one\n  c = 2\n}\n", {"a": {"b": 1, "c": 2}}),
    ("a = {\n}\n", {"a": {}}),
    ('a = "\\x41\\xe9\\xff"\n', {"a": "A\xe9\xff"}),
    ('a = "\\e[0m"\n', {"a": "\x1b[0m"}),
    ("a = 07:32\n", {"a": datetime.time(7, 32)}),
    ("a = 1979-05-27T07:32Z\n", {"a": datetime.datetime(1979, 5, 27, 7, 32, tzinfo=datetime.timezone.utc)}),
]


def _same(left, right):
    """Equal, with NaN equal to NaN."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
        return math.isnan(right)
    if isinstance(left, dict):
        return isinstance(right, dict) and left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def test_reader_on_valid_documents_matches_tomllib_and_expected_values():
    for text in VALID:
        ours = parse_toml(text)
        if tomllib is not None:
            assert _same(ours, tomllib.loads(text)), text
        assert parse_toml(text, toml11=True) == ours, text  # TOML 1.1 reads every 1.0 document the same
    # Expected values written out: these also run where Python has no tomllib.
    assert parse_toml('a."b.c".d = 1\n') == {"a": {"b.c": {"d": 1}}}
    assert parse_toml("[[a]]\nb = 1\n[[a]]\nb = 2\n[a.c]\nd = 3\n") == {"a": [{"b": 1}, {"b": 2, "c": {"d": 3}}]}
    assert parse_toml('a = "\\b\\t\\n\\f\\r\\"\\\\\\u00e9\\U0001F600"\n') == {"a": '\b\t\n\f\r"\\é\U0001f600'}
    assert parse_toml('a = """\\\n    trimmed \\\n    words"""\n') == {"a": "trimmed words"}
    assert parse_toml('a = """ends with quotes"""""\n') == {"a": 'ends with quotes""'}
    assert parse_toml("a = '''\n raw \\n '''\n") == {"a": " raw \\n "}
    assert parse_toml('a = """\r\nwindows\r\n"""\r\nb = 1\r\n') == {"a": "windows\n", "b": 1}
    assert parse_toml("a = 0xDEAD_beef\nb = 0o755\nc = 0b1010\nd = 1_000\ne = 5e+22\n") == {"a": 0xDEADBEEF, "b": 0o755, "c": 10, "d": 1000, "e": 5e22}
    dates = parse_toml("a = 1979-05-27T00:32:00-07:00\nb = 1979-05-27 07:32:00.999999\nc = 1979-05-27\nd = 07:32:00\ne = 00:00:00.1234567\n")
    assert dates == {
        "a": datetime.datetime(1979, 5, 27, 0, 32, tzinfo=datetime.timezone(datetime.timedelta(hours=-7))),
        "b": datetime.datetime(1979, 5, 27, 7, 32, 0, 999999),
        "c": datetime.date(1979, 5, 27),
        "d": datetime.time(7, 32),
        "e": datetime.time(0, 0, 0, 123456),
    }
    assert math.isnan(parse_toml("a = -nan\n")["a"]) and parse_toml("a = -inf\n")["a"] == float("-inf")


def test_reader_on_invalid_documents_fails_like_tomllib():
    for text in INVALID:
        with pytest.raises(TomlError):
            parse_toml(text)
        if tomllib is not None:
            with pytest.raises(tomllib.TOMLDecodeError):
                tomllib.loads(text)


def test_toml_1_1_additions():
    for text, expected in TOML_1_1_ONLY:
        with pytest.raises(TomlError):
            parse_toml(text)
        assert parse_toml(text, toml11=True) == expected, text
    # Still refused in 1.1: an empty entry, unicode bare keys.
    for text in ("a = {,}\n", "a = {b = 1,,}\n", "é = 1\n", 'a = "\\x4"\n'):
        with pytest.raises(TomlError):
            parse_toml(text, toml11=True)
    # The uv versions: TOML 1.1 from 0.9.22 on.
    made = linux(files={USER: 'cache-dir = "/\\x41"\n'})
    assert run(made, version=(0, 9, 22)).uv_cache_dir == "/A"
    with pytest.raises(ConfigError):
        run(made, version=V0_9)


TRICKY_STRINGS = [
    'a = "quote \\" inside" # "comment"\n',
    "a = 'single \" double'\n",
    'a = "hash # not a comment"\n',
    "a = '''it's'''\n",
    "a = '''''two'''''\n",
    'a = """""two"""""\n',
    'a = """a"b""c"""\n',
    'a = "\\\\"\n',
    'a = "\\\\\\""\n',
    'a = """\\"""\\""""\n',
    'a = """\n\\\n\n  \n   x"""\n',
    'a = """x\\ \t \n y"""\n',
    "a = '\\'\n",
    "a = '''\\'''\n",
    '"a\\u0000b" = 1\n',
    'a = "\\u0041\\U00000042"\n',
    'a = "é 😀"\n',
    "'a.b' = 1\n\"a\".b = 2\n",
]


def test_reader_on_tricky_strings():
    for text in TRICKY_STRINGS:
        ours = parse_toml(text)
        if tomllib is not None:
            assert ours == tomllib.loads(text), text
    assert parse_toml('a = "quote \\" inside" # "comment"\n') == {"a": 'quote " inside'}
    assert parse_toml("a = '''''two'''''\n") == {"a": "''two''"}
    assert parse_toml('a = """\\"""\\""""\n') == {"a": '""""'}
    assert parse_toml("a = '\\'\n") == {"a": "\\"}
    assert parse_toml('"a\\u0000b" = 1\n') == {"a\x00b": 1}
    assert parse_toml("'a.b' = 1\n\"a\".b = 2\n") == {"a.b": 1, "a": {"b": 2}}
    for text in ('a = """\\ x"""\n', 'a = "a\\\nb"\n', "a = '''\x00'''\n", 'a = """\x7f"""\n'):
        with pytest.raises(TomlError):
            parse_toml(text)
        if tomllib is not None:
            with pytest.raises(tomllib.TOMLDecodeError):
                tomllib.loads(text)


def test_toml_errors_give_line_and_no_content():
    for text, line in [("a = 1\nb = c\n", 2), ("\n\n[x\n", 3), ('a = """\nx\ny\n', 1), ("a = 1\n# \x01\n", 2), ("a = 1\n\n\na = 2\n", 4)]:
        with pytest.raises(TomlError) as caught:
            parse_toml(text)
        assert caught.value.line == line, text
        with pytest.raises(TomlError) as caught:
            read_toml(text)  # tomllib where Python has it: the same line, and this module's wording
        assert caught.value.line == line, text
        assert "x" not in caught.value.reason and "\x01" not in str(caught.value)


def test_read_toml_drops_a_byte_order_mark():
    assert read_toml('\ufeffa = "b"\n') == {"a": "b"}
    assert read_toml('\ufeffa = "b"\n', toml11=True) == {"a": "b"}
    with pytest.raises(TomlError):
        read_toml('a = "b"\n\ufeff')


# --- reading files ----------------------------------------------------------------------------------------------------


def test_default_reader(tmp_path):
    good = tmp_path / "uv.toml"
    good.write_text('cache-dir = "/é"\n', encoding="utf-8")
    assert default_reader(str(good)) == 'cache-dir = "/é"\n'
    with pytest.raises(FileNotFoundError):
        default_reader(str(tmp_path / "missing.toml"))
    with pytest.raises(NotADirectoryError):
        default_reader(str(good / "uv.toml"))
    with pytest.raises(IsADirectoryError):
        default_reader(str(tmp_path))
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'cache-dir = "/\xe9"\n')
    with pytest.raises(UnreadableFile, match="UTF-8"):
        default_reader(str(bad))
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (CONFIG_MAX_BYTES + 1))
    with pytest.raises(UnreadableFile, match="larger than"):
        default_reader(str(big))
    assert default_reader(os.devnull) == ""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_default_reader_leaves_a_fifo_unread(tmp_path):
    fifo = tmp_path / "uv.toml"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            default_reader(str(fifo))
        except UnreadableFile as error:
            outcome.append(error.strerror)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(10)
    assert outcome and "not a regular file" in outcome[0]
