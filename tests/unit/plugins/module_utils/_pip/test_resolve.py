# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resolution of pip's cache directory for a command: settings in pip's order, options, and pip's ownership check.

Every host fact is an input (HostContext with live=False; pip_hosts.py), so each platform's rules run here. Expected
values come from pip's own source (configuration.py, cli/parser.py of pip 26.3) written out as tables.
"""

from __future__ import annotations

import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import ConfigError
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import normalize_path, resolve
from ansible_collections.fleet.cache.tests.unit.plugins.module_utils._pip.pip_hosts import (
    GLOBAL,
    LEGACY,
    LINUX_FILES,
    SITE,
    USER,
    ctx_with,
    linux,
    loaded,
    resolved,
    windows,
)

# --- settings: sections, override order, booleans -------------------------------------------------


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


# --- normalising the folder -----------------------------------------------------------------------


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
