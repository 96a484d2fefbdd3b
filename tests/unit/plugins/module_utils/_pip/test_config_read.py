# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading pip's configuration files: only regular files of at most 1 MiB, never blocking, and errors that name the
file, the kind of problem and its line, never the file's text."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError, ConfigError
from ansible_collections.fleet.cache.plugins.module_utils._pip import config_read as pip_config_read
from ansible_collections.fleet.cache.plugins.module_utils._pip.config_read import CONFIG_MAX_BYTES, default_reader, read_config_text
from ansible_collections.fleet.cache.plugins.module_utils._pip.host import HostContext
from ansible_collections.fleet.cache.plugins.module_utils._pip.resolve import resolve
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_config as task_pip_config

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
