# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Removal beside other processes: two purges of one cache at once, and pip refilling a folder while it is emptied.

A folder another run removed first is gone all the same (its parent may go), but not counted as ours; a folder pip
wrote into again after it was listed is kept, and is no error. Concurrent purges leave the tree one purge leaves.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import threading

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk
from ansible_collections.fleet.cache.plugins.module_utils._pip.matching import NameMatcher
from ansible_collections.fleet.cache.plugins.module_utils._pip.remove import Request, remove

ROUNDS = 3


def purge(**kwargs):
    return Request(mode="purged", matcher=NameMatcher(glob="*"), **kwargs)


def _key(text):
    return hashlib.sha224(text.encode()).hexdigest()


def pip_layout(entries, seed):
    """A cache in pip's layout, every file old: ``entries`` http-v2 entries, a quarter as many legacy http/ files and
    wheels with their origin.json, selfcheck state and a file of the user's beside the buckets."""
    rng = random.Random(seed)
    files = {"selfcheck/5a5a": (50, 1), "notes.txt": (10, 3)}
    for number in range(entries):
        key = _key(f"{seed}-http-{number}")
        folder = "http-v2/" + "/".join(key[:5])
        files[f"{folder}/{key}"] = (rng.randint(20, 60), rng.randint(1, 300))
        files[f"{folder}/{key}.body"] = (rng.randint(50, 400), rng.randint(1, 300))
    for number in range(entries // 4):
        key = _key(f"{seed}-legacy-{number}")
        files["http/" + "/".join(key[:5]) + f"/{key}"] = (rng.randint(50, 400), rng.randint(1, 300))
        key = _key(f"{seed}-wheel-{number}")
        folder = f"wheels/{key[:2]}/{key[2:4]}/{key[4:6]}/{key[6:]}"
        files[f"{folder}/proj{number}-1.0-py3-none-any.whl"] = (rng.randint(50, 400), rng.randint(1, 300))
        files[f"{folder}/origin.json"] = (20, rng.randint(1, 300))
    return files


def tree(root):
    """Every folder and file under ``root`` by relative path (sizes of files; times change with any run)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(directory, name), root)] = "dir"
        for name in files:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root)] = os.lstat(path).st_size
    return found


def empty_folders(root):
    return sorted(os.path.relpath(directory, root) for directory, dirs, files in os.walk(root) if directory != root and not dirs and not files)


def copy(source, dest, build_tree):
    shutil.copytree(source, dest, symlinks=True)
    build_tree.age_dirs(dest)
    return dest


def twins(tmp_path, build_tree, name, files):
    """The same cache twice: one for a single purge (what concurrent runs must leave), one for the race."""
    alone = build_tree(str(tmp_path / f"{name}-alone"), files)
    return alone, copy(alone, str(tmp_path / f"{name}-raced"), build_tree)


# --- two purges at once ------------------------------------------------------------------------------


def test_two_purges_at_once_leave_the_tree_one_purge_leaves(tmp_path, build_tree):
    """Two engine purges of one cache, started together in threads (each rmdir and unlink a system call outside the
    interpreter lock), round after round: no empty folder is left, the tree is one purge's, nothing is an error, and
    every file and folder is counted once, by the run that removed it."""
    template = build_tree(str(tmp_path / "template"), pip_layout(250, seed=1))
    alone = copy(template, str(tmp_path / "alone"), build_tree)
    single = remove(alone, purge(), dry_run=False)
    assert single.errors.count == 0, single.errors.items
    for number in range(ROUNDS):
        raced = copy(template, str(tmp_path / f"raced{number}"), build_tree)
        barrier = threading.Barrier(2)
        outcomes = [None, None]

        def run(slot, raced, barrier, outcomes):
            barrier.wait()
            outcomes[slot] = remove(raced, purge(), dry_run=False)

        threads = [threading.Thread(target=run, args=(slot, raced, barrier, outcomes)) for slot in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        first, second = outcomes
        assert first is not None and second is not None, "both purges finished"
        assert (first.errors.items, second.errors.items) == ([], []), f"round {number}"
        assert empty_folders(raced) == [], f"round {number}: empty folders left behind"
        assert tree(raced) == tree(alone), f"round {number}: two purges at once leave what one purge leaves"
        assert first.files + second.files == single.files, f"round {number}: every file counted once"
        assert first.extra_files + second.extra_files == single.extra_files, f"round {number}"
        assert first.dirs + second.dirs == single.dirs, f"round {number}: every folder counted once, by the run that removed it"


def test_a_folder_another_run_removed_first_is_gone_not_ours(tmp_path, build_tree, monkeypatch):
    """Before a third of this run's rmdirs, the other run removes that folder: this rmdir fails with ENOENT. The folder
    is gone all the same, so its parent goes too; only the folders this run removed are counted."""
    alone, raced = twins(tmp_path, build_tree, "other", pip_layout(120, seed=7))
    single = remove(alone, purge(), dry_run=False)
    real_rmdir = os.rmdir
    rng = random.Random(7)
    counts = {"ours": 0, "theirs": 0}

    def racing_rmdir(path, *args, **kwargs):
        if rng.random() < 0.33:
            real_rmdir(path, *args, **kwargs)  # the other run wins
            counts["theirs"] += 1
        real_rmdir(path, *args, **kwargs)
        counts["ours"] += 1

    monkeypatch.setattr(os, "rmdir", racing_rmdir)
    outcome = remove(raced, purge(), dry_run=False)
    monkeypatch.undo()
    assert counts["theirs"] > 0, "the other run removed some folders first"
    assert outcome.errors.items == []
    assert empty_folders(raced) == []
    assert tree(raced) == tree(alone)
    assert outcome.dirs == counts["ours"] == single.dirs - counts["theirs"]


@pytest.mark.parametrize("vanished", ["lists empty", "cannot be listed"])
def test_a_folder_removed_between_its_opening_and_its_listing(tmp_path, build_tree, monkeypatch, vanished):
    """The other run empties and removes a folder after this run opened it and before it lists it. Depending on the
    system, listing the removed folder by its descriptor gives nothing or fails with ENOENT: either way the folder is
    gone, and the folders above it go too."""
    alone, raced = twins(tmp_path, build_tree, "listing", pip_layout(120, seed=11))
    remove(alone, purge(), dry_run=False)
    real_list_dir = core_walk.list_dir
    rng = random.Random(11)
    taken = []

    def list_after_the_other_run(path, fd):
        entries = real_list_dir(path, fd)
        if entries and all(entry.is_file(follow_symlinks=False) for entry in entries) and rng.random() < 0.3:
            shutil.rmtree(path)  # the other run finishes this leaf folder first
            taken.append(path)
            if vanished == "cannot be listed":
                raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
            return real_list_dir(path, fd) if fd is not None else []
        return entries

    monkeypatch.setattr(core_walk, "list_dir", list_after_the_other_run)
    outcome = remove(raced, purge(), dry_run=False)
    monkeypatch.undo()
    assert taken, "the other run took some folders"
    assert outcome.errors.items == []
    assert empty_folders(raced) == []
    assert tree(raced) == tree(alone)


# --- pip refilling a folder --------------------------------------------------------------------------


def test_a_folder_pip_refills_while_it_is_emptied_is_kept_without_error(tmp_path, build_tree, monkeypatch):
    """pip writes a new entry into a folder after the purge listed and emptied it: the rmdir fails with ENOTEMPTY.
    The folder is kept with pip's new entry (and the folders above it), the rest is purged, and nothing is an error."""
    files = pip_layout(40, seed=3)
    root = os.path.realpath(build_tree(str(tmp_path / "cache"), files))  # as /proc/self/fd names the folders
    refilled = os.path.join(root, "http-v2", *_key("3-http-0")[:5])
    new_entry = os.path.join(refilled, _key("pip writes now"))
    real_rmdir = os.rmdir
    made = []

    def pip_writes_first(path, *args, **kwargs):
        where = os.path.join(os.readlink(f"/proc/self/fd/{kwargs['dir_fd']}"), path) if kwargs.get("dir_fd") is not None else os.fspath(path)
        if where == refilled and not made:
            with open(new_entry, "wb") as handle:
                handle.write(b"cc=4,")
            made.append(new_entry)
        real_rmdir(path, *args, **kwargs)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to name the folder an rmdir by descriptor removes")
    monkeypatch.setattr(os, "rmdir", pip_writes_first)
    outcome = remove(root, purge(), dry_run=False)
    monkeypatch.undo()
    assert made, "pip wrote into the folder just before its rmdir"
    assert outcome.errors.items == [] and outcome.errors.count == 0
    left = {path for path, kind in tree(root).items() if kind != "dir"}
    assert left == {os.path.relpath(new_entry, root), "notes.txt", "selfcheck/5a5a"}
    assert empty_folders(root) == []
    again = remove(root, purge(), dry_run=False)
    assert again.errors.items == [] and tree(root) == {"notes.txt": 10, "selfcheck": "dir", "selfcheck/5a5a": 50}


def test_purges_beside_a_writer_report_no_error(tmp_path, build_tree):
    """A thread keeps writing entries into folders of the cache, as a running pip does, while purges run: no purge
    reports an error for a folder it found refilled, and once the writer stops one purge leaves nothing."""
    files = pip_layout(150, seed=5)
    root = build_tree(str(tmp_path / "cache"), files)
    folders = sorted({os.path.dirname(os.path.join(root, rel)) for rel in files if rel.startswith(("http-v2/", "http/", "wheels/"))})
    halt = threading.Event()
    written = [0]

    def writer():
        rng = random.Random(5)
        while not halt.is_set():
            folder = rng.choice(folders)
            try:
                os.makedirs(folder, exist_ok=True)
                with open(os.path.join(folder, _key(str(written[0]))), "wb") as handle:
                    handle.write(b"cc=4,")
                written[0] += 1
            except (FileNotFoundError, FileExistsError):
                continue  # the purge removed a folder on the way (within makedirs, or before open): pip retries the same

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        outcomes = [remove(root, purge(), dry_run=False) for _round in range(ROUNDS)]
        writing = thread.is_alive()
    finally:
        halt.set()
        thread.join(60)
    assert writing and written[0] > 0, "the writer kept writing through every purge"
    assert [outcome.errors.items for outcome in outcomes] == [[]] * ROUNDS
    last = remove(root, purge(), dry_run=False)
    assert last.errors.items == []
    assert tree(root) == {"notes.txt": 10, "selfcheck": "dir", "selfcheck/5a5a": 50}
