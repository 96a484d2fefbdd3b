# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading pip's configuration: which files pip loads and in what order, how it parses them, and reading them safely.

The files and their order on Linux, macOS and Windows come from pip's own source (configuration.py of pip 26.3)
written out as tables. A file is read only when it is a regular file of at most 1 MiB, never blocking, and errors
name the file, the kind of problem and its line, never the file's text.
"""

from __future__ import annotations

import os
import stat
import threading

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError, ConfigError
from ansible_collections.fleet.cache.plugins.module_utils._pip import config_read as pip_config_read
from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import CONFIG_MAX_BYTES, config_files, default_reader, read_config_text, strtobool
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import resolve
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_config as task_pip_config
from ansible_collections.fleet.cache.tests.unit.plugins.module_utils._pip.pip_hosts import (
    LINUX_FILES,
    USER,
    WIN_FOLDERS,
    ctx_with,
    linux,
    loaded,
    macos,
    paths,
    resolved,
    windows,
)

SECRET = "s3cr3t-Zq9"

READERS = [
    pytest.param(default_reader, ConfigError, id="default_reader"),
    pytest.param(task_pip_config._read, CacheError, id="task_config._read"),
]


def in_thread(function, *args, timeout=5.0):
    """function(*args) in a thread; ('returned', value) or ('raised', error), or ('blocked', None) after timeout."""
    outcome = []

    def target():
        try:
            outcome.append(("returned", function(*args)))
        except BaseException as error:  # every outcome is reported to the test
            outcome.append(("raised", error))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    return outcome[0] if outcome else ("blocked", None)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("reader, error_type", READERS)
def test_fifo_is_refused_without_blocking(tmp_path, reader, error_type):
    fifo = str(tmp_path / "pip.conf")
    os.mkfifo(fifo)
    kind, found = in_thread(reader, fifo)
    if kind == "blocked":
        # Release the reader stuck in open() so the thread ends, then fail.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"{reader.__name__} blocked on a FIFO")
    assert kind == "raised", found
    assert isinstance(found, error_type)
    assert "not a regular file" in found.msg
    assert found.path == fifo


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("reader, error_type", READERS)
def test_link_to_a_device_is_refused(tmp_path, reader, error_type):
    link = str(tmp_path / "pip.conf")
    os.symlink("/dev/zero", link)
    kind, found = in_thread(reader, link)
    assert kind == "raised", found
    assert isinstance(found, error_type)
    assert "not a regular file" in found.msg


@pytest.mark.parametrize("reader, error_type", READERS)
def test_size_limit(tmp_path, reader, error_type):
    line = b"# " + b"x" * 1021 + b"\n"  # 1 KiB lines
    exact = tmp_path / "exact.conf"
    exact.write_bytes(b"[global]\n" + line * 1023 + b"#" * (CONFIG_MAX_BYTES - 9 - 1024 * 1023 - 1) + b"\n")
    assert exact.stat().st_size == CONFIG_MAX_BYTES
    assert len(reader(str(exact))) == CONFIG_MAX_BYTES  # the limit itself is read
    large = tmp_path / "large.conf"
    large.write_bytes(exact.read_bytes() + b"\n")
    with pytest.raises(error_type) as caught:
        reader(str(large))
    assert str(CONFIG_MAX_BYTES) in caught.value.msg
    assert caught.value.path == str(large)
    assert "#" not in str(caught.value)


class Growing:
    """fstat that reports a small regular file, for a file that grows after it was checked."""

    def __init__(self, real):
        self.real = real

    def __call__(self, fd):
        found = self.real(fd)
        return os.stat_result((stat.S_IFREG | 0o644, found.st_ino, found.st_dev, 1, 0, 0, 10, 0, 0, 0))


@pytest.mark.parametrize("reader, error_type", READERS)
def test_file_grown_past_the_limit_after_fstat(tmp_path, monkeypatch, reader, error_type):
    path = tmp_path / "pip.conf"
    path.write_bytes(b"[global]\n" + b"#" * CONFIG_MAX_BYTES)
    monkeypatch.setattr(os, "fstat", Growing(os.fstat))
    with pytest.raises(error_type) as caught:
        reader(str(path))
    assert str(CONFIG_MAX_BYTES) in caught.value.msg


def test_default_reader_cases(tmp_path, monkeypatch):
    assert default_reader(str(tmp_path / "missing.conf")) is None
    with pytest.raises(ConfigError) as caught:
        default_reader(str(tmp_path))
    assert "it is a directory" in caught.value.msg
    monkeypatch.setattr(pip_config_read.locale, "getpreferredencoding", lambda do_setlocale=True: "utf-8")
    undecodable = tmp_path / "bad.conf"
    undecodable.write_bytes(b"[global]\ncache-dir = " + SECRET.encode() + b"\xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        default_reader(str(undecodable))
    assert "invalid utf-8 characters" in caught.value.msg
    assert SECRET not in str(caught.value)
    crlf = tmp_path / "crlf.conf"
    crlf.write_bytes(b"[global]\r\ncache-dir = /c\r\n")
    assert default_reader(str(crlf)) == "[global]\ncache-dir = /c\n"


@pytest.mark.parametrize(
    "text, kind, line",
    [
        (f"root:$6${SECRET}:19000:0:99999:7:::\n", "no [section] header", 1),
        (f"[g]\n  {SECRET}line\n", "neither a [section] nor key = value", 2),
        (f"[global]\ncache-dir = /c\n{SECRET} junk\nmore {SECRET}\n", "neither a [section] nor key = value", 3),
        (f"[{SECRET}]\nx = 1\n\n[{SECRET}]\n", "a section that appears twice", 4),
        (f"[global]\n{SECRET} = 1\n{SECRET} = 2\n", "a key that appears twice", 3),
        (f"[global]\nx = 1\n[{SECRET}\n", "neither a [section] nor key = value", 3),
    ],
    ids=["passwd-line", "continuation-first", "junk-lines", "duplicate-section", "duplicate-option", "open-bracket"],
)
def test_parse_errors_name_kind_and_line_never_text(text, kind, line):
    with pytest.raises(ConfigError) as caught:
        read_config_text(text, origin="/home/u/.config/pip/pip.conf")
    message = str(caught.value)
    assert kind in message
    assert f"(line {line})" in message
    assert caught.value.path == "/home/u/.config/pip/pip.conf"
    assert SECRET not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no parser message rides along


def test_no_cache_dir_invalid_value_from_a_file_is_not_quoted(tmp_path):
    home = os.path.realpath(str(tmp_path))
    config = os.path.join(home, ".config", "pip", "pip.conf")
    os.makedirs(os.path.dirname(config))
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(f"[global]\nno-cache-dir = {SECRET}\n")
    context = HostContext(platform="linux", environ={"HOME": home}, exists=lambda path: path == config)
    with pytest.raises(ConfigError) as caught:
        resolve(context)
    message = str(caught.value)
    assert SECRET not in message
    assert "the no-cache-dir value" in message
    assert f"[global] in {config}" in message
    assert caught.value.path == config


def test_no_cache_dir_invalid_value_from_the_environment_is_quoted(tmp_path):
    context = HostContext(platform="linux", environ={"HOME": str(tmp_path), "PIP_NO_CACHE_DIR": "maybe"}, exists=lambda path: False)
    with pytest.raises(ConfigError) as caught:
        resolve(context)
    message = str(caught.value)
    assert "no-cache-dir = 'maybe'" in message
    assert "PIP_NO_CACHE_DIR" in message
    assert caught.value.path is None


def test_the_diff_masks_credentials_in_urls():
    from ansible_collections.fleet.cache.plugins.module_utils._tasks.pip_config import mask_credentials

    text = "[global]\nindex-url = https://ci:s3cr3t-token@pypi.example.com/simple\nextra-index-url = http://mirror/simple file:///opt/pypi\n"
    masked = mask_credentials(text)
    assert "s3cr3t-token" not in masked and "ci:" not in masked
    assert masked == text.replace("ci:s3cr3t-token@", "********@")


# --- booleans, as pip reads them ------------------------------------------------------------------


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


# --- configuration files, in pip's order ----------------------------------------------------------


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


# --- parsing and reading files --------------------------------------------------------------------


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
