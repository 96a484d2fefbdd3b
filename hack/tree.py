# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The collection's files as git sees them (tracked + untracked-not-ignored), for building and testing.

ansible-test must run from a real directory named ansible_collections/NAMESPACE/NAME (a symlink to the
checkout is rejected), so the harness keeps a copy of the collection there and refreshes it before each
run. Standard library only; runs on any Python >= 3.7.

Usage:
    tree.py list                 # one path per line, relative to the repository root
    tree.py digest               # sha256 over the paths, modes and contents (changes when any file does)
    tree.py sync DEST            # make DEST hold exactly these files (DEST/tests/output and DEST/.git are kept)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Without git (an unpacked tarball), skip what .gitignore would have skipped.
FALLBACK_SKIP_DIRS = {".git", ".venv", ".build", ".oracle", ".bench", ".reports", ".ansible", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
# Kept in the copy across syncs: ansible-test's output (its venvs and caches) and the copy's own git
# repository (ansible-test lists a collection's files with git, and would otherwise find the checkout's).
KEEP_IN_DEST = ("tests/output", ".git")

# Droppings of tools run by hand in the checkout, left out even when .gitignore does not name them.
TOOL_DIRS = (".hypothesis", ".ansible", ".tox", ".nox", "tests/output")


def _kept(rel: str) -> bool:
    """Paths in the copy that sync leaves alone (also bytecode caches that tools write there)."""
    return any(rel == keep or rel.startswith(keep + "/") for keep in KEEP_IN_DEST) or "__pycache__" in rel.split(os.sep)


def list_files(root: str = ROOT) -> list[str]:
    """Relative paths of the files git would show: tracked plus untracked-not-ignored, that exist."""
    try:
        out = subprocess.run(
            ["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            check=True,
        ).stdout
        paths = {os.fsdecode(item) for item in out.split(b"\0") if item}
    except (OSError, subprocess.CalledProcessError):
        paths = set()
        for directory, dirs, files in os.walk(root):
            dirs[:] = [name for name in dirs if name not in FALLBACK_SKIP_DIRS]
            for name in files:
                if not name.endswith(".pyc"):
                    paths.add(os.path.relpath(os.path.join(directory, name), root))
    return sorted(
        path
        for path in paths
        if os.path.lexists(os.path.join(root, path))
        and not any(path == top or path.startswith(top + "/") for top in TOOL_DIRS)
        and "/__pycache__/" not in "/" + path
    )


def digest(root: str = ROOT) -> str:
    sha = hashlib.sha256()
    for path in list_files(root):
        full = os.path.join(root, path)
        info = os.lstat(full)
        sha.update(path.encode("utf-8", "surrogateescape") + b"\0")
        if stat.S_ISLNK(info.st_mode):
            sha.update(b"link\0" + os.fsencode(os.readlink(full)))
        else:
            sha.update(b"%o\0" % (info.st_mode & 0o111))
            with open(full, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
        sha.update(b"\0")
    return sha.hexdigest()


def _same(src: str, dst: str) -> bool:
    if os.path.islink(src) or os.path.islink(dst):
        return os.path.islink(src) and os.path.islink(dst) and os.readlink(src) == os.readlink(dst)
    if not os.path.isfile(dst):
        return False
    s_info, d_info = os.stat(src), os.stat(dst)
    if s_info.st_size != d_info.st_size or (s_info.st_mode & 0o777) != (d_info.st_mode & 0o777):
        return False
    with open(src, "rb") as one, open(dst, "rb") as two:
        return one.read() == two.read()


def sync(dest: str, root: str = ROOT) -> int:
    """Copy changed files into dest and delete files that are gone; returns how many paths changed."""
    dest = os.path.abspath(dest)
    wanted = list_files(root)
    wanted_set = set(wanted)
    changed = 0
    for path in wanted:
        src, dst = os.path.join(root, path), os.path.join(dest, path)
        if _same(src, dst):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst) and (os.path.islink(dst) or not os.path.isdir(dst)):
            os.unlink(dst)
        elif os.path.isdir(dst):
            shutil.rmtree(dst)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
        changed += 1
    for directory, dirs, files in os.walk(dest, topdown=True):
        rel_dir = os.path.relpath(directory, dest)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirs[:] = [name for name in dirs if not _kept(os.path.join(rel_dir, name))]
        for name in files + [name for name in dirs if os.path.islink(os.path.join(directory, name))]:
            rel = os.path.join(rel_dir, name)
            if rel not in wanted_set:
                os.unlink(os.path.join(directory, name))
                changed += 1
    for directory, _dirs, _files in sorted(os.walk(dest), key=lambda item: -len(item[0])):
        rel = os.path.relpath(directory, dest)
        if rel != "." and not _kept(rel) and not os.listdir(directory):
            os.rmdir(directory)
    if not os.path.exists(os.path.join(dest, ".git")) and shutil.which("git"):
        subprocess.run(["git", "init", "-q", dest], check=True)
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list")
    sub.add_parser("digest")
    sync_parser = sub.add_parser("sync")
    sync_parser.add_argument("dest")
    args = parser.parse_args()
    if args.command == "list":
        for path in list_files():
            print(path)
    elif args.command == "digest":
        print(digest())
    else:
        if os.path.realpath(args.dest) == os.path.realpath(ROOT):
            parser.error("refusing to sync the repository onto itself")
        print(sync(args.dest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
