# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pip_cache_info end to end: main() on a cache in tmp_path, its printed result read back."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.fleet.cache.tests.unit.plugins.conftest import deny_listing


def warnings_text(result):
    """The result's warnings as one text (plain strings, or structured summaries in newer ansible-core)."""
    return json.dumps(result.get("warnings", []))


def test_reports_a_cache(run_module, cache, tree_fingerprint):
    before = tree_fingerprint(cache)
    code, result = run_module.info({"cache_dir": cache})
    assert code == 0
    assert result["changed"] is False
    assert (result["cache_dir"], result["source"], result["disabled"], result["exists"]) == (cache, "option", False, True)
    assert result["pip_cache_info_lines"] == [
        f"Package index page cache location (pip v23.3+): {cache}/http-v2",
        f"Package index page cache location (older pips): {cache}/http",
        "Package index page cache size: 6.8 kB",
        "Number of HTTP files: 5",
        f"Locally built wheels location: {cache}/wheels",
        "Locally built wheels size: 15 kB",
        "Number of locally built wheels: 3",
    ]
    assert len(result["pip_cache_info_lines"]) == 7
    assert {key: result["total"][key] for key in ("files", "bytes", "entries", "dirs")} == {"files": 14, "bytes": 22070, "entries": 9, "dirs": 24}
    assert result["buckets"]["wheels"]["bytes"] == 15060
    assert result["other"]["files"] == 2
    assert (result["wheels_count"], result["wheels_truncated"]) == (3, False)
    assert [item["filename"] for item in result["wheels"]] == ["Foo_Bar-2.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl", "tiny-1.0-py3-none-any.whl"]
    assert len(result["caches"]) == 1
    assert result["caches"][0]["pip_cache_info_lines"] == result["pip_cache_info_lines"]
    assert result["resolution"]["setting"] == {"key": "cache-dir", "value": cache, "origin": "option", "section": "cache_dir"}
    assert result["errors"] == []
    assert "downloads" not in result
    assert tree_fingerprint(cache) == before


def test_check_mode_reports_the_same(run_module, cache):
    _code, plain = run_module.info({"cache_dir": cache})
    _code, checked = run_module.info({"cache_dir": cache, "_ansible_check_mode": True})
    assert checked["changed"] is False
    assert checked["pip_cache_info_lines"] == plain["pip_cache_info_lines"]
    assert checked["total"] == plain["total"]


SELECTIONS = [
    ({"pattern": "foo_bar"}, ["foo_bar-1.0-py3-none-any.whl"]),
    ({"pattern": "tiny-1.0"}, ["tiny-1.0-py3-none-any.whl"]),
    ({"pattern": "nothing"}, []),
    ({"name": ["FOO.bar"]}, ["Foo_Bar-2.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"]),
    ({"name": ["foo-bar<2", "tiny"]}, ["foo_bar-1.0-py3-none-any.whl", "tiny-1.0-py3-none-any.whl"]),
]


def test_wheel_selection(run_module, cache):
    for args, expected in SELECTIONS:
        _code, result = run_module.info(dict(args, cache_dir=cache))
        assert [item["filename"] for item in result["wheels"]] == expected, args
        assert result["wheels_count"] == len(expected)
        # The pip figures do not depend on the selection.
        assert result["pip_cache_info_lines"][6] == "Number of locally built wheels: 3"


def test_limit_caps_lists_not_counts(run_module, cache):
    _code, result = run_module.info({"cache_dir": cache, "limit": 1})
    assert (len(result["wheels"]), result["wheels_count"], result["wheels_truncated"]) == (1, 3, True)
    assert result["wheels"][0]["filename"] == "Foo_Bar-2.0-py3-none-any.whl"


def test_without_wheels_list(run_module, cache):
    _code, result = run_module.info({"cache_dir": cache, "wheels": False})
    assert "wheels" not in result
    assert result["pip_cache_info"]["wheels_count"] == 3


def test_downloads(run_module, tmp_path):
    root = tmp_path / "cache"
    entry = root / "http-v2" / "a" / "b" / "c" / "d" / "e"
    entry.mkdir(parents=True)
    (entry / "k1").write_bytes(b"cc=4,\x80")
    (entry / "k1.body").write_bytes(b"<html><h1>Links for PyYAML</h1></html>")
    (entry / "k2").write_bytes(b"cc=4,\x80")
    (entry / "k2.body").write_bytes(b"\x00\x01junk")
    _code, result = run_module.info({"cache_dir": str(root), "downloads": True})
    assert (result["downloads_count"], result["downloads_unrecognised"], result["downloads_truncated"]) == (1, 1, False)
    assert {key: result["downloads"][0][key] for key in ("kind", "name", "normalized_name", "version", "files")} == {
        "kind": "index",
        "name": "PyYAML",
        "normalized_name": "pyyaml",
        "version": None,
        "files": 2,
    }
    _code, result = run_module.info({"cache_dir": str(root), "downloads": True, "name": ["requests"]})
    assert (result["downloads"], result["downloads_count"]) == ([], 0)


def test_missing_cache(run_module, tmp_path):
    missing = os.path.realpath(str(tmp_path)) + "/nothing-here"
    code, result = run_module.info({"cache_dir": missing})
    assert code == 0
    assert (result["exists"], result["changed"]) == (False, False)
    assert result["pip_cache_info_lines"][2:4] == ["Package index page cache size: 0 bytes", "Number of HTTP files: 0"]
    assert not os.path.exists(missing)


BAD_INPUT = [
    ({"pattern": "a/b"}, "pattern"),
    ({"pattern": ""}, "pattern"),
    ({"name": ["requests/../x"]}, "name"),
    ({"name": ["requests>=abc"]}, "name"),
    ({"name": [""]}, "name"),
    ({"limit": -1}, "limit"),
    ({"pattern": "x", "name": ["x"]}, "pattern"),
    ({"command": "bogus"}, "command"),
    ({"limit": "many"}, "limit"),
    ({"user": "no-such-user-fleet-cache-test"}, "user"),
    ({"unknown_option": 1}, "unknown_option"),
]


def test_bad_input_fails_cleanly(run_module, cache):
    wrong = []
    for args, fragment in BAD_INPUT:
        code, result = run_module.info(dict(args, cache_dir=cache))
        message = result.get("msg", "")
        if code != 1 or result.get("failed") is not True or fragment not in message or "Traceback" in message or "exception" in result:
            wrong.append((args, code, message))
    assert wrong == []


def test_environment_option_sets_pips_variables(run_module, tmp_path, cache):
    _code, result = run_module.info({"environment": {"PIP_CACHE_DIR": cache}})
    assert (result["cache_dir"], result["source"], result["exists"]) == (cache, "env", True)
    assert result["resolution"]["setting"]["section"] == "PIP_CACHE_DIR"
    assert result["pip_cache_info_lines"][6] == "Number of locally built wheels: 3"


def test_environment_option_can_disable_the_cache(run_module, cache):
    code, result = run_module.info({"environment": {"PIP_CACHE_DIR": cache, "PIP_NO_CACHE_DIR": "1"}})
    assert code == 0
    assert (result["cache_dir"], result["disabled"], result["exists"], result["source"]) == (None, True, False, "disabled")
    assert "PIP_NO_CACHE_DIR" in result["disabled_reason"]
    assert "pip_cache_info_lines" not in result


def test_invalid_no_cache_dir_fails_cleanly(run_module, cache):
    code, result = run_module.info({"environment": {"PIP_NO_CACHE_DIR": "maybe"}})
    assert code == 1
    assert "no-cache-dir" in result["msg"]
    assert "PIP_NO_CACHE_DIR" in result["msg"]


def _host_config_mentions_no_cache_dir():
    for path in ("/etc/pip.conf", "/etc/xdg/pip/pip.conf", os.path.join(sys.prefix, "pip.conf")):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text = handle.read().replace("_", "-")
        except OSError:
            continue
        if "no-cache-dir" in text:
            return True
    return False


def test_config_file_sections_per_command(run_module, tmp_path, cache):
    if _host_config_mentions_no_cache_dir():
        pytest.skip("this host's global pip configuration disables the cache")
    other = os.path.join(os.path.realpath(str(tmp_path)), "install-cache")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ncache-dir = {cache}\n[install]\ncache-dir = {other}\n", encoding="utf-8")
    _code, result = run_module.info({"environment": {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}})
    assert (result["cache_dir"], result["source"]) == (cache, "config")
    assert result["resolution"]["setting"] == {"key": "cache-dir", "value": cache, "origin": str(conf), "section": "global"}
    assert result["commands"] == {"install": {"cache_dir": other, "source": "config", "disabled": False}}
    assert "'pip install' uses " + other in warnings_text(result)
    _code, result = run_module.info({"environment": {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}, "command": "install"})
    assert (result["cache_dir"], result["exists"]) == (other, False)
    assert result["commands"]["cache"]["cache_dir"] == cache


def test_unreadable_folder_is_reported(run_module, cache, monkeypatch):
    locked = os.path.join(cache, "wheels", "ab")
    deny_listing(monkeypatch, locked)
    code, result = run_module.info({"cache_dir": cache})
    assert code == 0
    assert result["errors"] == [{"path": locked, "error": "Permission denied"}]
    assert locked + ": Permission denied" in warnings_text(result)
    # The rest of the cache is still counted.
    assert result["wheels_count"] == 2
    assert result["pip_cache_info_lines"][3] == "Number of HTTP files: 5"
