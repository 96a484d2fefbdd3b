# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scanning synthetic caches in pip's layout: per-bucket figures, pip cache info's lines, wheel lists."""

from __future__ import annotations

import os
import time

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._pip import count as pip_count
from ansible_collections.fleet.cache.plugins.module_utils._pip.layout import BucketStats, CappedList
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher, check_glob_pattern, pip_wheel_pattern
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import platform_path_module, scan
from ansible_collections.fleet.cache.plugins.module_utils._pip.version import parse_requirement

DAY = 86400

# path -> (size, age in days)


def test_scan_standard_tree(cache, build_tree):
    now = build_tree.now
    result = scan(cache)
    assert result.exists is True
    figures = {name: (stats.files, stats.bytes, stats.entries, stats.dirs) for name, stats in result.buckets.items()}
    assert figures == {
        "http-v2": (4, 3850, 2, 7),
        "http": (1, 3000, 1, 6),
        "wheels": (6, 15060, 3, 10),
        "selfcheck": (1, 100, 1, 1),
    }
    assert (result.other.files, result.other.bytes, result.other.entries, result.other.dirs) == (2, 60, 2, 0)
    total = result.total
    assert (total.files, total.bytes, total.entries, total.dirs) == (14, 22070, 9, 24)
    assert result.http_files == 5
    assert result.http_bytes == 6850
    assert result.pip_wheel_count == 3
    assert result.buckets["http"].oldest == now - 100 * DAY
    assert total.oldest == now - 300 * DAY
    assert total.newest == now - 1 * DAY
    assert result.errors.count == 0


def test_pip_cache_info_lines(cache):
    result = scan(cache)
    assert result.pip_info_lines() == [
        f"Package index page cache location (pip v23.3+): {cache}/http-v2",
        f"Package index page cache location (older pips): {cache}/http",
        "Package index page cache size: 6.8 kB",  # 6.85 rounds down in binary floating point, as in pip
        "Number of HTTP files: 5",
        f"Locally built wheels location: {cache}/wheels",
        "Locally built wheels size: 15 kB",
        "Number of locally built wheels: 3",
    ]
    info = result.pip_info()
    assert (info["http_size"], info["http_files"], info["wheels_size"], info["wheels_count"]) == (6850, 5, 15060, 3)


def test_bucket_stats_as_dict(cache, build_tree):
    now = build_tree.now
    stats = scan(cache).buckets["http"].as_dict()
    assert stats == {
        "files": 1,
        "bytes": 3000,
        "entries": 1,
        "dirs": 6,
        "oldest": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 100 * DAY)),
        "newest": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 100 * DAY)),
    }
    assert BucketStats().as_dict() == {"files": 0, "bytes": 0, "entries": 0, "dirs": 0, "oldest": None, "newest": None}


def test_scan_missing_cache(tmp_path):
    result = scan(str(tmp_path / "missing"))
    assert result.exists is False
    assert (result.total.files, result.total.bytes, result.pip_wheel_count) == (0, 0, 0)
    assert result.pip_info_lines()[2:4] == ["Package index page cache size: 0 bytes", "Number of HTTP files: 0"]


def test_scan_counts_only_pips_wheel_pattern(tmp_path, build_tree):
    root = build_tree(
        str(tmp_path / "c"),
        {
            "wheels/aa/bb/cc/dd/good-1.0-py3-none-any.whl": (10, 1),
            "wheels/aa/bb/cc/dd/nohyphen.whl": (10, 1),
            "wheels/aa/bb/cc/dd/notes.txt": (10, 1),
            "wheels/aa/bb/cc/dd/Upper-1.0-py3-none-any.WHL": (10, 1),
        },
    )
    result = scan(root)
    assert result.pip_wheel_count == 1
    assert result.buckets["wheels"].bytes == 40
    # On Windows pip's fnmatch is case-insensitive.
    assert scan(root, case_insensitive=True).pip_wheel_count == 2


def test_scan_lists_wheels_with_matcher_sorted_and_capped(cache):
    result = scan(cache, list_matcher=NameMatcher(glob="*"))
    assert [item.filename for item in result.wheels.items()] == [
        "Foo_Bar-2.0-py3-none-any.whl",
        "foo_bar-1.0-py3-none-any.whl",
        "tiny-1.0-py3-none-any.whl",
    ]
    item = result.wheels.items()[0].as_dict()
    assert item["path"] == os.path.join(cache, "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl")
    assert (item["name"], item["normalized_name"], item["version"], item["build"], item["tags"], item["bytes"], item["size"]) == (
        "Foo_Bar",
        "foo-bar",
        "2.0",
        None,
        "py3-none-any",
        5000,
        "5.0 kB",
    )
    assert item["pip_line"] == " - Foo_Bar-2.0-py3-none-any.whl (5.0 kB)"
    capped = scan(cache, list_matcher=NameMatcher(glob="*"), list_limit=2)
    assert (len(capped.wheels.items()), capped.wheels.count, capped.wheels.truncated) == (2, 3, True)


def test_wheels_are_listed_in_pip_cache_lists_order(tmp_path, build_tree, monkeypatch):
    """pip sorts the lines it prints (name, then size as words), not the paths: the pip_lines joined are pip's output,
    and a capped list keeps pip's first lines."""
    root = build_tree(
        str(tmp_path / "c"),
        {
            "wheels/01/00/00/aa/zeta-1.0-py3-none-any.whl": (10, 1),
            "wheels/02/00/00/aa/Alpha-1.0-py3-none-any.whl": (2000, 1),
            "wheels/03/00/00/aa/alpha-1.0-py3-none-any.whl": (10, 1),
            "wheels/04/00/00/aa/beta-1.0-py3-none-any.whl": (20000, 1),
            "wheels/05/00/00/aa/beta-1.0-py3-none-any.whl": (1500, 1),
        },
    )
    lines = [
        " - Alpha-1.0-py3-none-any.whl (2.0 kB)",
        " - alpha-1.0-py3-none-any.whl (10 bytes)",
        " - beta-1.0-py3-none-any.whl (1.5 kB)",
        " - beta-1.0-py3-none-any.whl (20 kB)",
        " - zeta-1.0-py3-none-any.whl (10 bytes)",
    ]
    assert lines == sorted(lines)  # what pip's format_for_human prints
    monkeypatch.setattr(pip_count, "SPLIT_AFTER", 0)  # with helpers: the folders are shared out at once
    for helpers in (0, 2):
        result = scan(root, list_matcher=NameMatcher(glob="*"), helpers=helpers)
        assert [item.as_dict()["pip_line"] for item in result.wheels.items()] == lines
        assert len(result.helper_peaks_kib) == helpers
        capped = scan(root, list_matcher=NameMatcher(glob="*"), list_limit=2, helpers=helpers)
        assert [item.as_dict()["pip_line"] for item in capped.wheels.items()] == lines[:2]
        assert (capped.wheels.count, capped.wheels.truncated) == (5, True)


def test_scan_wheel_selection(cache):
    for matcher, expected in [
        (NameMatcher(glob="foo_bar"), ["foo_bar-1.0-py3-none-any.whl"]),
        (NameMatcher(glob="Foo_Bar"), ["Foo_Bar-2.0-py3-none-any.whl"]),
        (NameMatcher(glob="foo_bar", case_insensitive=True), ["Foo_Bar-2.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"]),
        (NameMatcher(glob="tiny-1"), ["tiny-1.0-py3-none-any.whl"]),
        (NameMatcher(glob="tiny-2"), []),
        (NameMatcher(requirements=[parse_requirement("FOO.bar")]), ["Foo_Bar-2.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"]),
        (NameMatcher(requirements=[parse_requirement("foo-bar<2")]), ["foo_bar-1.0-py3-none-any.whl"]),
        (NameMatcher(requirements=[parse_requirement("tiny"), parse_requirement("foo_bar>=2")]), ["Foo_Bar-2.0-py3-none-any.whl", "tiny-1.0-py3-none-any.whl"]),
    ]:
        result = scan(cache, list_matcher=matcher)
        assert sorted(item.filename for item in result.wheels.items()) == sorted(expected)
        assert result.wheels.count == len(expected)
        assert result.pip_wheel_count == 3


def test_scan_other_top_level_folder(tmp_path, build_tree):
    root = build_tree(str(tmp_path / "c"), {"unknown/x/y.bin": (7, 1), "wheels/aa/z-1.0-py3-none-any.whl": (3, 1)})
    result = scan(root)
    assert (result.other.files, result.other.bytes, result.other.entries, result.other.dirs) == (1, 7, 1, 2)
    assert result.total.bytes == 10


def test_scan_links_count_as_pip_counts_them(tmp_path, build_tree):
    outside = build_tree(str(tmp_path / "outside"), {"big.bin": (9000, 1), "dir/inner.bin": (500, 1), "wheels/aa/linked-1.0-py3-none-any.whl": (800, 1)})
    root = build_tree(str(tmp_path / "c"), {"http/a/real": (100, 1)})
    os.symlink(os.path.join(outside, "big.bin"), os.path.join(root, "http/a/link-to-file"))
    os.symlink(os.path.join(outside, "dir"), os.path.join(root, "http/a/link-to-dir"))
    os.symlink(os.path.join(outside, "wheels"), os.path.join(root, "wheels"))
    result = scan(root)
    # A link to a file is a file of 0 bytes; a link to a folder is neither counted nor entered.
    assert (result.buckets["http"].files, result.buckets["http"].bytes, result.buckets["http"].entries) == (2, 100, 2)
    # A bucket that is itself a link is neither entered nor counted (pip's os.walk would enter it): the same in the
    # scan as in removal, and said in a warning.
    assert (result.buckets["wheels"].files, result.buckets["wheels"].bytes, result.pip_wheel_count) == (0, 0, 0)
    assert result.warnings == [f"{os.path.join(root, 'wheels')} is a symbolic link: left alone, its target is neither counted nor entered"]


# --- patterns and CappedList ----------------------------------------------------------------------


def test_pip_wheel_pattern():
    for pattern, expected in [("requests", "requests-*.whl"), ("requests-2.*", "requests-2.**.whl"), ("*", "*-*.whl"), ("a-b", "a-b*.whl")]:
        assert pip_wheel_pattern(pattern) == expected


def test_check_glob_pattern_rejects():
    for pattern in ["", "a/b", "a\\b", ".", "..", "a\x00", "x" * 513, None]:
        with pytest.raises(InvalidValue) as caught:
            check_glob_pattern(pattern, option="pattern")
        assert caught.value.option == "pattern"


def test_check_glob_pattern_accepts():
    assert check_glob_pattern("numpy-1.*") == "numpy-1.*"


def test_capped_list_keeps_the_smallest_keys():
    capped = CappedList(3)
    for key in ["m", "c", "z", "a", "q", "b", "c"]:
        capped.add(key, key.upper())
    assert capped.items() == ["A", "B", "C"]
    assert (capped.count, capped.truncated) == (7, True)


def test_capped_list_equal_keys_keep_arrival_order():
    capped = CappedList(5)
    for index, key in enumerate(["b", "a", "b", "a"]):
        capped.add(key, index)
    assert capped.items() == [1, 3, 0, 2]
    assert capped.truncated is False


def test_capped_list_not_truncated_at_the_limit_and_zero_limit():
    capped = CappedList(2)
    capped.add("y", 1)
    capped.add("x", 2)
    assert (capped.items(), capped.truncated) == ([2, 1], False)
    empty = CappedList(0)
    empty.add("a", 1)
    assert (empty.items(), empty.count, empty.truncated) == ([], 1, True)


def test_capped_list_large_stream():
    capped = CappedList(10)
    keys = [f"{(index * 7919) % 1000:04d}" for index in range(1000)]
    for key in keys:
        capped.add(key, key)
    assert capped.items() == sorted(keys)[:10]
    assert capped.count == 1000


def test_platform_path_module():
    assert platform_path_module("win32").join("C:\\a", "b") == "C:\\a\\b"
    assert platform_path_module("darwin").join("/a", "b") == "/a/b"


def test_scan_can_leave_other_folders_unwalked(tmp_path, build_tree):
    """walk_other=False (a cache_dir that is /, a home or system folder): pip's buckets only, the rest is not entered."""
    root = build_tree(str(tmp_path / "c"), {"wheels/aa/bb/cc/dd/x-1.0-py3-none-any.whl": (10, 1), "junk/deep/er/file": (500, 1), "top.txt": (7, 1)})
    full = scan(root)
    bounded = scan(root, walk_other=False)
    assert (full.other.bytes, full.other.dirs) == (507, 3)
    assert (full.other.entries, bounded.other.as_dict()) == (2, BucketStats().as_dict())
    assert bounded.buckets["wheels"].as_dict() == full.buckets["wheels"].as_dict()
