# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A scan shared with helper processes gives exactly the figures of a scan in one process, whatever the helpers do."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
import warnings

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import parallel as core_parallel
from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._pip import count as pip_count
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import scan_figures

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="helper processes need os.fork"),
    # The test runner keeps threads of its own; the scan itself starts no helper from a threaded process.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]


def _wheel(index: int) -> str:
    key = f"{index * 2654435761 % 2**32:08x}"
    return f"wheels/{key[:2]}/{key[2:4]}/{key[4:6]}/{key}/Project_{index % 7}-{index}.0-py3-none-any.whl"


@pytest.fixture
def big_cache(tmp_path, build_tree):
    """Every bucket with many folders, links, a file in a bucket's own folder and one deeper than MAX_DEPTH."""
    files = {}
    for index in range(120):
        key = f"{index * 7919:05x}"
        files[f"http-v2/{key[0]}/{key[1]}/{key[2]}/{key[3]}/{key[4]}/{key}"] = (10 + index, index % 30)
        files[f"http-v2/{key[0]}/{key[1]}/{key[2]}/{key[3]}/{key[4]}/{key}.body"] = (100 + index, index % 30)
        files[f"http/{key[4]}/{key[3]}/{key[2]}/{key[1]}/{key[0]}/{key}"] = (50 + index, index % 40)
        files[_wheel(index)] = (1000 + index, index % 50)
        files[os.path.dirname(_wheel(index)) + "/origin.json"] = (20, index % 50)
    files["selfcheck/abc"] = (30, 1)
    files["wheels/loose-1.0-py3-none-any.whl"] = (7, 2)
    files["wheels/d/" + "/".join(f"n{level}" for level in range(core_walk.MAX_DEPTH + 2)) + "/deep-1.0-py3-none-any.whl"] = (9, 1)
    files["junk/a/b"] = (5, 1)
    root = os.path.realpath(build_tree(str(tmp_path / "cache"), files))
    os.symlink(root + "/junk", root + "/http-v2/0/link-to-folder")
    os.symlink("nowhere", root + "/wheels/00/dangling-1.0-py3-none-any.whl")
    return root


def _scan(root, helpers, **options):
    return scan(root, list_matcher=NameMatcher(glob="project_3", case_insensitive=True), list_limit=5, case_insensitive=True, helpers=helpers, **options)


@pytest.fixture
def split_at_once(monkeypatch):
    monkeypatch.setattr(pip_count, "SPLIT_AFTER", 0)


@pytest.mark.parametrize("helpers", [1, 2, 3])
def test_shared_scan_equals_the_single_process_scan(big_cache, split_at_once, helpers):
    alone = _scan(big_cache, 0)
    shared = _scan(big_cache, helpers)
    assert alone.helper_peaks_kib == []
    assert len(shared.helper_peaks_kib) == helpers and all(peak > 0 for peak in shared.helper_peaks_kib)
    assert scan_figures(shared) == scan_figures(alone)
    assert alone.buckets["http-v2"].files == 240 and alone.buckets["wheels"].entries == 122
    assert alone.wheels.truncated and len(alone.wheels.items()) == 5
    assert alone.errors.count == 1 and "deeper than" in alone.errors.items[0]["error"]


def test_a_small_cache_starts_no_helper(big_cache, monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("a cache below SPLIT_AFTER forked"))
    result = _scan(big_cache, 3)
    assert result.helper_peaks_kib == [] and result.buckets["http"].files == 120


def _helper_does(monkeypatch, action):
    real = pip_count._count_share

    def count_share(share, rules):
        action()
        return real(share, rules)

    monkeypatch.setattr(pip_count, "_count_share", count_share)


def _raise():
    raise OSError(errno.EIO, "input/output error")


@pytest.mark.parametrize(
    "action",
    [_raise, lambda: os.kill(os.getpid(), signal.SIGKILL), lambda: os._exit(0), lambda: sys.exit(3)],
    ids=["raises", "killed", "exits-without-result", "sys-exit"],
)
def test_a_failing_helper_has_its_share_counted_here(big_cache, split_at_once, monkeypatch, action):
    expected = scan_figures(_scan(big_cache, 0))
    _helper_does(monkeypatch, action)
    result = _scan(big_cache, 2)
    assert result.helper_peaks_kib == []  # no helper's result was taken
    assert scan_figures(result) == expected


def test_no_process_can_be_started(big_cache, split_at_once, monkeypatch):
    expected = scan_figures(_scan(big_cache, 0))

    def no_fork():
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    result = _scan(big_cache, 2)
    assert result.helper_peaks_kib == [] and scan_figures(result) == expected


def test_a_path_too_long_in_a_helper_walks_that_bucket_again(big_cache, split_at_once, monkeypatch):
    expected = scan_figures(_scan(big_cache, 0))
    real = core_walk.list_dir
    parent = os.getpid()

    def list_dir(path, fd):
        if fd is None and os.getpid() != parent and "/wheels/" in path:
            raise OSError(errno.ENAMETOOLONG, "File name too long", path)
        return real(path, fd)

    monkeypatch.setattr(core_walk, "list_dir", list_dir)
    result = _scan(big_cache, 2)
    assert len(result.helper_peaks_kib) == 2
    assert scan_figures(result) == expected


def test_errors_in_helpers_are_reported(big_cache, split_at_once, monkeypatch):
    real = core_walk.list_dir

    def list_dir(path, fd):
        if path.endswith("/http/1"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real(path, fd)

    monkeypatch.setattr(core_walk, "list_dir", list_dir)
    alone, shared = _scan(big_cache, 0), _scan(big_cache, 2)
    assert any(item["path"].endswith("/http/1") and item["error"] == "Permission denied" for item in shared.errors.items)
    assert scan_figures(shared) == scan_figures(alone) and alone.errors.count == 2


def test_a_result_larger_than_a_pipe_holds(big_cache, split_at_once):
    """Helpers write while the scanning process still counts: a result beyond the pipe's buffer must not block."""
    kwargs = {"list_matcher": NameMatcher(glob="*"), "list_limit": 100_000}
    alone, shared = scan(big_cache, helpers=0, **kwargs), scan(big_cache, helpers=3, **kwargs)
    assert [item.as_dict() for item in shared.wheels.items()] == [item.as_dict() for item in alone.wheels.items()]
    assert shared.wheels.count == alone.wheels.count == 122


def test_a_result_that_cannot_be_sent_is_a_failure():
    outcome = core_parallel.finish(core_parallel.start(object))  # marshal cannot send an object(): the helper fails
    assert outcome.result is None and outcome.peak_kib is None


@pytest.mark.parametrize("result", [None, "text", [("http", ())], [("http", (1,) * 5)]])
def test_a_result_of_the_wrong_shape_is_not_taken(result):
    rules = pip_count.Rules(False, None, None)
    assert pip_count._received(result, rules) is None


def test_a_helper_sends_plain_values_back():
    outcome = core_parallel.finish(core_parallel.start(lambda: [("http", (1, 2.5, None, "caf\udce9"))]))
    assert outcome.result == [("http", (1, 2.5, None, "caf\udce9"))]
    assert isinstance(outcome.peak_kib, int) and outcome.peak_kib > 0


def test_available_helpers(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)), raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert core_parallel.available_helpers() == core_parallel.MAX_HELPERS == 3
    assert core_parallel.available_helpers(limit=1) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)
    assert core_parallel.available_helpers() == 0
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    assert core_parallel.available_helpers() == 1
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert core_parallel.available_helpers() == 0, "a threaded process forks no helper"
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.delattr(os, "fork")
    assert core_parallel.available_helpers() == 0, "no os.fork (Windows): no helper"


def test_the_scan_is_unchanged_where_helpers_are_not_available(big_cache, split_at_once, monkeypatch):
    expected = scan_figures(_scan(big_cache, 0))
    monkeypatch.setattr(core_parallel, "available_helpers", lambda limit=3: 0)
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("forked where no helper is available"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = _scan(big_cache, None)
    assert result.helper_peaks_kib == [] and result.buckets["wheels"].files == 242
    assert scan_figures(result) == expected


def test_helpers_are_stopped_when_the_scan_fails(big_cache, split_at_once, monkeypatch):
    """An error in the scanning process's own share ends the helpers too: none is left running or unreaped."""
    started = []
    real_start, real_list_dir, parent = core_parallel.start, core_walk.list_dir, os.getpid()

    def start(work):
        helper = real_start(work)
        started.append(helper)
        return helper

    def list_dir(path, fd):
        if os.getpid() == parent and started and "/wheels/" in path:
            raise KeyboardInterrupt  # anything the count does not handle
        if os.getpid() != parent:
            signal.pause()  # a helper that would never finish on its own
        return real_list_dir(path, fd)

    monkeypatch.setattr(core_parallel, "start", start)
    monkeypatch.setattr(core_walk, "list_dir", list_dir)
    with pytest.raises(KeyboardInterrupt):
        _scan(big_cache, 2)
    assert len(started) == 2
    for helper in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(helper.pid, os.WNOHANG)  # reaped already
