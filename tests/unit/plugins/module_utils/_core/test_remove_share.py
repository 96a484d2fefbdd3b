# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A removal shared with helper processes leaves exactly the disk and gives exactly the figures of a removal in one
process, whatever the helpers do: die part-way, never start, send garbage, or send a unit's record twice."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import stat
import sys

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import parallel as core_parallel
from ansible_collections.fleet.cache.plugins.module_utils._core import remove_share
from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.remove import Request, remove

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork") or not core_walk._FD_MODE, reason="helper processes need os.fork and descriptors"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

DAY = 86400


def _files():
    """Every bucket with many units (its sub-folders), young entries min_age spares, origin.json beside wheels, a
    wheel pip's glob does not take, a link to a folder, the selfcheck file and folder."""
    files = {}
    for index in range(60):
        key = f"{index * 7919:05x}"
        age = 0 if index % 11 == 0 else 5 + index % 30  # every eleventh entry is younger than a day
        files[f"http-v2/{key[4]}/{key[3]}/{key[2]}/{key[1]}/{key[0]}/{key}"] = (10 + index, age)
        files[f"http-v2/{key[4]}/{key[3]}/{key[2]}/{key[1]}/{key[0]}/{key}.body"] = (100 + index, age)
        files[f"http/{key[3]}/{key[4]}/{key[2]}/{key[1]}/{key[0]}/{key}"] = (50 + index, 3 + index % 40)
        wheel = f"{index * 2654435761 % 2**32:08x}"
        folder = f"wheels/{wheel[:2]}/{wheel[2:4]}/{wheel[4:6]}/{wheel}"
        files[f"{folder}/Project_{index % 7}-{index}.0-py3-none-any.whl"] = (1000 + index, 0 if index % 13 == 0 else 2 + index % 50)
        files[f"{folder}/origin.json"] = (20, 2 + index % 50)
    files["wheels/0f/notawheel.txt"] = (7, 2)
    files["selfcheck/abc"] = (30, 1)
    files["selfcheck.json"] = (40, 9)
    return files


def _build(root, build_tree):
    shutil.rmtree(root, ignore_errors=True)
    build_tree(root, _files())
    os.symlink(os.path.join(root, "selfcheck"), os.path.join(root, "http-v2", "0", "link-to-folder"))
    build_tree.age_dirs(root)
    return root


def _disk(root):
    """What is on disk: every path with its kind, and a file's size and time (a folder's time changes with each rmdir)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            info = os.lstat(os.path.join(folder, name))
            rel = os.path.relpath(os.path.join(folder, name), root)
            found[rel] = "dir" if stat.S_ISDIR(info.st_mode) else ("link" if stat.S_ISLNK(info.st_mode) else (info.st_size, info.st_mtime))
    return found


def _figures(outcome):
    found = outcome.as_dict()
    found["errors"] = sorted((item["path"], item["error"]) for item in found["errors"])
    return found, outcome.warnings


REQUESTS = {
    "purge": lambda now: Request(mode="purged", matcher=NameMatcher(glob="*"), now=now, min_age=DAY, purge_extras=frozenset({"selfcheck"})),
    "purge-no-min-age": lambda now: Request(mode="purged", matcher=NameMatcher(glob="*"), now=now),
    "absent-glob": lambda now: Request(mode="absent", matcher=NameMatcher(glob="project_3"), now=now, min_age=DAY),
    "absent-star": lambda now: Request(mode="absent", matcher=NameMatcher(glob="*"), http_all=True, now=now),
    "prune-age": lambda now: Request(mode="pruned", max_age=20 * DAY, now=now, min_age=DAY),
    "pre-26": lambda now: Request(mode="purged", matcher=NameMatcher(glob="*"), now=now, cleanup=False),
}


@pytest.fixture
def run(tmp_path, build_tree):
    """Build the cache afresh (at the same path each time: paths are part of the figures), remove, read the disk back."""
    root = str(tmp_path / "cache")

    def run_once(request_name="purge", *, helpers, dry_run=False, list_limit=100):
        _build(root, build_tree)
        outcome = remove(root, REQUESTS[request_name](build_tree.now), dry_run=dry_run, list_limit=list_limit, helpers=helpers)
        return _figures(outcome), _disk(root)

    return run_once


@pytest.fixture
def started(monkeypatch):
    """Share out at once (no SPLIT_AFTER), and count the helpers started."""
    monkeypatch.setattr(remove_share, "SPLIT_AFTER", 0)
    helpers = []
    real = core_parallel.start_stream

    def start_stream(work):
        helper = real(work)
        helpers.append(helper)
        return helper

    monkeypatch.setattr(core_parallel, "start_stream", start_stream)
    return helpers


@pytest.mark.parametrize("request_name", sorted(REQUESTS))
@pytest.mark.parametrize("dry_run", [False, True], ids=["real", "check-mode"])
def test_a_shared_removal_equals_the_single_process_removal(run, started, request_name, dry_run):
    alone = run(request_name, helpers=0, dry_run=dry_run)
    assert started == []
    for helpers in (1, 3):
        shared = run(request_name, helpers=helpers, dry_run=dry_run)
        assert len(started) >= helpers and all(helper is not None for helper in started)
        assert shared == alone
        del started[:]
    (figures, _warnings), disk = alone
    assert figures["error_count"] == 0
    if request_name == "purge":
        assert figures["files"] > 200 and figures["spared_entries"] > 10 and figures["largest_truncated"]
        assert disk if not dry_run else len(disk) > 400  # young entries (and their folders) stay


def test_a_shared_removal_keeps_the_largest_list_capped(run, started):
    alone = run(helpers=0, list_limit=3)
    assert run(helpers=2, list_limit=3) == alone
    assert len(alone[0][0]["largest"]) == 3 and alone[0][0]["largest_truncated"]


def test_a_small_cache_starts_no_helper(run, monkeypatch):
    monkeypatch.setattr(os, "fork", lambda: pytest.fail("a cache below SPLIT_AFTER forked"))
    (figures, _warnings), _disk_left = run(helpers=3)
    assert figures["files"] > 200


def _in_helpers(monkeypatch, action):
    """``action(number_of_the_unit_in_this_helper)`` runs in each helper before each of its units."""
    real, parent = remove_share.walk_unit, os.getpid()
    counts = {}

    def walk_unit(*args):
        if os.getpid() != parent:
            counts[os.getpid()] = counts.get(os.getpid(), 0) + 1
            action(counts[os.getpid()])
        return real(*args)

    monkeypatch.setattr(remove_share, "walk_unit", walk_unit)


def _raise(_unit):
    raise OSError(errno.EIO, "input/output error")


def _killed_at_second(unit):
    if unit == 2:
        os.kill(os.getpid(), signal.SIGKILL)


def _exits_at_third(unit):
    if unit == 3:
        os._exit(0)


def _sys_exit_at_second(unit):
    if unit == 2:
        sys.exit(3)


@pytest.mark.parametrize(
    ("action", "sent"),
    [
        (_raise, 0),
        (_killed_at_second, 1),
        (_exits_at_third, 2),
        (_sys_exit_at_second, 1),
    ],
    ids=["raises-at-once", "killed-mid-share", "exits-mid-share", "sys-exit-mid-share"],
)
def test_a_failing_helper_has_the_rest_of_its_share_done_here(run, started, monkeypatch, action, sent):
    expected = run(helpers=0)
    _in_helpers(monkeypatch, action)
    taken = []
    real_take = remove_share._take

    def take(removal, found, share, results):
        taken.append((len(found), len(share)))
        real_take(removal, found, share, results)

    monkeypatch.setattr(remove_share, "_take", take)
    assert run(helpers=2) == expected
    assert started and taken
    assert all(records == min(sent, units) for records, units in taken)  # the units done before it failed are taken
    assert any(units > sent for _records, units in taken)  # and some of its share was left: done here


def test_no_process_can_be_started(run, started, monkeypatch):
    expected = run(helpers=0)

    def no_fork():
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert run(helpers=2) == expected
    assert started and all(helper is None for helper in started)


@pytest.mark.parametrize(
    "garbage",
    [
        ["text", None, 42, (), (1, 2, 3)],
        [(0, True, (0,) * 8, (0, []), (0, []))],  # a unit of the removing process's own share: not this helper's
        [(10**6, True, (0,) * 8, (0, []), (0, []))],  # no such unit
        [(1, 7, (0,) * 8, (0, []), (0, []))],  # a result no walk gives
        [(1, True, (-5,) * 8, (0, []), (0, []))],  # figures that go down
        [(1, True, (0,) * 7, (0, []), (0, []))],  # figures missing
        [(1, True, (0,) * 8, (0, ["not an entry"]), (0, []))],
        [(1, True, (0,) * 8, (0, []), (1, [{"path": 1}]))],
    ],
    ids=["not-records", "not-its-unit", "no-such-unit", "bad-result", "negative", "short", "bad-entry", "bad-error"],
)
def test_a_helper_that_sends_garbage_has_its_share_done_here(run, started, monkeypatch, garbage):
    """Records that do not have the shape a helper sends are never taken: the units they name are done here."""
    expected = run(helpers=0)

    def helper_work(*args):
        send = args[-1]
        for record in garbage:
            send(record)

    monkeypatch.setattr(remove_share, "helper_work", helper_work)
    assert run(helpers=1) == expected
    assert len(started) >= 1


def test_a_unit_sent_twice_is_counted_once(run, started, monkeypatch):
    expected = run(helpers=0)
    real = remove_share.helper_work

    def helper_work(*args):
        send = args[-1]

        def twice(record):
            send(record)
            send(record)
            send((0, *record[1:]))  # and once more as unit 0, which the removing process walks itself

        real(*args[:-1], twice)

    monkeypatch.setattr(remove_share, "helper_work", helper_work)
    assert run(helpers=2) == expected
    assert started


def test_a_record_cut_short_ends_what_is_taken():
    def work(send):
        send((1, "one"))
        os.write(send.args[0], b"\x00\x00\x00\x04\xff\xff\xff\xff")  # a record that cannot be read
        send((2, "two"))

    assert core_parallel.records(core_parallel.start_stream(work)) == [(1, "one")]

    def cut(send):
        send((1, "one"))
        os.write(send.args[0], b"\x00\x00\x01\x00abc")  # announces 256 bytes, sends 3, then dies

    assert core_parallel.records(core_parallel.start_stream(cut)) == [(1, "one")]


def test_helpers_are_stopped_when_the_removal_fails(run, started, monkeypatch):
    """An error in the removing process's own share ends the helpers too: none is left running or unreaped."""
    real, parent = remove_share.walk_unit, os.getpid()

    def walk_unit(*args):
        if os.getpid() != parent:
            signal.pause()  # a helper that would never finish on its own
        if started:
            raise KeyboardInterrupt  # anything the removal does not handle
        return real(*args)

    monkeypatch.setattr(remove_share, "walk_unit", walk_unit)
    with pytest.raises(KeyboardInterrupt):
        run(helpers=2)
    assert started
    for helper in started:
        with pytest.raises(ChildProcessError):
            os.waitpid(helper.pid, os.WNOHANG)  # reaped already
