# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The configuration editor keeps every byte it was not asked to change; each scope's file per platform."""

from __future__ import annotations

import configparser
import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import ConfigError, InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._pip.config_edit import (
    atomic_write,
    check_value,
    current_value,
    remove_key,
    set_value,
    split_name,
)
from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import config_files
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext

TEAM = "# team settings\r\n[global]\r\nindex-url = https://example.invalid/simple\r\ntimeout = 60\r\n\r\n[install]\r\n; no deps\r\nno_deps = yes\r\n"


def test_set_then_remove_gives_the_original_bytes_back():
    edited = set_value(TEAM, "global", "cache-dir", "/srv/pip")
    assert edited.changed and edited.previous is None
    assert edited.text == TEAM.replace("timeout = 60\r\n", "timeout = 60\r\ncache-dir = /srv/pip\r\n")
    assert remove_key(edited.text, "global", "cache-dir").text == TEAM


def test_existing_key_is_rewritten_in_place_with_its_spelling():
    text = "[global]\nNo_Cache_Dir = 0\nother = 1\n"
    edited = set_value(text, "global", "no-cache-dir", "true")
    assert edited.text == "[global]\nNo_Cache_Dir = true\nother = 1\n"
    assert edited.previous == "0"
    assert set_value(edited.text, "global", "no-cache-dir", "true").changed is False


def test_a_file_pip_cannot_load_is_refused_not_rewritten():
    # pip's RawConfigParser rejects one key twice in a section (spelled differently or not): so does the editor.
    with pytest.raises(ConfigError):
        set_value("[global]\nNo_Cache_Dir = false\nno-cache-dir = 0\n", "global", "no-cache-dir", "true")


def test_new_section_and_file_without_final_newline():
    assert set_value("[global]\ntimeout = 1", "install", "cache-dir", "/c").text == "[global]\ntimeout = 1\n\n[install]\ncache-dir = /c\n"
    assert set_value("", "global", "no-cache-dir", "true").text == "[global]\nno-cache-dir = true\n"


def test_sections_are_case_sensitive_and_continuation_lines_go_with_their_key():
    text = "[Global]\ncache-dir = /ignored\n[global]\ncache-dir = /a\n  continued\nkeep = 1\n"
    edited = remove_key(text, "global", "cache-dir")
    assert edited.text == "[Global]\ncache-dir = /ignored\n[global]\nkeep = 1\n"
    assert current_value(text, "Global", "cache-dir") == "/ignored"


def test_a_section_left_empty_goes_but_comments_elsewhere_stay():
    text = "# top\n[global]\nno-cache-dir = true\n\n[install]\nx = 1\n"
    assert remove_key(text, "global", "no-cache-dir").text == "# top\n[install]\nx = 1\n"


def test_what_pip_reads_after_the_edit_is_what_was_asked():
    edited = set_value(TEAM, "install", "cache-dir", "~/c").text
    parser = configparser.RawConfigParser()
    parser.read_string(edited)
    assert parser.get("install", "cache-dir") == "~/c"
    assert parser.get("install", "no_deps") == "yes"


@pytest.mark.parametrize(
    "key, value",
    [
        ("cache-dir", "false"),
        ("cache-dir", "0"),
        ("cache-dir", ""),
        ("cache-dir", "$HOME/cache"),
        ("cache-dir", "%LOCALAPPDATA%\\cache"),
        ("no-cache-dir", "maybe"),
        ("timeout", "1 # comment"),
        ("timeout", " 1"),
        ("index-url", "a\nb"),
    ],
)
def test_values_pip_would_misread_are_refused(key, value):
    with pytest.raises(InvalidValue) as caught:
        check_value(key, value)
    assert caught.value.option == "value"


@pytest.mark.parametrize("name", ["cache-dir", "global.", ".cache-dir", "global/x.cache-dir", "a b.c"])
def test_names_must_be_section_dot_key(name):
    with pytest.raises(InvalidValue):
        split_name(name)


def test_split_name_normalises_the_key_like_pip():
    assert split_name("global.No_Cache_Dir") == ("global", "no-cache-dir")
    assert split_name("install.--cache-dir") == ("install", "cache-dir")


def test_atomic_write_keeps_mode_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "pip.conf"
    path.write_text("[global]\n")
    os.chmod(path, 0o600)
    atomic_write(str(path), "[global]\r\nx = 1\r\n")
    assert path.read_bytes() == b"[global]\r\nx = 1\r\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sorted(item.name for item in tmp_path.iterdir()) == ["pip.conf"]


def _scope_file(ctx, variant):
    """The file pip_config writes with prefer=weight: the last (weightiest) file of the variant."""
    return [item.path for item in config_files(ctx) if item.variant == variant][-1]


def test_scope_files_linux():
    ctx = HostContext(platform="linux", environ={"HOME": "/home/a"}, sys_prefix="/venv", isdir=lambda path: False, exists=lambda path: False)
    assert _scope_file(ctx, "user") == "/home/a/.config/pip/pip.conf"
    assert _scope_file(ctx, "global") == "/etc/pip.conf"
    assert _scope_file(ctx, "site") == "/venv/pip.conf"
    xdg = HostContext(platform="linux", environ={"HOME": "/home/a", "XDG_CONFIG_HOME": "/x"}, isdir=lambda path: False, exists=lambda path: False)
    assert _scope_file(xdg, "user") == "/x/pip/pip.conf"


def test_scope_files_macos_user_file_depends_on_the_application_support_folder():
    support = "/Users/a/Library/Application Support/pip"
    present = HostContext(platform="darwin", environ={"HOME": "/Users/a"}, isdir=lambda path: path == support, exists=lambda path: False)
    absent = HostContext(platform="darwin", environ={"HOME": "/Users/a"}, isdir=lambda path: False, exists=lambda path: False)
    assert _scope_file(present, "user") == support + "/pip.conf"
    assert _scope_file(absent, "user") == "/Users/a/.config/pip/pip.conf"
    assert _scope_file(absent, "global") == "/Library/Application Support/pip/pip.conf"


def test_scope_files_windows():
    ctx = HostContext(
        platform="win32",
        environ={"USERPROFILE": "C:\\Users\\a"},
        sys_prefix="C:\\venv",
        windows_folders={"APPDATA": "C:\\Users\\a\\AppData\\Roaming", "LOCAL_APPDATA": "C:\\Users\\a\\AppData\\Local", "COMMON_APPDATA": "C:\\ProgramData"},
        isdir=lambda path: False,
        exists=lambda path: False,
    )
    assert [item.path for item in config_files(ctx) if item.variant == "user"] == ["C:\\Users\\a\\pip\\pip.ini", "C:\\Users\\a\\AppData\\Roaming\\pip\\pip.ini"]
    assert _scope_file(ctx, "global") == "C:\\ProgramData\\pip\\pip.ini"
    assert _scope_file(ctx, "site") == "C:\\venv\\pip.ini"
