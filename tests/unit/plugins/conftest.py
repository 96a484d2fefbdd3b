# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic pip caches for the unit tests: build a tree with chosen sizes and ages, and fingerprint one; a host's pip
configuration kept out; a module's arguments patched in."""

from __future__ import annotations

import errno
import hashlib
import json
import ntpath
import os
import stat
import tempfile
import time
import types

import pytest
from ansible.module_utils import basic

from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk

# patch_module_args is for the action and module tests' conftests, which import it from here.
try:
    from ansible.module_utils.testing import patch_module_args  # pylint: disable=unused-import
except ImportError:  # ansible-core < 2.19
    import contextlib

    @contextlib.contextmanager
    def patch_module_args(args=None):
        previous = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}).encode()
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = previous


MEMORY_SCRATCH = "/dev/shm"
MEMORY_SCRATCH_FREE = 2 << 30


def _scratch_in_memory():
    """Scratch trees (``tmp_path``, ``tempfile``) on the memory file system when the machine has one with room.

    These tests create and remove tens of thousands of small files; on ext4 mounted with ``discard`` that costs about
    twice the time of the tests themselves. What they prove does not depend on the file system (the tests that need one
    of its properties mount their own). ansible-test passes no ``TMPDIR`` through, hence the choice here; pytest's own
    ``--basetemp`` still wins."""
    try:
        room = os.statvfs(MEMORY_SCRATCH)
        usable = os.path.isdir(MEMORY_SCRATCH) and os.access(MEMORY_SCRATCH, os.W_OK | os.X_OK)
    except OSError:
        return
    if usable and room.f_bavail * room.f_frsize >= MEMORY_SCRATCH_FREE:
        tempfile.tempdir = MEMORY_SCRATCH


_scratch_in_memory()


DAY = 86400


@pytest.fixture
def no_pip_config(monkeypatch):
    """pip's configuration of the user running the tests kept out: no configuration file, no PIP_* variable."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in list(os.environ):
        if name.startswith("PIP_") and name != "PIP_CONFIG_FILE":
            monkeypatch.delenv(name)


class TreeBuilder:
    """Writes files of given sizes and ages (in days before ``now``); every folder gets an old mtime."""

    def __init__(self) -> None:
        self.now = int(time.time())

    def __call__(self, root, files, *, dir_age=400):
        for rel, (size, age) in files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(bytes([len(rel) % 251]) * size)
            stamp = self.now - age * DAY
            os.utime(path, (stamp, stamp))
        self.age_dirs(root, dir_age)
        return root

    def age_dirs(self, root, dir_age=400):
        stamp = self.now - dir_age * DAY
        for directory, _dirs, _files in sorted(os.walk(root), reverse=True):
            os.utime(directory, (stamp, stamp))


@pytest.fixture
def build_tree():
    return TreeBuilder()


def fingerprint(root):
    """Every path under root (links not followed): kind, mode, size, mtime, content digest or link target."""
    result = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                result[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                result[rel] = ("dir", stat.S_IMODE(info.st_mode), info.st_mtime_ns)
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                result[rel] = ("file", stat.S_IMODE(info.st_mode), info.st_size, info.st_mtime_ns, digest)
    return result


@pytest.fixture
def tree_fingerprint():
    return fingerprint


def scan_figures(result):
    """What a scan found, as plain values, for comparing two scans of one cache (walked and counted, alone and shared
    with helper processes): every figure, list, error and warning."""
    return {
        "buckets": {name: stats.as_dict() for name, stats in result.buckets.items()},
        "other": result.other.as_dict(),
        "pip_wheel_count": result.pip_wheel_count,
        "info": result.pip_info_lines(),
        "wheels": [item.as_dict() for item in result.wheels.items()] if result.wheels is not None else None,
        "wheels_counted": result.wheels.count if result.wheels is not None else None,
        "errors": (result.errors.count, sorted((item["path"], item["error"]) for item in result.errors.items)),
        "warnings": result.warnings,
    }


def deny_listing(monkeypatch, locked):
    """The walk's list_dir refusing to list the folder ``locked`` (EACCES), as for a folder that cannot be read."""
    real_list_dir = core_walk.list_dir

    def list_or_deny(path, fd):
        if path == locked:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_list_dir(path, fd)

    monkeypatch.setattr(core_walk, "list_dir", list_or_deny)


# One cache in pip's layout that the scan, removal and module tests share: relative path -> (size, age in days).
STANDARD_TREE = {
    "http-v2/0/1/2/3/4/k1": (200, 40),
    "http-v2/0/1/2/3/4/k1.body": (1000, 40),
    "http-v2/0/1/2/3/5/k2": (150, 5),
    "http-v2/0/1/2/3/5/k2.body": (2500, 5),
    "http/a/b/c/d/e/k3": (3000, 100),
    "wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl": (4000, 50),
    "wheels/ab/cd/ef/0123/origin.json": (20, 50),
    "wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl": (5000, 2),
    "wheels/12/34/56/789a/origin.json": (20, 2),
    "wheels/12/34/56/bcde/foo_bar-1.0-py3-none-any.whl": (6000, 10),
    "wheels/12/34/56/bcde/origin.json": (20, 10),
    "selfcheck/5a5a": (100, 1),
    "selfcheck.json": (50, 300),
    "notes.txt": (10, 3),
}

# The standard tree's entries, each with the files that go with it.
K1 = ["http-v2/0/1/2/3/4/k1", "http-v2/0/1/2/3/4/k1.body"]
K2 = ["http-v2/0/1/2/3/5/k2", "http-v2/0/1/2/3/5/k2.body"]
K3 = ["http/a/b/c/d/e/k3"]
TINY = ["wheels/ab/cd/ef/0123/tiny-1.0-py3-none-any.whl", "wheels/ab/cd/ef/0123/origin.json"]
FOO_BAR_1 = ["wheels/12/34/56/bcde/foo_bar-1.0-py3-none-any.whl", "wheels/12/34/56/bcde/origin.json"]
FOO_BAR_2 = ["wheels/12/34/56/789a/Foo_Bar-2.0-py3-none-any.whl", "wheels/12/34/56/789a/origin.json"]


@pytest.fixture
def standard_tree():
    return dict(STANDARD_TREE)


@pytest.fixture
def cache(tmp_path, build_tree):
    """STANDARD_TREE built under tmp_path, by its real path (pip reports real paths)."""
    return os.path.realpath(build_tree(str(tmp_path / "cache"), STANDARD_TREE))


class NtOs(types.ModuleType):
    """The os module as code that reads os.path sees it on Windows: ntpath as os.path, everything else the real os."""

    def __init__(self):
        super().__init__("os")
        self.path = ntpath

    def __getattr__(self, name):
        return getattr(os, name)
