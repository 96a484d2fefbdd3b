# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pip_cache end to end: check mode, real run and a second run on a cache in tmp_path; bad input."""

from __future__ import annotations

import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.units import human_size
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan
from ansible_collections.fleet.cache.plugins.module_utils._tasks import pip_cache as task_pip_cache
from ansible_collections.fleet.cache.plugins.modules import pip_cache
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import FOO_BAR_1, FOO_BAR_2, K1, K2, K3, STANDARD_TREE, TINY


def files_left(root):
    found = []
    for directory, _dirs, files in os.walk(root):
        found.extend(os.path.relpath(os.path.join(directory, name), root) for name in files)
    return sorted(found)


def left_after(*gone):
    """The standard tree's files but those gone, as files_left lists them."""
    assert set(gone) <= set(STANDARD_TREE), sorted(set(gone) - set(STANDARD_TREE))
    return sorted(set(STANDARD_TREE) - set(gone))


def three_runs(run_module, cache, args, fingerprint):
    """Check mode, then for real, then again: (check result, real result, second result)."""
    before = fingerprint(cache)
    code, checked = run_module(pip_cache, dict(args, cache_dir=cache, _ansible_check_mode=True))
    assert code == 0
    assert fingerprint(cache) == before
    code, real = run_module(pip_cache, dict(args, cache_dir=cache))
    assert code == 0
    code, again = run_module(pip_cache, dict(args, cache_dir=cache))
    assert code == 0
    return checked, real, again


@pytest.mark.parametrize(
    "args, left",
    [
        ({"state": "purged"}, ["notes.txt", "selfcheck/5a5a"]),
        ({"state": "purged", "purge_extras": ["selfcheck"]}, ["notes.txt"]),
        ({"state": "absent", "name": ["Foo.Bar"]}, left_after(*FOO_BAR_2, *FOO_BAR_1, "selfcheck.json")),
        ({"state": "absent", "match": "glob", "name": ["tiny", "foo_bar-1"]}, left_after(*TINY, *FOO_BAR_1, "selfcheck.json")),
        ({"state": "pruned", "max_age": "30d"}, left_after(*K1, *K3, *TINY)),
        ({"state": "pruned", "ci": True}, left_after(*K1, *K2, *K3)),
        # 22070 bytes in all: freeing 10070 takes k3 (100 d), tiny (50 d) and k1 (40 d), 8220 bytes, then foo_bar 1.0 (10 d).
        ({"state": "pruned", "max_size": "12kB"}, left_after(*K3, *TINY, *K1, *FOO_BAR_1)),
    ],
    ids=["purged", "purged-selfcheck", "absent-name", "absent-glob", "pruned-age", "pruned-ci", "pruned-size"],
)
def test_check_then_real_then_again(run_module, cache, tree_fingerprint, args, left):
    before = scan(cache).total
    checked, real, again = three_runs(run_module, cache, args, tree_fingerprint)
    assert (checked["changed"], real["changed"], again["changed"]) == (True, True, False)
    assert files_left(cache) == left
    # Check mode predicted the real run exactly.
    assert checked["removed"] == real["removed"]
    assert checked["after"] == real["after"]
    assert checked["before"] == real["before"] == {"entries": before.entries, "files": before.files, "bytes": before.bytes, "size": human_size(before.bytes)}
    # ... and "after" is what a scan finds afterwards.
    after = scan(cache).total
    assert real["after"] == {"entries": after.entries, "files": after.files, "bytes": after.bytes, "size": human_size(after.bytes)}
    # pip's figures and the files that went with their folder (origin.json, selfcheck.json) add up to what went.
    assert real["removed"]["bytes"] + real["removed"]["extra_bytes"] == before.bytes - after.bytes
    assert real["removed"]["files"] + real["removed"]["extra_files"] == before.files - after.files
    assert (again["removed"]["files"], again["removed"]["dirs"], again["removed"]["bytes"], again["removed"]["largest"]) == (0, 0, 0, [])
    assert (again["removed"]["extra_files"], again["removed"]["extra_bytes"]) == (0, 0)
    assert again["before"] == again["after"] == real["after"]
    assert real["caches"][0]["cache_dir"] == cache
    assert real["caches"][0]["source"] == "option"


def test_purge_numbers(run_module, cache, tree_fingerprint):
    _checked, real, _again = three_runs(run_module, cache, {"state": "purged"}, tree_fingerprint)
    removed = real["removed"]
    # pip's "Files removed" (5 HTTP files, 3 wheels); the 3 origin.json and selfcheck.json are counted apart.
    assert {key: removed[key] for key in ("files", "dirs", "entries", "bytes", "freed", "extra_files", "extra_bytes", "largest_truncated")} == {
        "files": 8,
        "dirs": 23,
        "entries": 7,
        "bytes": 21850,
        "freed": "21 kB",
        "extra_files": 4,
        "extra_bytes": 110,
        "largest_truncated": False,
    }
    # One item per entry that went, largest first, each with its cache.
    assert len(removed["largest"]) == removed["entries"] == 7
    assert [item["bytes"] for item in removed["largest"]] == sorted((item["bytes"] for item in removed["largest"]), reverse=True)
    assert all(item["path"].startswith(cache + os.sep) and item["cache_dir"] == cache for item in removed["largest"])
    assert [(item["kind"], item["project"], item["version"]) for item in removed["largest"] if item["kind"] == "built wheel"] == [
        ("built wheel", "foo_bar", "1.0"),
        ("built wheel", "Foo_Bar", "2.0"),
        ("built wheel", "tiny", "1.0"),
    ]
    # The lines for people come first: what each cache freed, then the largest entries by name.
    user = real["caches"][0]["users"][0]
    assert real["about"][:2] == [f"{user}: {cache}: freed 21 kB (7 entries, 12 files); 22 kB -> 110 bytes", "  built wheel: foo_bar 1.0, 6.0 kB"]
    assert real["about"][-1] == f"  selfcheck, 50 bytes: {cache}/selfcheck.json"


def test_limit_caps_paths(run_module, cache):
    _code, result = run_module(pip_cache, {"state": "purged", "cache_dir": cache, "limit": 2, "_ansible_check_mode": True})
    assert (len(result["removed"]["largest"]), result["removed"]["largest_truncated"], result["removed"]["files"]) == (2, True, 8)
    assert result["about"][-1] == "  ... and 5 more entries"


def test_diff_mode(run_module, cache):
    _code, result = run_module(pip_cache, {"state": "pruned", "ci": True, "cache_dir": cache, "_ansible_diff": True, "_ansible_check_mode": True})
    # What goes, named as people name it (these HTTP files hold no real response: "http entry"), largest first.
    before = result["diff"]["before"].splitlines()
    assert before[0] == f"{cache}: 22 kB in 9 entries, 14 files"
    assert before[1:] == ["  http entry, 3.0 kB  http/a/b/c/d/e/k3", "  http entry, 2.6 kB  http-v2/0/1/2/3/5/k2", "  http entry, 1.2 kB  http-v2/0/1/2/3/4/k1"]
    assert result["diff"]["after"] == f"{cache}: 15 kB in 6 entries, 9 files\n"
    _code, capped = run_module(pip_cache, {"state": "pruned", "ci": True, "cache_dir": cache, "limit": 1, "_ansible_diff": True, "_ansible_check_mode": True})
    assert capped["diff"]["before"].splitlines()[2:] == ["  ... and 2 more entries (limit: 1 shown)"]


def test_nothing_to_remove_is_not_a_change(run_module, cache, tree_fingerprint):
    # Like 'pip cache remove', state=absent drops the legacy selfcheck.json even when no project matches (pip does not
    # count it among "Files removed"; nor do we).
    code, result = run_module(pip_cache, {"state": "absent", "name": ["not-cached"], "cache_dir": cache})
    assert (code, result["changed"], result["removed"]["files"]) == (0, True, 0)
    assert [(item["kind"], item["path"]) for item in result["removed"]["largest"]] == [("selfcheck", os.path.join(cache, "selfcheck.json"))]
    assert result["removed"]["extra_files"] == 1
    before = tree_fingerprint(cache)
    for args in ({"state": "absent", "name": ["not-cached"]}, {"state": "pruned", "max_age": "1000d"}, {"state": "pruned", "max_size": "1GB"}):
        code, result = run_module(pip_cache, dict(args, cache_dir=cache))
        assert (code, result["changed"], result["removed"]["files"]) == (0, False, 0)
    assert tree_fingerprint(cache) == before


def test_missing_cache_is_not_a_change(run_module, tmp_path):
    missing = os.path.join(os.path.realpath(str(tmp_path)), "missing")
    code, result = run_module(pip_cache, {"state": "purged", "cache_dir": missing})
    assert (code, result["changed"]) == (0, False)
    assert not os.path.exists(missing)
    assert result["about"] == [f"{result['caches'][0]['users'][0]}: {missing}: not there, nothing to do"]


@pytest.mark.parametrize("args", [{"state": "purged"}, {"state": "absent", "name": ["tiny"]}, {"state": "pruned", "max_size": "0"}])
def test_entries_younger_than_min_age_are_counted_and_said(run_module, cache, build_tree, args):
    """The default min_age (5m) spares what a running pip just wrote; the result says so instead of a silent 0."""
    build_tree(cache, {"wheels/99/88/77/66/tiny-2.0-py3-none-any.whl": (700, 0), "wheels/99/88/77/66/origin.json": (20, 0)})
    _code, result = run_module(pip_cache, dict(args, cache_dir=cache, _ansible_check_mode=True))
    removed = result["removed"]
    assert (removed["spared_entries"], removed["spared_bytes"]) == (1, 700), removed
    assert "1 entry (700 bytes) younger than min_age=5m left alone" in result["about"][0], result["about"]
    _code, now = run_module(pip_cache, dict(args, cache_dir=cache, min_age="0", _ansible_check_mode=True))
    assert (now["removed"]["spared_entries"], now["removed"]["spared_bytes"]) == (0, 0)
    assert now["removed"]["entries"] >= removed["entries"] + 1 and "left alone" not in now["about"][0]


def test_about_names_each_cache_its_users_and_the_total():
    """Several caches: one line each, a total, and each largest entry with the users of its cache."""
    entry = {"kind": "download", "project": "idna", "version": "3.10", "bytes": 69000, "size": "69 kB"}
    done = {"bytes": 69000, "extra_bytes": 0, "entries": 1, "files": 2, "extra_files": 0, "spared_entries": 0, "spared_bytes": 0}
    caches = [
        {"cache_dir": "/root/.cache/pip", "users": ["root"], "exists": True, "removed": done, "before": {"bytes": 69000}, "after": {"bytes": 0}},
        {"cache_dir": "/home/a/.cache/pip", "users": ["a", "b"], "exists": True, "removed": done, "before": {"bytes": 69000}, "after": {"bytes": 0}},
        {"cache_dir": "/home/c/.cache/pip", "users": ["c"], "exists": False, "removed": done, "before": {"bytes": 0}, "after": {"bytes": 0}},
        {"cache_dir": None, "users": ["d"], "disabled_reason": "PIP_NO_CACHE_DIR in the environment"},
    ]
    removed = {
        "bytes": 138000,
        "extra_bytes": 0,
        "entries": 3,
        "largest": [dict(entry, cache_dir="/home/a/.cache/pip"), dict(entry, cache_dir="/root/.cache/pip")],
    }
    assert task_pip_cache.about_lines(caches, removed, dry_run=True, min_age=300) == [
        "root: /root/.cache/pip: would free 69 kB (1 entry, 2 files); 69 kB -> 0 bytes",
        "a, b: /home/a/.cache/pip: would free 69 kB (1 entry, 2 files); 69 kB -> 0 bytes",
        "c: /home/c/.cache/pip: not there, nothing to do",
        "d: pip's cache is disabled, nothing to do: PIP_NO_CACHE_DIR in the environment",
        "total: would free 138 kB (3 entries) from 2 caches",
        "  a, b: download: idna 3.10, 69 kB",
        "  root: download: idna 3.10, 69 kB",
        "  ... and 1 more entry",
    ]


@pytest.fixture
def no_walk(monkeypatch):
    """A refusal must come before any scan or removal: fail loudly if the module gets that far."""

    def refuse(*args, **kwargs):
        raise AssertionError("the module scanned or removed before refusing")

    # The module's task (shared with the Windows entry point) is where it scans and removes.
    monkeypatch.setattr(task_pip_cache, "scan", refuse)
    monkeypatch.setattr(task_pip_cache, "remove", refuse)


BAD_INPUT = [
    ({"state": "pruned", "max_size": "2XB"}, "max_size", "max_size"),
    ({"state": "pruned", "max_size": "-1"}, "max_size", "max_size"),
    ({"state": "pruned", "max_age": "forever"}, "max_age", "max_age"),
    ({"state": "pruned"}, "max_age", "state"),
    ({"state": "pruned", "ci": False}, "max_size", "state"),
    ({"state": "purged", "min_age": "-5m"}, "min_age", "min_age"),
    ({"state": "absent", "name": ["foo/bar"]}, "name", "name"),
    ({"state": "absent", "name": ["foo>=1.*"]}, "name", "name"),
    ({"state": "absent", "name": ["foo/bar"], "match": "glob"}, "name", "name"),
    ({"state": "absent", "name": ["foo"], "match": "glob", "downloads": True}, "downloads", "downloads"),
    ({"state": "absent", "name": []}, "name", None),
    ({"state": "absent"}, "name", None),
    ({"state": "purged", "limit": -1}, "limit", "limit"),
    ({"state": "purged", "purge_extras": ["everything"]}, "purge_extras", None),
    ({"state": "vanished"}, "state", None),
    ({}, "state", None),
    ({"state": "purged", "user": "no-such-user-fleet-cache-test"}, "user", "user"),
]


def test_bad_input_fails_cleanly(run_module, cache, tree_fingerprint, no_walk):
    before = tree_fingerprint(cache)
    wrong = []
    for args, fragment, option in BAD_INPUT:
        code, result = run_module(pip_cache, dict(args, cache_dir=cache))
        message = result.get("msg", "")
        if code != 1 or result.get("failed") is not True or fragment not in message or "exception" in result:
            wrong.append((args, code, message))
        elif option is not None and result.get("option") != option:
            wrong.append((args, "option", result.get("option")))
    assert wrong == []
    assert tree_fingerprint(cache) == before


def test_refuses_unsafe_cache_dirs(run_module, no_walk, monkeypatch, tmp_path):
    home = os.path.realpath(str(tmp_path))
    monkeypatch.setenv("HOME", home)
    for unsafe in ["/", "/etc", "/usr/local", home]:
        # Check mode as well: even a broken refusal could not delete anything here.
        code, result = run_module(pip_cache, {"state": "purged", "cache_dir": unsafe, "_ansible_check_mode": True})
        assert code == 1, unsafe
        assert "refusing" in result["msg"]
        assert result["option"] == "cache_dir"
        assert result["msg"].startswith("cache_dir: ")
        assert result["failed_path"] == os.path.realpath(unsafe)


def test_prune_by_size_of_an_unprunable_cache_does_not_crash(run_module, tmp_path, build_tree):
    root = os.path.realpath(build_tree(str(tmp_path / "cache"), {"selfcheck/5a5a": (5000, 1)}))
    code, result = run_module(pip_cache, {"state": "pruned", "max_size": "1kB", "cache_dir": root, "_ansible_check_mode": True})
    assert (code, result["changed"]) == (0, False)
