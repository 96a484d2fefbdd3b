# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removal from synthetic caches: purge, absent and prune; dry runs; links; refusals; errors."""

from __future__ import annotations

import errno
import io
import os
import struct
import zipfile

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import UnsafeCacheDir
from ansible_collections.fleet.cache.plugins.module_utils._pip.http import identify_for_removal
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.remove import Outcome, Request, check_cache_dir, remove
from ansible_collections.fleet.cache.plugins.module_utils._pip.scan import scan
from ansible_collections.fleet.cache.plugins.module_utils._pip.version import parse_requirement

DAY = 86400
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def purge(now, **kwargs):
    return Request(mode="purged", matcher=NameMatcher(glob="*"), now=now, **kwargs)


def checked_run(cache_dir, request, fingerprint, *, list_limit=100):
    """Dry run, real run, second run: the dry run changes nothing and predicts the real run exactly;
    the second run finds nothing; what the real run reports is what a scan sees disappear."""
    before_tree = fingerprint(cache_dir)
    before = scan(cache_dir).total
    dry = remove(cache_dir, request, dry_run=True, list_limit=list_limit)
    assert fingerprint(cache_dir) == before_tree
    real = remove(cache_dir, request, dry_run=False, list_limit=list_limit)
    assert real.as_dict() == dry.as_dict()
    assert real.warnings == dry.warnings
    after = scan(cache_dir).total
    # What pip counts and what goes with its folder (origin.json, selfcheck.json) are reported apart: together they
    # are what a scan sees disappear.
    assert (before.files - after.files, before.bytes - after.bytes, before.entries - after.entries, before.dirs - after.dirs) == (
        real.files + real.extra_files,
        real.bytes + real.extra_bytes,
        real.entries,
        real.dirs,
    )
    again = remove(cache_dir, request, dry_run=False)
    assert (again.files, again.extra_files, again.dirs, again.entries, again.bytes, again.gone.items()) == (0, 0, 0, 0, 0, [])
    return real


def remaining(cache_dir, fingerprint):
    return sorted(rel for rel, info in fingerprint(cache_dir).items() if info[0] != "dir")


# --- purged ---------------------------------------------------------------------------------------


def test_purge_removes_what_pip_cache_purge_removes(cache, build_tree, tree_fingerprint):
    outcome = checked_run(cache, purge(build_tree.now), tree_fingerprint)
    # pip's "Files removed": 5 HTTP files and 3 wheels; the 3 origin.json and selfcheck.json go uncounted by pip.
    assert (outcome.files, outcome.dirs, outcome.entries, outcome.bytes) == (8, 23, 7, 21850)
    assert (outcome.extra_files, outcome.extra_bytes) == (4, 3 * 20 + 50)
    assert remaining(cache, tree_fingerprint) == ["notes.txt", "selfcheck/5a5a"]
    assert sorted(os.listdir(cache)) == ["notes.txt", "selfcheck"]
    result = outcome.as_dict()
    assert result["freed"] == "21 kB"
    assert (result["extra_files"], result["extra_bytes"]) == (4, 110)
    # Every entry that went, largest first, named as people name it (these HTTP files hold no real response).
    assert [(item["kind"], item["project"], item["version"], item["bytes"], item["size"]) for item in result["largest"]] == [
        ("built wheel", "foo_bar", "1.0", 6000, "6.0 kB"),
        ("built wheel", "Foo_Bar", "2.0", 5000, "5.0 kB"),
        ("built wheel", "tiny", "1.0", 4000, "4.0 kB"),
        ("http entry", None, None, 3000, "3.0 kB"),
        ("http entry", None, None, 2650, "2.6 kB"),
        ("http entry", None, None, 1200, "1.2 kB"),
        ("selfcheck", None, None, 50, "50 bytes"),
    ]
    assert [item["path"] for item in result["largest"]][3:6] == [
        os.path.join(cache, rel) for rel in ("http/a/b/c/d/e/k3", "http-v2/0/1/2/3/5/k2", "http-v2/0/1/2/3/4/k1")
    ]
    assert result["largest"][-1]["path"] == os.path.join(cache, "selfcheck.json")
    assert (result["largest_truncated"], result["errors"], result["error_count"]) == (False, [], 0)


def test_purge_with_selfcheck_extra(cache, build_tree, tree_fingerprint):
    outcome = checked_run(cache, purge(build_tree.now, purge_extras=frozenset({"selfcheck"})), tree_fingerprint)
    assert (outcome.files, outcome.dirs, outcome.bytes) == (9, 24, 21950)
    assert (outcome.extra_files, outcome.extra_bytes) == (4, 110)
    assert remaining(cache, tree_fingerprint) == ["notes.txt"]


def test_purge_keeps_wheels_pips_pattern_misses_unless_asked(tmp_path, build_tree, tree_fingerprint):
    files = {
        "wheels/aa/bb/cc/dd/odd.whl": (10, 5),
        "wheels/aa/bb/cc/dd/origin.json": (5, 5),
        "wheels/aa/bb/cc/ee/ok-1.0-py3-none-any.whl": (10, 5),
        "wheels/aa/bb/cc/ee/tmpbuild/partial.whl": (7, 5),
    }
    root = build_tree(str(tmp_path / "c"), files)
    checked_run(root, purge(build_tree.now), tree_fingerprint)
    assert remaining(root, tree_fingerprint) == ["wheels/aa/bb/cc/dd/odd.whl", "wheels/aa/bb/cc/dd/origin.json", "wheels/aa/bb/cc/ee/tmpbuild/partial.whl"]
    root = build_tree(str(tmp_path / "d"), files)
    checked_run(root, purge(build_tree.now, purge_extras=frozenset({"stray_wheels"})), tree_fingerprint)
    assert remaining(root, tree_fingerprint) == []
    root = build_tree(str(tmp_path / "e"), files)
    checked_run(root, purge(build_tree.now, purge_extras=frozenset({"build_dirs"})), tree_fingerprint)
    assert remaining(root, tree_fingerprint) == ["wheels/aa/bb/cc/dd/odd.whl", "wheels/aa/bb/cc/dd/origin.json"]


def test_removed_items_are_the_largest_capped(standard_tree, cache, build_tree, tree_fingerprint):
    outcome = checked_run(cache, purge(build_tree.now), tree_fingerprint, list_limit=3)
    result = outcome.as_dict()
    assert [item["path"] for item in result["largest"]] == [
        os.path.join(cache, rel)
        for rel in (
            "wheels/12/34/56/bcde/foo_bar-1.0-py3-none-any.whl",
            "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl",
            "wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl",
        )
    ]
    assert result["largest_truncated"] is True
    assert (result["entries"], result["files"], result["extra_files"]) == (7, 8, 4)


def test_removed_items_name_downloads_pages_and_wheels(project_cache, build_tree, tree_fingerprint):
    outcome = checked_run(project_cache, purge(build_tree.now), tree_fingerprint)
    named = sorted((item["kind"], item["project"], item["version"]) for item in outcome.as_dict()["largest"])
    assert named == [
        (
            "built wheel",
            "Foo_Bar",
            "2.0",
        ),
        ("built wheel", "bar", "1.0"),
        ("built wheel", "foo_bar", "1.0"),
        ("download", "Foo_Bar", "2.0"),
        ("download", "bar", "1.0"),
        ("http entry", None, None),
        ("index page", "FOO.bar", None),
        ("index page", "foo-bar", None),
    ]


def test_purge_of_a_missing_or_empty_cache(tmp_path, build_tree):
    outcome = remove(str(tmp_path / "missing"), purge(build_tree.now), dry_run=False)
    assert outcome.as_dict() == Outcome().as_dict()
    (tmp_path / "empty").mkdir()
    assert remove(str(tmp_path / "empty"), purge(build_tree.now), dry_run=False).as_dict() == Outcome().as_dict()


# --- absent ---------------------------------------------------------------------------------------


def wheel_body(name, version):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return buffer.getvalue()


def legacy_file(body):
    """b'cc=4,' + msgpack {"response": {"body": <bin16>}, "vary": {}}."""
    return b"cc=4,\x82\xa8response\x81\xa4body\xc5" + struct.pack(">H", len(body)) + body + b"\xa4vary\x80"


@pytest.fixture
def project_cache(tmp_path, build_tree):
    root = str(tmp_path / "cache")
    bodies = {
        "http-v2/0/0/0/0/1/kfoo": wheel_body("Foo_Bar", "2.0"),
        "http-v2/0/0/0/0/2/kbar": wheel_body("bar", "1.0"),
        "http-v2/0/0/0/0/3/kidx": b"<html><body><h1>Links for foo-bar</h1></body></html>",
        "http-v2/0/0/0/0/4/kjunk": b"\x00junk",
    }
    for rel, body in bodies.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(b"cc=4,\x80")
        with open(path + ".body", "wb") as handle:
            handle.write(body)
    legacy = os.path.join(root, "http/1/1/1/1/1/klegacy")
    os.makedirs(os.path.dirname(legacy))
    with open(legacy, "wb") as handle:
        handle.write(legacy_file(b'{"name": "FOO.bar", "files": []}'))
    build_tree(
        root,
        {
            "wheels/aa/bb/cc/d1/Foo_Bar-2.0-py3-none-any.whl": (100, 5),
            "wheels/aa/bb/cc/d1/origin.json": (10, 5),
            "wheels/aa/bb/cc/d2/foo_bar-1.0-py3-none-any.whl": (100, 5),
            "wheels/aa/bb/cc/d2/origin.json": (10, 5),
            "wheels/aa/bb/cc/d3/bar-1.0-py3-none-any.whl": (100, 5),
            "wheels/aa/bb/cc/d3/origin.json": (10, 5),
        },
    )
    return root


def by_name(now, *names, downloads=True):
    return Request(
        mode="absent",
        matcher=NameMatcher(requirements=[parse_requirement(name) for name in names]),
        http_projects=downloads,
        identify=identify_for_removal,
        now=now,
    )


def test_absent_by_name_with_downloads(project_cache, build_tree, tree_fingerprint):
    outcome = checked_run(project_cache, by_name(build_tree.now, "FOO-BAR"), tree_fingerprint)
    assert remaining(project_cache, tree_fingerprint) == [
        "http-v2/0/0/0/0/2/kbar",
        "http-v2/0/0/0/0/2/kbar.body",
        "http-v2/0/0/0/0/4/kjunk",
        "http-v2/0/0/0/0/4/kjunk.body",
        "wheels/aa/bb/cc/d3/bar-1.0-py3-none-any.whl",
        "wheels/aa/bb/cc/d3/origin.json",
    ]
    # One download and two pages (http-v2 pairs and a legacy file), two wheels; their two origin.json apart.
    assert (outcome.entries, outcome.files, outcome.extra_files) == (2 + 2 + 1, 4 + 1 + 2, 2)


def test_absent_by_name_and_version(project_cache, build_tree, tree_fingerprint):
    checked_run(project_cache, by_name(build_tree.now, "foo_bar<2"), tree_fingerprint)
    left = remaining(project_cache, tree_fingerprint)
    # The 2.0 wheel and its download stay; the 1.0 wheel goes. The index pages list every version: the cached 2.0
    # still needs them, so they stay.
    assert "wheels/aa/bb/cc/d1/Foo_Bar-2.0-py3-none-any.whl" in left
    assert "http-v2/0/0/0/0/1/kfoo.body" in left
    assert "wheels/aa/bb/cc/d2/foo_bar-1.0-py3-none-any.whl" not in left
    assert "http-v2/0/0/0/0/3/kidx.body" in left
    assert "http/1/1/1/1/1/klegacy" in left


PAGES = ["http-v2/0/0/0/0/3/kidx", "http-v2/0/0/0/0/3/kidx.body", "http/1/1/1/1/1/klegacy"]


@pytest.mark.parametrize(
    "names, pages_go",
    [
        (["foo-bar"], True),  # no specifier: the whole project
        (["foo-bar>=1"], True),  # every cached version (1.0 wheel, 2.0 wheel and download) matched
        (["foo-bar<2", "foo-bar>=2"], True),  # together they match every cached version
        (["foo-bar<2", "foo-bar"], True),
        (["foo-bar<2"], False),  # 2.0 stays, and needs the pages
        (["foo-bar>1"], False),  # the 2.0 download and wheel go, the 1.0 wheel stays
        (["foo-bar<1"], False),  # matches no cached version
    ],
)
def test_index_pages_go_only_with_the_whole_project(project_cache, build_tree, tree_fingerprint, names, pages_go):
    checked_run(project_cache, by_name(build_tree.now, *names), tree_fingerprint)
    left = remaining(project_cache, tree_fingerprint)
    assert [page for page in PAGES if page in left] == ([] if pages_go else PAGES)
    assert "http-v2/0/0/0/0/2/kbar.body" in left and "wheels/aa/bb/cc/d3/bar-1.0-py3-none-any.whl" in left


def test_a_specifier_that_matches_nothing_changes_nothing(project_cache, build_tree, tree_fingerprint):
    before = tree_fingerprint(project_cache)
    for request in (by_name(build_tree.now, "foo-bar<1"), by_name(build_tree.now, "foo-bar>5,<6", "bar!=1.0")):
        outcome = remove(project_cache, request, dry_run=False)
        assert (outcome.files, outcome.extra_files, outcome.dirs, outcome.entries, outcome.gone.items()) == (0, 0, 0, 0, [])
    assert tree_fingerprint(project_cache) == before


def test_pages_of_a_project_with_only_pages_cached(tmp_path, build_tree, tree_fingerprint):
    """No version cached at all: a specifier matched nothing, so the pages stay; a bare name takes them."""
    root = str(tmp_path / "cache")
    page = os.path.join(root, "http-v2/0/0/0/0/3/kidx")
    os.makedirs(os.path.dirname(page))
    with open(page, "wb") as handle:
        handle.write(b"cc=4,\x80")
    with open(page + ".body", "wb") as handle:
        handle.write(b"<html><body><h1>Links for markupsafe</h1></body></html>")
    assert remove(root, by_name(build_tree.now, "MarkupSafe<3"), dry_run=False).files == 0
    assert remaining(root, tree_fingerprint) == ["http-v2/0/0/0/0/3/kidx", "http-v2/0/0/0/0/3/kidx.body"]
    outcome = checked_run(root, by_name(build_tree.now, "MarkupSafe"), tree_fingerprint)
    assert (outcome.files, outcome.entries) == (2, 1)
    assert remaining(root, tree_fingerprint) == []


def test_absent_by_name_without_downloads(project_cache, build_tree, tree_fingerprint):
    checked_run(project_cache, by_name(build_tree.now, "foo-bar", downloads=False), tree_fingerprint)
    left = remaining(project_cache, tree_fingerprint)
    assert [rel for rel in left if rel.startswith("wheels/")] == ["wheels/aa/bb/cc/d3/bar-1.0-py3-none-any.whl", "wheels/aa/bb/cc/d3/origin.json"]
    assert len([rel for rel in left if rel.startswith("http")]) == 9


@pytest.mark.parametrize(
    "pattern, kept_wheels",
    [
        ("foo_bar", ["Foo_Bar-2.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl"]),
        ("Foo_Bar", ["bar-1.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"]),
        ("bar-1.0", ["Foo_Bar-2.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"]),
        ("nothing", ["Foo_Bar-2.0-py3-none-any.whl", "bar-1.0-py3-none-any.whl", "foo_bar-1.0-py3-none-any.whl"]),
    ],
)
def test_absent_by_glob_touches_wheels_only(project_cache, build_tree, tree_fingerprint, pattern, kept_wheels):
    request = Request(mode="absent", matcher=NameMatcher(glob=pattern), now=build_tree.now)
    checked_run(project_cache, request, tree_fingerprint)
    left = remaining(project_cache, tree_fingerprint)
    assert sorted(os.path.basename(rel) for rel in left if rel.endswith(".whl")) == sorted(kept_wheels)
    assert len([rel for rel in left if rel.startswith("http")]) == 9


def test_absent_star_takes_http_too(project_cache, build_tree, tree_fingerprint):
    request = Request(mode="absent", matcher=NameMatcher(glob="*"), http_all=True, now=build_tree.now)
    checked_run(project_cache, request, tree_fingerprint)
    assert remaining(project_cache, tree_fingerprint) == []


# --- pruned ---------------------------------------------------------------------------------------


def test_prune_by_age(cache, build_tree, tree_fingerprint):
    request = Request(mode="pruned", max_age=30 * DAY, now=build_tree.now)
    outcome = checked_run(cache, request, tree_fingerprint)
    assert (outcome.files, outcome.entries, outcome.bytes, outcome.dirs) == (4, 3, 8200, 11)
    assert (outcome.extra_files, outcome.extra_bytes) == (1, 20)
    assert remaining(cache, tree_fingerprint) == [
        "http-v2/0/1/2/3/5/k2",
        "http-v2/0/1/2/3/5/k2.body",
        "notes.txt",
        "selfcheck.json",
        "selfcheck/5a5a",
        "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl",
        "wheels/12/34/56/789a/origin.json",
        "wheels/12/34/56/bcde/foo_bar-1.0-py3-none-any.whl",
        "wheels/12/34/56/bcde/origin.json",
    ]


def test_prune_ci_drops_every_download(cache, build_tree, tree_fingerprint):
    outcome = checked_run(cache, Request(mode="pruned", ci=True, now=build_tree.now), tree_fingerprint)
    assert (outcome.files, outcome.bytes, outcome.dirs) == (5, 6850, 13)
    assert not any(rel.startswith("http") for rel in remaining(cache, tree_fingerprint))
    assert len([rel for rel in remaining(cache, tree_fingerprint) if rel.endswith(".whl")]) == 3


SIZED = {
    "http-v2/0/0/0/0/0/h1": (500, 6),
    "http-v2/0/0/0/0/0/h1.body": (500, 6),
    "wheels/aa/00/00/e1/w1-1.0-py3-none-any.whl": (1000, 5),
    "wheels/aa/00/00/e2/w2-1.0-py3-none-any.whl": (1000, 4),
    "wheels/aa/00/00/e3/w3-1.0-py3-none-any.whl": (1000, 3),
    "wheels/aa/00/00/e4/w4-1.0-py3-none-any.whl": (1000, 2),
    "wheels/aa/00/00/e5/w5-1.0-py3-none-any.whl": (1000, 1),
}


def test_prune_by_size_takes_oldest_first(tmp_path, build_tree, tree_fingerprint):
    for max_size, gone in [
        (6000, []),
        (10**9, []),
        (5000, ["h1"]),
        (4001, ["h1", "w1"]),
        (3500, ["h1", "w1", "w2"]),
        (1000, ["h1", "w1", "w2", "w3", "w4"]),
        (0, ["h1", "w1", "w2", "w3", "w4", "w5"]),
    ]:
        root = build_tree(str(tmp_path / f"c{max_size}"), SIZED)
        outcome = checked_run(root, Request(mode="pruned", max_size=max_size, now=build_tree.now), tree_fingerprint)
        left = {os.path.basename(rel).split("-")[0].split(".")[0] for rel in remaining(root, tree_fingerprint)}
        assert left == {"h1", "w1", "w2", "w3", "w4", "w5"} - set(gone)
        assert scan(root).total.bytes <= max_size
        assert outcome.bytes == 1000 * len(gone), max_size


def test_prune_by_size_same_second_goes_in_path_order(tmp_path, build_tree, tree_fingerprint):
    files = {f"wheels/aa/00/00/s{index}/s{index}-1.0-py3-none-any.whl": (1000, 3) for index in (3, 1, 2)}
    root = build_tree(str(tmp_path / "c"), files)
    checked_run(root, Request(mode="pruned", max_size=2000, now=build_tree.now), tree_fingerprint)
    assert [os.path.basename(rel) for rel in remaining(root, tree_fingerprint)] == ["s2-1.0-py3-none-any.whl", "s3-1.0-py3-none-any.whl"]


def test_prune_by_size_and_age_together(tmp_path, build_tree, tree_fingerprint):
    root = build_tree(str(tmp_path / "c"), SIZED)
    # Age takes h1 and w1 (older than 4.5 days); the size budget then takes w2 to reach 3000.
    request = Request(mode="pruned", max_age=4.5 * DAY, max_size=3000, now=build_tree.now)
    checked_run(root, request, tree_fingerprint)
    assert [os.path.basename(rel)[:2] for rel in remaining(root, tree_fingerprint)] == ["w3", "w4", "w5"]


@pytest.mark.parametrize(
    "files, request_args, expected",
    [
        ({"selfcheck/5a5a": (5000, 1), "notes.txt": (100, 1)}, {}, (0, 0, 0, 0)),
        # A wheel folder left without a wheel is no entry to prune, but pip >= 26 clears such leftovers and so do we.
        ({"wheels/aa/bb/cc/dd/origin.json": (5000, 1)}, {}, (0, 0, 1, 5000)),
        ({"wheels/aa/bb/cc/dd/x-1.0-py3-none-any.whl": (5000, 0.00001)}, {"min_age": 3600.0}, (0, 0, 0, 0)),
    ],
    ids=["only-selfcheck", "wheel-folder-without-wheel", "everything-young"],
)
def test_prune_by_size_with_nothing_prunable(tmp_path, build_tree, files, request_args, expected):
    root = build_tree(str(tmp_path / "c"), files)
    outcome = remove(root, Request(mode="pruned", max_size=100, now=build_tree.now, **request_args), dry_run=True)
    assert (outcome.files, outcome.bytes, outcome.extra_files, outcome.extra_bytes) == expected


# --- min_age --------------------------------------------------------------------------------------

YOUNG = 30 / DAY  # 30 seconds, in days

AGED = {
    "http-v2/0/0/0/0/0/old": (10, 10),
    "http-v2/0/0/0/0/0/old.body": (10, 10),
    "http-v2/0/0/0/0/1/new": (10, YOUNG),
    "http-v2/0/0/0/0/1/new.body": (10, 10),
    "http/1/1/1/1/1/fresh": (10, YOUNG),
    "wheels/aa/bb/cc/old/old-1.0-py3-none-any.whl": (10, 10),
    "wheels/aa/bb/cc/new/new-1.0-py3-none-any.whl": (10, YOUNG),
    "wheels/aa/bb/cc/building/done-1.0-py3-none-any.whl": (10, 10),
    "wheels/aa/bb/cc/building/tmpXYZ.part": (10, YOUNG),
    "selfcheck.json": (10, YOUNG),
}


def test_min_age_spares_young_entries(tmp_path, build_tree, tree_fingerprint):
    root = build_tree(str(tmp_path / "c"), AGED)
    before = tree_fingerprint(root)
    dry = remove(root, purge(build_tree.now, min_age=3600.0), dry_run=True)
    assert tree_fingerprint(root) == before
    real = remove(root, purge(build_tree.now, min_age=3600.0), dry_run=False)
    assert (real.files, real.entries, real.bytes) == (dry.files, dry.entries, dry.bytes) == (4, 3, 40)
    assert remaining(root, tree_fingerprint) == [
        "http-v2/0/0/0/0/1/new",
        "http-v2/0/0/0/0/1/new.body",
        "http/1/1/1/1/1/fresh",
        "selfcheck.json",
        "wheels/aa/bb/cc/building/tmpXYZ.part",
        "wheels/aa/bb/cc/new/new-1.0-py3-none-any.whl",
    ]
    again = remove(root, purge(build_tree.now, min_age=3600.0), dry_run=False)
    assert (again.files, again.bytes) == (0, 0)


MIN_AGE_BUG = (
    "_Remover.visit_wheels checks _dir_is_young after unlinking the folder's wheels: the real unlink sets the folder's "
    "mtime to now, so with min_age > 0 the emptied folder (and its parents) stays, while the dry run predicts its removal"
)


def test_min_age_dry_run_predicts_the_real_run(tmp_path, build_tree, tree_fingerprint):
    root = build_tree(str(tmp_path / "c"), AGED)
    checked_run(root, purge(build_tree.now, min_age=3600.0), tree_fingerprint)


def test_min_age_removes_the_folder_of_an_old_wheel(tmp_path, build_tree):
    root = build_tree(str(tmp_path / "c"), {"wheels/aa/bb/cc/old/old-1.0-py3-none-any.whl": (10, 10), "wheels/aa/bb/cc/old/origin.json": (5, 10)})
    dry = remove(root, purge(build_tree.now, min_age=3600.0), dry_run=True)
    assert dry.dirs == 5
    real = remove(root, purge(build_tree.now, min_age=3600.0), dry_run=False)
    assert not os.path.exists(os.path.join(root, "wheels", "aa", "bb", "cc", "old"))
    assert real.dirs == dry.dirs


def test_min_age_zero_spares_nothing(tmp_path, build_tree, tree_fingerprint):
    root = build_tree(str(tmp_path / "c"), AGED)
    checked_run(root, purge(build_tree.now), tree_fingerprint)
    assert remaining(root, tree_fingerprint) == []


def test_min_age_keeps_a_wheel_folder_that_was_just_changed(tmp_path, build_tree, tree_fingerprint):
    root = build_tree(str(tmp_path / "c"), {"wheels/aa/bb/cc/dd/x-1.0-py3-none-any.whl": (10, 10), "wheels/aa/bb/cc/dd/origin.json": (10, 10)})
    now = build_tree.now
    os.utime(os.path.join(root, "wheels/aa/bb/cc/dd"), (now - 5, now - 5))
    checked_run(root, purge(now, min_age=600.0), tree_fingerprint)
    assert remaining(root, tree_fingerprint) == ["wheels/aa/bb/cc/dd/origin.json"]


def test_prune_with_min_age(tmp_path, build_tree, tree_fingerprint):
    root = build_tree(str(tmp_path / "c"), AGED)
    checked_run(root, Request(mode="pruned", ci=True, min_age=3600.0, now=build_tree.now), tree_fingerprint)
    left = remaining(root, tree_fingerprint)
    assert [rel for rel in left if rel.startswith("http")] == ["http-v2/0/0/0/0/1/new", "http-v2/0/0/0/0/1/new.body", "http/1/1/1/1/1/fresh"]


# --- links ----------------------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path, build_tree):
    outside = build_tree(
        str(tmp_path / "decoy"),
        {"secret.txt": (64, 1), "inner/kept-1.0-py3-none-any.whl": (128, 1), "inner/origin.json": (8, 1), "page": (32, 1)},
    )
    root = build_tree(
        str(tmp_path / "cache"),
        {
            "http-v2/a/b/c/d/e/real": (10, 1),
            "http-v2/a/b/c/d/e/real.body": (10, 1),
            "http/1/2/3/4/5/k": (10, 1),
            "wheels/aa/bb/cc/dddd/dd-1.0-py3-none-any.whl": (10, 1),
            "wheels/22/33/44/linked/origin.json": (10, 1),
        },
    )
    links = {
        "http-v2/a/b/c/d/e/link-to-secret": "secret.txt",
        "http-v2/a/b/c/d/e/link-to-folder": "inner",
        "http/1/2/3/4/5/link-to-page": "page",
        "wheels/aa/bb/cc/dddd/link-to-folder": "inner",
        "wheels/22/33/44/linked/Linked-1.0-py3-none-any.whl": "inner/kept-1.0-py3-none-any.whl",
        "wheels/22/33/44/dangling-1.0-py3-none-any.whl": "missing.whl",
    }
    for rel, target in links.items():
        os.symlink(os.path.join(outside, target), os.path.join(root, rel))
    build_tree.age_dirs(root)
    build_tree.age_dirs(outside)
    return root, outside, links


def test_links_are_removed_as_links_never_followed(linked, build_tree, tree_fingerprint):
    root, outside, links = linked
    decoy = tree_fingerprint(outside)
    outcome = checked_run(root, purge(build_tree.now), tree_fingerprint)
    assert tree_fingerprint(outside) == decoy
    assert remaining(root, tree_fingerprint) == []
    for rel in links:
        assert not os.path.lexists(os.path.join(root, rel))
    # Links to files count as files of 0 bytes; links to folders are removed but not counted as files.
    assert outcome.bytes + outcome.extra_bytes == 10 + 10 + 10 + 10 + 10
    assert outcome.files + outcome.extra_files == 5 + 4


def test_prune_leaves_links_targets_alone(linked, build_tree, tree_fingerprint):
    root, outside, _links = linked
    decoy = tree_fingerprint(outside)
    checked_run(root, Request(mode="pruned", max_age=0.0, max_size=0, now=build_tree.now + 10), tree_fingerprint)
    assert tree_fingerprint(outside) == decoy


def test_bucket_that_is_a_link_is_left_alone(tmp_path, build_tree, tree_fingerprint):
    outside = build_tree(str(tmp_path / "elsewhere"), {"aa/bb/cc/dd/x-1.0-py3-none-any.whl": (100, 1), "aa/bb/cc/dd/origin.json": (5, 1)})
    root = build_tree(str(tmp_path / "cache"), {"http/1/2/3/4/5/k": (10, 1)})
    os.symlink(outside, os.path.join(root, "wheels"))
    decoy = tree_fingerprint(outside)
    outcome = checked_run(root, purge(build_tree.now), tree_fingerprint)
    assert tree_fingerprint(outside) == decoy
    assert os.path.islink(os.path.join(root, "wheels"))
    assert (outcome.files, outcome.bytes) == (1, 10)
    assert len(outcome.warnings) == 1
    assert os.path.join(root, "wheels") in outcome.warnings[0]
    assert "symbolic link" in outcome.warnings[0]


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.skipif(IS_ROOT or not hasattr(os, "geteuid"), reason="root reads a folder of mode 000 anyway")
def test_unreadable_folder_is_reported_and_the_run_goes_on(cache, build_tree):
    locked = os.path.join(cache, "wheels/12/34/56")
    os.chmod(locked, 0)
    try:
        outcome = remove(cache, purge(build_tree.now), dry_run=False)
    finally:
        os.chmod(locked, 0o755)
    assert outcome.errors.count >= 1
    assert outcome.errors.items[0] == {"path": locked, "error": "Permission denied"}
    assert os.path.exists(os.path.join(cache, "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl"))
    assert not os.path.exists(os.path.join(cache, "wheels/ab"))
    assert not os.path.exists(os.path.join(cache, "http"))


def test_unreadable_folder_simulated(cache, build_tree, monkeypatch, tree_fingerprint):
    locked = os.path.join(cache, "wheels", "12", "34", "56")
    real_scan = core_walk.list_dir

    def scan_or_deny(path, fd):
        if path == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_scan(path, fd)

    monkeypatch.setattr(core_walk, "list_dir", scan_or_deny)
    before = tree_fingerprint(cache)
    dry = remove(cache, purge(build_tree.now), dry_run=True)
    assert tree_fingerprint(cache) == before
    real = remove(cache, purge(build_tree.now), dry_run=False)
    assert real.as_dict() == dry.as_dict()
    assert real.as_dict()["errors"] == [{"path": locked, "error": "Permission denied"}]
    assert real.as_dict()["error_count"] == 1
    # Everything else went; the locked folder and its parents stay.
    assert remaining(cache, tree_fingerprint) == [
        "notes.txt",
        "selfcheck/5a5a",
        "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl",
        "wheels/12/34/56/789a/origin.json",
        "wheels/12/34/56/bcde/foo_bar-1.0-py3-none-any.whl",
        "wheels/12/34/56/bcde/origin.json",
    ]


def test_file_that_cannot_be_removed_is_reported(cache, build_tree, monkeypatch, tree_fingerprint):
    stuck = "tiny-1.0-py3-none-any.whl"
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if os.path.basename(os.fspath(path)) == stuck:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    outcome = remove(cache, purge(build_tree.now), dry_run=False)
    monkeypatch.undo()
    stuck_path = os.path.join(cache, "wheels/ab/cd/ef/0123", stuck)
    # One error, for the file itself: its folder still holds a wheel, so it keeps its origin.json and no rmdir is tried.
    assert outcome.errors.items == [{"path": stuck_path, "error": "Operation not permitted"}]
    assert os.path.exists(stuck_path)
    assert os.path.exists(os.path.join(cache, "wheels/ab/cd/ef/0123/origin.json"))
    assert stuck_path not in [item["path"] for item in outcome.gone.items()] and len(outcome.gone.items()) == 6
    assert (outcome.files, outcome.bytes, outcome.entries) == (7, 21850 - 4000, 6)
    assert (outcome.extra_files, outcome.extra_bytes) == (3, 2 * 20 + 50)
    assert not os.path.exists(os.path.join(cache, "http-v2"))


def test_read_only_file_system_removes_and_counts_nothing(cache, build_tree, monkeypatch, tree_fingerprint):
    """Every unlink and rmdir fails (a read-only file system, immutable files): each is reported, nothing is counted,
    neither the entries nor the folders around them."""
    before = tree_fingerprint(cache)

    def refuse(path, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "unlink", refuse)
    monkeypatch.setattr(os, "rmdir", refuse)
    outcomes = [remove(cache, request, dry_run=False) for request in (purge(build_tree.now), Request(mode="pruned", max_size=0, now=build_tree.now))]
    monkeypatch.undo()
    for outcome in outcomes:
        assert (outcome.files, outcome.dirs, outcome.entries, outcome.bytes, outcome.gone.items()) == (0, 0, 0, 0, [])
        assert outcome.errors.count > 0 and {item["error"] for item in outcome.errors.items} == {"Read-only file system"}
    assert tree_fingerprint(cache) == before


def test_size_prune_counts_only_what_a_young_wheel_folder_gives_up(tmp_path, build_tree, tree_fingerprint):
    """min_age keeps a young wheel folder, and its origin.json with it: only the wheel counts as freed, so one run
    brings the cache under max_size and a second run removes nothing (it used to take the next entry)."""
    root = build_tree(
        str(tmp_path / "c"),
        {
            "wheels/aa/bb/cc/dd/x-1.0-py3-none-any.whl": (4, 2),
            "wheels/aa/bb/cc/dd/origin.json": (60, 2),
            "http-v2/0/0/0/0/1/k": (30, 1),
            "http-v2/0/0/0/0/1/k.body": (10, 1),
            "http-v2/0/0/0/0/2/y": (1000, 0),  # young: min_age spares it
            "http-v2/0/0/0/0/2/y.body": (0, 0),
        },
    )
    now = build_tree.now
    os.utime(os.path.join(root, "wheels/aa/bb/cc/dd"), (now - 5, now - 5))
    real = checked_run(root, Request(mode="pruned", max_size=1098, min_age=60.0, now=now), tree_fingerprint)
    assert (real.entries, real.bytes) == (2, 44)
    assert remaining(root, tree_fingerprint) == ["http-v2/0/0/0/0/2/y", "http-v2/0/0/0/0/2/y.body", "wheels/aa/bb/cc/dd/origin.json"]


def test_hostile_depth_is_left_alone(tmp_path, build_tree, tree_fingerprint):
    deep = "wheels/" + "/".join(f"d{index}" for index in range(core_walk.MAX_DEPTH + 3)) + "/deep-1.0-py3-none-any.whl"
    root = build_tree(str(tmp_path / "c"), {deep: (10, 5), "wheels/aa/bb/cc/dd/ok-1.0-py3-none-any.whl": (10, 5)})
    before = tree_fingerprint(root)
    dry = remove(root, purge(build_tree.now), dry_run=True)
    assert tree_fingerprint(root) == before
    real = remove(root, purge(build_tree.now), dry_run=False)
    assert real.as_dict() == dry.as_dict()
    assert real.errors.count == 1
    assert "deeper than" in real.errors.items[0]["error"]
    assert remaining(root, tree_fingerprint) == [deep]


# --- refusing unsafe folders ----------------------------------------------------------------------


def test_check_cache_dir_refuses_system_folders():
    for path, reason in [
        ("/", "root of the file system"),
        ("/etc", "system folder"),
        ("/etc/", "system folder"),
        ("/usr/local", "system folder"),
        ("/var/tmp", "system folder"),
    ]:
        with pytest.raises(UnsafeCacheDir) as caught:
            check_cache_dir(path, homes=[])
        assert caught.value.option == "cache_dir"
        assert reason in str(caught.value)
        assert "refusing" in str(caught.value)
        check_cache_dir(path, homes=[], allow_unsafe=True)


def test_check_cache_dir_refuses_home_folders(tmp_path):
    home = tmp_path / "home" / "alice"
    (home / ".cache" / "pip").mkdir(parents=True)
    with pytest.raises(UnsafeCacheDir, match="home folder"):
        check_cache_dir(str(home), homes=["/nonexistent", str(home)])
    (tmp_path / "link-to-home").symlink_to(home)
    with pytest.raises(UnsafeCacheDir, match="home folder"):
        check_cache_dir(str(tmp_path / "link-to-home"), homes=[str(home)])
    check_cache_dir(str(home / ".cache" / "pip"), homes=[str(home)])
    check_cache_dir(str(home), homes=[str(home)], allow_unsafe=True)


def test_check_cache_dir_refuses_a_mount_point(tmp_path, monkeypatch):
    mounted = tmp_path / "mnt"
    mounted.mkdir()
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda path: os.path.realpath(path) == os.path.realpath(str(mounted)) or real_ismount(path))
    with pytest.raises(UnsafeCacheDir, match="mounted"):
        check_cache_dir(str(mounted), homes=[])
    check_cache_dir(str(tmp_path), homes=[])


def _real_mount_point():
    try:
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            points = [line.split()[1].replace("\\040", " ") for line in handle if len(line.split()) > 1]
    except OSError:
        return None
    system = {"/", "/proc", "/sys", "/dev", "/run", "/tmp", "/etc", "/boot", "/home", "/mnt", "/media", "/var", "/usr"}
    for point in points:
        if point not in system and os.path.isdir(point) and os.path.realpath(point) == point and os.path.ismount(point):
            return point
    return None


def test_check_cache_dir_refuses_a_real_mount_point():
    point = _real_mount_point()
    if point is None:
        pytest.skip("no mount point other than system folders here")
    with pytest.raises(UnsafeCacheDir):
        check_cache_dir(point, homes=[])


def test_check_cache_dir_accepts_a_cache(tmp_path):
    (tmp_path / "pip").mkdir()
    assert check_cache_dir(str(tmp_path / "pip"), homes=[str(tmp_path / "home")]) is None
