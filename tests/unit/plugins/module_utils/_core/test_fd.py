# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""open_dir_nofollow / open_dir_at: real folders open, a link or a file at any component fails, nothing leaks."""

from __future__ import annotations

import errno
import os

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import fd as core_fd
from ansible_collections.fleet.cache.plugins.module_utils._core.fd import open_dir_at, open_dir_nofollow

pytestmark = pytest.mark.skipif(not core_fd.FD_SUPPORTED, reason="no descriptor-relative opens on this platform")


def open_fds():
    return sorted(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


@pytest.fixture
def tree(tmp_path):
    """base/a/b/c (folders), base/file, base/link-to-a -> a, base/a/link-to-b -> b, base/a/link-to-file -> ../file."""
    base = os.path.realpath(str(tmp_path))
    os.makedirs(os.path.join(base, "a", "b", "c"))
    with open(os.path.join(base, "file"), "w", encoding="utf-8") as handle:
        handle.write("x")
    os.symlink(os.path.join(base, "a"), os.path.join(base, "link-to-a"))
    os.symlink("b", os.path.join(base, "a", "link-to-b"))
    os.symlink("../file", os.path.join(base, "a", "link-to-file"))
    return base


def same_folder(fd, path):
    held, named = os.fstat(fd), os.lstat(path)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


@pytest.mark.parametrize("rel", ["a", "a/b", "a/b/c", "a/b/c/", "a//b/./c"])
def test_opens_real_folders(tree, rel):
    fd = open_dir_nofollow(os.path.join(tree, rel))
    try:
        assert same_folder(fd, os.path.join(tree, "a/b/c" if "c" in rel else rel.rstrip("/")))
        assert sorted(os.listdir(fd)) == sorted(os.listdir(os.path.join(tree, rel)))
    finally:
        os.close(fd)


def test_opens_the_root():
    fd = open_dir_nofollow("/")
    try:
        assert same_folder(fd, "/")
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "rel, failing, codes",
    [
        ("link-to-a", "link-to-a", (errno.ELOOP, errno.ENOTDIR)),  # the last component
        ("a/link-to-b", "a/link-to-b", (errno.ELOOP, errno.ENOTDIR)),
        ("link-to-a/b", "link-to-a", (errno.ELOOP, errno.ENOTDIR)),  # a middle component
        ("link-to-a/b/c", "link-to-a", (errno.ELOOP, errno.ENOTDIR)),
        ("a/link-to-b/c", "a/link-to-b", (errno.ELOOP, errno.ENOTDIR)),
        ("a/link-to-file", "a/link-to-file", (errno.ELOOP, errno.ENOTDIR)),
        ("file", "file", (errno.ENOTDIR,)),
        ("file/x", "file", (errno.ENOTDIR,)),
        ("a/missing/c", "a/missing", (errno.ENOENT,)),
    ],
)
def test_links_and_files_fail(tree, rel, failing, codes):
    assert os.path.isdir(os.path.join(tree, rel)) or "file" in rel or "missing" in rel  # by path, links would be followed
    before = open_fds()
    with pytest.raises(OSError) as caught:
        open_dir_nofollow(os.path.join(tree, rel))
    assert caught.value.errno in codes
    assert caught.value.filename == os.path.join(tree, failing)  # names the path up to the component that failed
    assert open_fds() == before  # every descriptor opened on the way was closed


@pytest.mark.parametrize("path", ["a/b", "./a", "", "a"])
def test_relative_path_refused(tree, monkeypatch, path):
    monkeypatch.chdir(tree)
    with pytest.raises(OSError) as caught:
        open_dir_nofollow(path)
    assert caught.value.errno == errno.EINVAL


@pytest.mark.parametrize("rel", ["a/../a", "a/b/..", "..", "a/b/../../a"])
def test_dot_dot_refused(tree, rel):
    path = tree + "/" + rel
    assert os.path.isdir(path)  # a real folder by path: refused for its '..' alone
    before = open_fds()
    with pytest.raises(OSError) as caught:
        open_dir_nofollow(path)
    assert caught.value.errno == errno.EINVAL
    assert caught.value.filename.endswith("/..")
    assert open_fds() == before


def test_without_descriptor_support(monkeypatch, tree):
    monkeypatch.setattr(core_fd, "FD_SUPPORTED", False)
    with pytest.raises(OSError) as caught:
        open_dir_nofollow(os.path.join(tree, "a"))
    assert caught.value.errno == errno.ENOSYS


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "/a"])
def test_open_dir_at_takes_one_component(tree, name):
    parent = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as caught:
            open_dir_at(name, parent)
        assert caught.value.errno == errno.EINVAL
    finally:
        os.close(parent)


def test_open_dir_at(tree):
    parent = os.open(os.path.join(tree, "a"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = open_dir_at("b", parent)
        try:
            assert same_folder(fd, os.path.join(tree, "a", "b"))
        finally:
            os.close(fd)
        with pytest.raises(OSError) as caught:
            open_dir_at("link-to-b", parent)
        assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)
    finally:
        os.close(parent)
