# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv_cache end to end: main() on uv caches built by hand in tmp_path (uv 0.13's layout), its printed result read back
and checked against the disk. Every state runs four times (check, real, check, real): check mode changes nothing and
predicts the real run exactly, the real run removes what uv would and only that, and neither later run has anything
left to do. The accounts are fakes with homes in tmp_path and this process's uid (the host's accounts, its uv and its
uv configuration play no part)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.accounts import Account
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._tasks import uv_cache as task
from ansible_collections.fleet.cache.plugins.module_utils._uv import remove as uv_remove
from ansible_collections.fleet.cache.plugins.module_utils._uv import targets as uv_targets
from ansible_collections.fleet.cache.plugins.modules import uv_cache

fcntl = pytest.importorskip("fcntl")

DAY = 86400
INDEX = "fdb3caac6344acb5"
REV = "7DKRFuRWBAnNggZ6"
OLD_REV = "oldRevisionXXXXX"
ZREV = "zopeRevision0001"
ARCHIVES = {
    "foo": "AAAAfooAAAAfoo01",
    "pyyaml": "PYYAMLpyyaml0001",
    "typing-extensions": "TYPINGtyping0001",
    "baz": "CCCCbazCCCCbaz01",
    "zope-interface": "ZOPEzopeZOPE0001",
    "orphan": "ORPHANorphan0001",
    "stale": "STALEonlyStale01",  # only the stale wheels-v5 bucket points to it
}


def _mp_str(text):
    raw = text.encode()
    return bytes([0xA0 | len(raw)]) + raw


def metadata(name, version="1.0"):
    """A built revision's metadata.msgpack as uv writes it: [name, version, ...]."""
    return b"\x96" + _mp_str(name) + _mp_str(version) + b"\x90\xc0\x90\x90"


def revision_pointer(revision):
    """``revision.http``: uv's cached revision pointer naming ``revision``."""
    return b"\x93" + _mp_str(revision) + b"\x90\x00" + b"POLICY" + struct.pack("<Q", 6)


class UvCache:
    """A uv cache written by hand: files with sizes and ages, relative archive links as uv 0.13 writes them."""

    def __init__(self, root):
        self.root = root
        os.makedirs(root, exist_ok=True)

    def write(self, rel, data=b"", age=1):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        stamp = time.time() - age * DAY
        os.utime(path, (stamp, stamp))
        return path

    def link(self, rel, target):
        """A link at ``rel``: to ``target`` below the cache (relative, as uv 0.13 writes it), or to an absolute path."""
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target if os.path.isabs(target) else os.path.relpath(os.path.join(self.root, target), os.path.dirname(path)), path)

    def archive(self, archive_id, size, name="pkg"):
        self.write(f"archive-v0/{archive_id}/{name}/__init__.py", b"x" * size, age=3)
        self.write(f"archive-v0/{archive_id}/{name}-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\n", age=3)

    def wheel(self, folder, stem, archive_id, size, name="pkg"):
        """A downloaded wheel: its unpacked archive, the link to it and the HTTP cache entry beside."""
        self.archive(archive_id, size, name)
        self.link(f"{folder}/{stem}", f"archive-v0/{archive_id}")
        self.write(f"{folder}/{stem}.http", b"h" * 300, age=2)

    def built(self, folder, revision, name, archive_id, size):
        """A wheel uv built from an sdist: the revision's metadata, the .whl and the link to its unpacked archive."""
        self.write(f"{folder}/revision.http", revision_pointer(revision))
        self.write(f"{folder}/{revision}/metadata.msgpack", metadata(name))
        self.write(f"{folder}/{revision}/{name.replace('-', '_')}-1.0-py3-none-any.whl", b"w" * size, age=10)
        self.write(f"{folder}/{revision}/src/setup.py", b"# the unpacked sdist\n", age=10)
        self.archive(archive_id, size // 2, name.replace("-", "_"))
        self.link(f"{folder}/{revision}/{name.replace('-', '_')}-1.0-py3-none-any", f"archive-v0/{archive_id}")


def make_outside(base):
    """Files outside the cache that links inside it point to: none of them may ever go."""
    outside = os.path.join(base, "outside")
    for rel, data in (("secret.txt", b"not uv's: keep me\n"), ("dir/kept.whl", b"k" * 700), ("venv/pyvenv.cfg", b"home = /usr\n")):
        path = os.path.join(outside, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    return outside


def make_cache(root, outside):
    """uv 0.13's buckets: wheels downloaded for foo (pypi), pyyaml (an index) and typing-extensions; baz and
    zope-interface built from sdists (baz with an old revision left); their index pages; a flat index; an environment,
    a build environment, an interpreter entry; uv 0.9's wheels-v5 and simple-v18 left beside (a wheel whose archive only
    they point to); an archive nothing points to; the markers; a file that is not uv's; and links to ``outside``: a
    wheel link to a folder there, an environment that is a link there, a file link inside an archive."""
    cache = UvCache(root)
    cache.write("CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55")
    cache.write(".gitignore", b"*")
    cache.write(".lock")
    cache.write("notes.txt", b"mine", age=30)
    cache.wheel("wheels-v8/pypi/foo", "1.0-py3-none-any", ARCHIVES["foo"], 1000, "foo")
    cache.write("wheels-v8/pypi/foo/1.0-py3-none-any.lock")
    cache.link("wheels-v8/pypi/foo/1.1-py3-none-any", os.path.join(outside, "dir"))
    cache.link(f"archive-v0/{ARCHIVES['foo']}/foo/escape.txt", os.path.join(outside, "secret.txt"))
    cache.wheel(f"wheels-v8/index/{INDEX}/pyyaml", "6.0-cp311-cp311-linux_x86_64", ARCHIVES["pyyaml"], 2000, "yaml")
    cache.wheel("wheels-v8/pypi/typing-extensions", "4.9.0-py3-none-any", ARCHIVES["typing-extensions"], 900, "typing_extensions")
    cache.write("sdists-v11/.gitignore")
    built_sdist = f"sdists-v11/index/{INDEX}/baz/1.0"
    cache.built(built_sdist, REV, "baz", ARCHIVES["baz"], 1500)
    cache.write(f"{built_sdist}/{OLD_REV}/baz-1.0-py3-none-any.whl", b"o" * 1200, age=200)
    cache.built("sdists-v11/pypi/zope-interface/5.0", ZREV, "zope-interface", ARCHIVES["zope-interface"], 800)
    for name in ("foo", "pyyaml", "typing-extensions", "baz", "zope-interface"):
        cache.write(f"simple-v28/index/{INDEX}/{name}.rkyv", b"s" * 100, age=150 if name == "pyyaml" else 5)
    cache.write("flat-index-v7/abcdef0123456789.msgpack", b"f" * 120)
    cache.write("environments-v2/envA/pyvenv.cfg", b"home = /usr\n")
    cache.link("environments-v2/envOut", os.path.join(outside, "venv"))
    cache.write("builds-v0/.tmpBuild/pyvenv.cfg", b"home = /usr\n")
    cache.write("interpreter-v6/0123abcd.msgpack", b"i" * 80)
    cache.wheel("wheels-v5/pypi/old", "1.0-py3-none-any", ARCHIVES["stale"], 4000, "old")
    cache.write(f"simple-v18/index/{INDEX}/old.rkyv", b"s" * 150, age=400)
    cache.archive(ARCHIVES["orphan"], 3000)
    return cache


# --- reading the disk ------------------------------------------------------------------------------------------------


def tree(root):
    """relative path -> (kind, size, link target, blocks, inode), by os.walk and lstat, links never followed."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else "file"
            found[os.path.relpath(path, root)] = (kind, info.st_size, os.readlink(path) if kind == "link" else None, info.st_blocks, (info.st_dev, info.st_ino))
    return found


def shown(snapshot):
    """A tree without blocks and inodes: what two reads of an unchanged tree always agree on (paths, kinds, sizes, link targets)."""
    return {path: entry[:3] for path, entry in snapshot.items()}


def contents(root):
    """relative path -> bytes of every regular file below ``root`` (link targets as text)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = os.readlink(path)
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    found[os.path.relpath(path, root)] = handle.read()
    return found


def on_disk(root):
    """files (links included), dirs (the root included), apparent bytes and allocated bytes (st_blocks, a hard-linked
    file once) under ``root``, as ``du -sB1`` and ``uv cache size`` count them."""
    figures = {"files": 0, "dirs": 1, "bytes": 0, "allocated_bytes": os.lstat(root).st_blocks * 512}
    seen = set()
    for entry in tree(root).values():
        kind, size, _target, blocks, inode = entry
        if kind == "dir":
            figures["dirs"] += 1
            figures["allocated_bytes"] += blocks * 512
            continue
        figures["files"] += 1
        figures["bytes"] += size
        if inode not in seen:
            seen.add(inode)
            figures["allocated_bytes"] += blocks * 512
    return figures


def gone_figures(before, after):
    """files, dirs, bytes, allocated bytes of what is in ``before`` and not in ``after`` (trees)."""
    figures = {"files": 0, "dirs": 0, "bytes": 0, "allocated_bytes": 0}
    for path in set(before) - set(after):
        kind, size, _target, blocks, _inode = before[path]
        figures["dirs" if kind == "dir" else "files"] += 1
        figures["bytes"] += 0 if kind == "dir" else size
        figures["allocated_bytes"] += blocks * 512
    return figures


def size(num_bytes):
    """Bytes as the module writes them (uv's units, 1024-based, one decimal)."""
    return task.uv_format_bytes(num_bytes, short_below_kib=False)


def count(number, word):
    return f"{number:,} {word}{'' if number == 1 else 's'}"


def warnings_text(result):
    return json.dumps(result.get("warnings", []))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


# --- the world the module sees ----------------------------------------------------------------------------------------


class Users:
    """Fake accounts with homes in ``base``: the current one (``me``) and others, all with this process's uid; the
    ``accounts`` name targets.py imported is replaced by ``self.accounts``."""

    def __init__(self, base, monkeypatch):
        self.base = base
        self.listed = []
        monkeypatch.setattr(uv_targets, "accounts", self.accounts)

    def add(self, name, *, current=False, config=None):
        """config: the text of the user's ~/.config/uv/uv.toml (None: no file)."""
        home = os.path.join(self.base, name)
        os.makedirs(home, exist_ok=True)
        if config is not None:
            write(os.path.join(home, ".config", "uv", "uv.toml"), config)
        self.listed.append(Account(name, os.geteuid(), os.getegid(), home, current))
        return home

    def accounts(self, user):
        if user == "all":
            return list(self.listed)
        found = [account for account in self.listed if (account.current if user is None else account.name == user)]
        if not found:
            raise InvalidValue(f"no local user named {user!r} on this host", option="user")
        return found


@pytest.fixture
def users(tmp_path, monkeypatch):
    """The process's own uv world made from tmp_path: its account a fake one (home in tmp_path, HOME set to it), no UV_*
    or XDG_* variable, a PATH with no uv on it, system configuration files out of reach; the homes the engine refuses
    are the fake ones."""
    base = os.path.realpath(str(tmp_path / "homes"))
    os.makedirs(base)
    for name in list(os.environ):
        if name.startswith(("UV_", "XDG_")):
            monkeypatch.delenv(name)
    found = Users(base, monkeypatch)
    home = found.add("me", current=True)
    monkeypatch.setenv("HOME", home)
    monkeypatch.setenv("PATH", os.path.join(base, "no-uv-here"))
    monkeypatch.setenv("XDG_CONFIG_DIRS", os.path.join(base, "no-system-config"))
    monkeypatch.setenv("UV_NO_SYSTEM_CONFIG", "1")
    monkeypatch.setattr(task, "homes", lambda: [account.home for account in found.listed])
    found.home = home
    return found


@pytest.fixture(autouse=True)
def _fresh_warnings():
    """AnsibleModule keeps its warnings in module-level collections: each main() here starts without the last one's."""
    from ansible.module_utils.common import warnings as ansible_warnings

    for name in ("_global_warnings", "_global_deprecations"):
        getattr(ansible_warnings, name).clear()
    yield


@pytest.fixture
def outside(tmp_path):
    return make_outside(os.path.realpath(str(tmp_path)))


@pytest.fixture
def cache(tmp_path, users, outside):
    return make_cache(os.path.realpath(str(tmp_path / "cache")), outside).root


# --- four runs ---------------------------------------------------------------------------------------------------------

FIGURES = ("files", "dirs", "bytes", "allocated_bytes")


def four_runs(run_module, cache, outside, args):
    """Check mode, real, check mode, real (with --diff), the tree read back after each; the four results."""
    outside_before = contents(outside)
    before = tree(cache)
    disk_before = on_disk(cache)
    results = []
    trees = []
    for check in (True, False, True, False):
        code, result = run_module(uv_cache, dict(args, cache_dir=cache, _ansible_check_mode=check, _ansible_diff=True))
        assert code == 0, result
        assert "exception" not in result
        results.append(result)
        trees.append(tree(cache))
        assert contents(outside) == outside_before, "a file outside the cache changed"
    checked, real, again_checked, again = results
    # Check mode changed nothing: same paths, kinds, sizes, link targets.
    assert shown(trees[0]) == shown(before)
    after = trees[1]
    assert set(after) <= set(before), sorted(set(after) - set(before))
    # The real run removed exactly what check mode predicted, and the figures are those of the disk.
    assert (checked["changed"], real["changed"], again_checked["changed"], again["changed"]) == (True, True, False, False)
    gone = gone_figures(before, after)
    assert {key: real["removed"][key] for key in FIGURES} == gone
    assert checked["removed"] == real["removed"]
    item_checked, item_real = checked["caches"][0], real["caches"][0]
    for key in ("removed", "uv_says", "entries", "packages", "archives", "kept_newer_than_known", "before"):
        assert item_checked[key] == item_real[key], key
    assert checked["about"] == [line.replace(": removed ", ": would remove ", 1) for line in real["about"]]
    assert checked["diff"] == real["diff"]
    # Diff mode: the figures before and after are the disk's (os.walk + st_blocks, as du and uv cache size count).
    disk_after = on_disk(cache)
    assert item_real["before"] == {"files": disk_before["files"], "bytes": disk_before["bytes"], "cache_size": disk_before["allocated_bytes"]}
    diff_before, diff_after = real["diff"]["before"].splitlines(), real["diff"]["after"].splitlines()
    assert diff_before[0] == f"{cache}: {size(disk_before['allocated_bytes'])} on disk, {count(disk_before['files'], 'file')}"
    assert diff_after == [f"{cache}: {size(disk_after['allocated_bytes'])} on disk, {count(disk_after['files'], 'file')}"]
    assert disk_before["allocated_bytes"] - disk_after["allocated_bytes"] == real["removed"]["allocated_bytes"]
    # Nothing left to do: the third run predicts nothing, the fourth changes nothing.
    for later in (again_checked, again):
        assert {key: later["removed"][key] for key in FIGURES} == dict.fromkeys(FIGURES, 0)
        assert later["caches"][0]["changed"] is False
        assert later["diff"]["before"] == later["diff"]["after"] == real["diff"]["after"]
    assert shown(trees[2]) == shown(after) and shown(trees[3]) == shown(after)
    return checked, real, before, after


def below(before_paths, *prefixes):
    """Every path of the tree at or below each prefix."""
    return sorted(path for path in before_paths if any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes))


def expected_gone(cache, outside, state):
    """What each state removes from make_cache's tree, named path by path from what uv does (see the module's docs)."""
    paths = set(tree(cache))
    if state == "purged":
        return sorted(paths - {".lock"})  # the root and its .lock stay, as uv 0.13 keeps them
    foo_wheel = "wheels-v8/pypi/foo"
    zope = "sdists-v11/pypi/zope-interface"
    typing = "wheels-v8/pypi/typing-extensions"
    pyyaml = f"wheels-v8/index/{INDEX}/pyyaml"
    if state == "absent":
        # PyYAML, Zope.Interface, typing_extensions, FOO: each one's wheels, sdists, index page and the archives only
        # they linked to; and the whole flat index, as uv does for any package.
        named = [foo_wheel, zope, typing, pyyaml, "flat-index-v7"]
        named += [f"simple-v28/index/{INDEX}/{name}.rkyv" for name in ("foo", "pyyaml", "typing-extensions", "zope-interface")]
        named += [f"archive-v0/{ARCHIVES[name]}" for name in ("foo", "pyyaml", "typing-extensions", "zope-interface")]
        return below(paths, *named)
    prune = ["notes.txt", "wheels-v5", "simple-v18", f"sdists-v11/index/{INDEX}/baz/1.0/{OLD_REV}", "environments-v2/envA", "environments-v2/envOut"]
    prune += ["builds-v0/.tmpBuild", f"archive-v0/{ARCHIVES['orphan']}", f"archive-v0/{ARCHIVES['stale']}"]
    if state == "pruned":
        return below(paths, *prune)
    if state == "pruned as uv 0.9.21":
        # uv 0.9.21 reads wheels-v5 and simple-v18 (current to it) and none of 0.13's buckets (stale to it, even though
        # a newer uv made them: this collection knows them); it empties environments-v2 but not builds-v0 (0.13+).
        stale = ["notes.txt", "wheels-v8", "sdists-v11", "simple-v28", "flat-index-v7", "interpreter-v6", "environments-v2/envA", "environments-v2/envOut"]
        return below(paths, *stale, *[f"archive-v0/{archive}" for name, archive in ARCHIVES.items() if name != "stale"])
    if state == "pruned ci":
        # --ci: every downloaded wheel too (folders and links to folders in the wheels bucket), with the archives only
        # they pointed to; of the wheels built from sdists, all but metadata.msgpack and the .whl (the unpacked sdist,
        # the link to the archive, whose archive then goes).
        ci = ["wheels-v8/pypi", "wheels-v8/index"]
        ci += [f"archive-v0/{ARCHIVES[name]}" for name in ("foo", "pyyaml", "typing-extensions", "baz", "zope-interface")]
        for revision in (f"sdists-v11/index/{INDEX}/baz/1.0/{REV}", f"{zope}/5.0/{ZREV}"):
            ci += [f"{revision}/src"] + [path for path in paths if path.startswith(revision + "/") and path.endswith("-1.0-py3-none-any")]
        return below(paths, *prune, *ci)
    raise AssertionError(state)


STATES = {
    "absent": {"state": "absent", "name": ["PyYAML", "Zope.Interface", "typing_extensions", "FOO"]},
    "purged": {"state": "purged"},
    "pruned": {"state": "pruned"},
    "pruned ci": {"state": "pruned", "ci": True},
    "pruned as uv 0.9.21": {"state": "pruned", "uv_version": "0.9.21"},
}


@pytest.mark.parametrize("state", sorted(STATES))
def test_four_runs(run_module, cache, outside, state):
    expected = expected_gone(cache, outside, state)
    _checked, real, before, after = four_runs(run_module, cache, outside, STATES[state])
    gone = sorted(set(before) - set(after))
    assert gone == expected
    item = real["caches"][0]
    assert (item["cache_dir"], item["source"], item["users"], item["exists"]) == (cache, "cache_dir option", ["me"], True)
    version = STATES[state].get("uv_version", "0.13.10")
    assert item["uv"] == {"path": None, "version": version, "source": "uv_version option" if version != "0.13.10" else "newest known"}
    assert item["uv_version"] == version
    assert item["lock"]["held"] is True and item["lock"]["forced"] is False and item["errors"] == []
    # uv's own count: every file and link gone, as "Removed N files (SIZE)" (apparent bytes before uv 0.13).
    files = sum(1 for path in gone if before[path][0] != "dir")
    uv_bytes = sum(before[path][1] for path in gone if before[path][0] != "dir") if version != "0.13.10" else item["uv_says"]["bytes"]
    assert item["uv_says"]["files"] == real["removed"]["files"] == files
    assert item["uv_says"]["lines"] == [f"Removed {files} files ({task.uv_format_bytes(uv_bytes)})"]
    assert real["about"] == [
        f"me: {cache}: removed {count(files, 'file')}, {real['removed']['freed']} on disk (as uv {version} counts it: {item['uv_says']['lines'][0]})"
    ]
    assert real["removed"]["freed"] == size(real["removed"]["allocated_bytes"])
    if state == "absent":
        packages = {package["requested"]: package["name"] for package in item["packages"]}
        assert packages == {"PyYAML": "pyyaml", "Zope.Interface": "zope-interface", "typing_extensions": "typing-extensions", "FOO": "foo"}
    assert os.path.isdir(cache) and os.path.isfile(os.path.join(cache, ".lock"))


def test_diff_names_each_root_entry_as_the_disk_lost_it(run_module, cache, outside):
    """--diff: under the cache's line, each root entry that loses files, with what went from it on disk."""
    _checked, real, before, after = four_runs(run_module, cache, outside, STATES["pruned"])
    lines = real["diff"]["before"].splitlines()[1:]
    roles = {item["name"]: item["role"] for item in real["caches"][0]["entries"]}
    wanted = []
    for name in sorted({path.split("/")[0] for path in set(before) - set(after)}):
        inside = {path: entry for path, entry in before.items() if path == name or path.startswith(name + "/")}
        lost = gone_figures(inside, after)
        if lost["files"]:
            wanted.append(f"  {name} ({roles[name]}): {count(lost['files'], 'file')}, {size(lost['allocated_bytes'])}")
    assert lines == wanted and len(wanted) >= 6, lines
    assert roles["wheels-v5"] == roles["simple-v18"] == "stale" and roles["notes.txt"] == "other"


@pytest.mark.parametrize("budget", [{"max_age": "100d"}, {"max_size": "64KiB"}], ids=["max_age", "max_size"])
def test_four_runs_with_budgets(run_module, cache, outside, budget):
    """pruned with max_age / max_size: what prune removes, then the entries older than max_age / the oldest entries until
    the cache fits max_size."""
    _checked, _real, before, after = four_runs(run_module, cache, outside, dict(STATES["pruned"], **budget))
    gone = set(before) - set(after)
    assert set(expected_gone(cache, outside, "pruned")) < gone
    assert ".lock" in after and "CACHEDIR.TAG" in after
    if "max_size" in budget:
        assert on_disk(cache)["allocated_bytes"] <= 64 * 1024
    else:
        assert f"simple-v28/index/{INDEX}/pyyaml.rkyv" in gone  # an index page last written 150 days ago
        assert f"simple-v28/index/{INDEX}/foo.rkyv" in after


@pytest.mark.parametrize("args", [{"state": "purged", "min_age": "10m"}, {"state": "absent", "name": ["foo"], "min_age": "1h"}])
def test_min_age_without_a_budget_is_refused_naming_it(run_module, cache, args):
    """min_age is a promise that young entries stay: where no budget applies it is refused, never ignored."""
    before = shown(tree(cache))
    code, result = run_module(uv_cache, dict(args, cache_dir=cache))
    assert code == 1 and result["option"] == "min_age", result
    assert shown(tree(cache)) == before
    code, result = run_module(uv_cache, {"state": "purged", "min_age": "0", "cache_dir": cache, "_ansible_check_mode": True})
    assert code == 0 and result["changed"] is True  # min_age's default, 0, asks for nothing


# --- bad input -------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_removal(monkeypatch):
    """A refusal must come before any scan or removal: fail loudly if the module gets that far."""

    def refuse(*args, **kwargs):
        raise AssertionError("the module scanned or removed before refusing")

    monkeypatch.setattr(task, "scan", refuse)
    monkeypatch.setattr(task, "remove", refuse)


BAD_INPUT = [
    ({"state": "absent"}, "name"),
    ({"state": "absent", "name": []}, "name"),
    ({"state": "absent", "name": ["../x"]}, "name"),
    ({"state": "absent", "name": ["foo bar"]}, "name"),
    ({"state": "absent", "name": ["foo", "requests>=2"]}, "name"),
    ({"state": "purged", "name": ["foo"]}, "name"),
    ({"state": "pruned", "max_size": "5"}, "max_size"),
    ({"state": "pruned", "max_size": "-1GB"}, "max_size"),
    ({"state": "pruned", "max_age": "soon"}, "max_age"),
    ({"state": "purged", "max_age": "30d"}, "max_age"),
    ({"state": "absent", "name": ["foo"], "max_size": "1GB"}, "max_size"),
    ({"state": "absent", "name": ["foo"], "ci": True}, "ci"),
    ({"state": "purged", "ci": True}, "ci"),
    ({"state": "purged", "min_age": "-5m"}, "min_age"),
    ({"state": "purged", "lock_timeout": -1}, "lock_timeout"),
    ({"state": "purged", "limit": -1}, "limit"),
    ({"state": "purged", "uv_version": "abc"}, "uv_version"),
    ({"state": "purged", "uv_version": ""}, "uv_version"),
    ({"state": "purged", "user": "no-such-user-here"}, "user"),
    ({"state": "vanished"}, "state"),
    ({}, "state"),
    ({"state": "purged", "no_such_option": 1}, "no_such_option"),
    ({"state": "purged", "lock_timeout": "soon"}, "lock_timeout"),
]


def test_bad_input_fails_naming_the_option(run_module, cache, no_removal):
    before = shown(tree(cache))
    wrong = []
    for (args, option), check in [(case, check) for case in BAD_INPUT for check in (False, True)]:
        code, result = run_module(uv_cache, dict(args, cache_dir=cache, _ansible_check_mode=check))
        message = result.get("msg", "")
        if code != 1 or result.get("failed") is not True or option not in message or "Traceback" in message or "exception" in result:
            wrong.append((args, code, message))
        elif "option" in result and result["option"] != option:
            wrong.append((args, "option", result["option"]))
    assert wrong == []
    assert shown(tree(cache)) == before


def test_a_cache_dir_that_is_no_place_for_a_cache_is_refused_untouched(run_module, users, cache, no_removal):
    """/, a system folder, a home (the module's own user's, another's), a file, each refused naming cache_dir, in check
    mode and for real, with --diff (whose scan would otherwise read the whole disk first): nothing read, nothing made."""
    other = users.add("other")
    make_cache(os.path.join(other, "looks-like-a-cache"), os.path.join(users.base, "nowhere"))
    afile = write(os.path.join(users.base, "a-file"), "not a cache\n")
    homes_before = shown(tree(users.base))
    lock_in_root = os.path.lexists("/.lock")
    for unsafe, reason in [("/", "the root of the file system"), ("/etc", "a system folder"), (users.home, "a home folder"), (other, "a home folder")]:
        for check in (True, False):
            code, result = run_module(uv_cache, {"state": "purged", "cache_dir": unsafe, "_ansible_check_mode": check, "_ansible_diff": True})
            assert code == 1 and result["option"] == "cache_dir" and result["failed_path"] == os.path.realpath(unsafe), result
            assert result["msg"].startswith(f"cache_dir: refusing to delete from {os.path.realpath(unsafe)!r}: it is {reason}"), result
    code, result = run_module(uv_cache, {"state": "purged", "cache_dir": afile})
    assert code == 1 and result["option"] == "cache_dir", result
    assert result["msg"] == f"cache_dir: {afile} is not a folder: no uv cache there, and uv cannot use it as one; left alone"
    assert shown(tree(users.base)) == homes_before
    assert os.path.lexists("/.lock") == lock_in_root


def test_a_cache_dir_from_uv_toml_that_is_a_home_is_refused_naming_the_file(run_module, users, cache):
    """No task option chose it: the message says what did; with user=all, that user fails and the others go on."""
    victim = users.add("victim")
    write(os.path.join(victim, "keep.txt"), "keep\n")
    pointer = users.add("pointer", config=f'cache-dir = "{victim}"\n')
    code, result = run_module(uv_cache, {"state": "purged", "user": "pointer"})
    assert code == 1 and "option" not in result, result
    assert f"chosen by cache-dir in {pointer}/.config/uv/uv.toml" in result["msg"] and "a home folder" in result["msg"]
    good = make_cache(os.path.join(users.add("good"), ".cache", "uv"), os.path.join(users.base, "nowhere")).root
    code, result = run_module(uv_cache, {"state": "purged", "user": "all"})
    assert code == 0 and result["failed_users"] == ["pointer"], result
    assert os.path.isfile(os.path.join(victim, "keep.txt"))
    assert sorted(os.listdir(good)) == [".lock"]
    # UV_CACHE_DIR given in the task's environment: the environment option is named.
    code, result = run_module(uv_cache, {"state": "purged", "user": "me", "environment": {"UV_CACHE_DIR": victim}})
    assert code == 1 and result["option"] == "environment" and "a home folder" in result["msg"], result


def test_a_missing_cache_is_no_change(run_module, users, tmp_path):
    missing = os.path.join(os.path.realpath(str(tmp_path)), "not-there")
    for check in (True, False):
        code, result = run_module(uv_cache, {"state": "purged", "cache_dir": missing, "_ansible_check_mode": check})
        assert (code, result["changed"], result["caches"][0]["exists"]) == (0, False, False), result
        assert result["about"] == [f"me: {missing}: not there, nothing to do"]
    assert not os.path.lexists(missing)


# --- the lock ----------------------------------------------------------------------------------------------------------

HOLDER = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_SH)
print("held", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def lock_held(path):
    """A child process holding ``path`` shared, as every running uv command holds its cache's .lock."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def timeout_message(cache, seconds, setting="lock_timeout"):
    """uv's wording for a lock it waited for in vain, with the module's way out."""
    return (
        f"Timeout ({seconds}s) when waiting for lock on `{cache}` at `{cache}/.lock`, is another uv process running?"
        f" Set {setting} or UV_LOCK_TIMEOUT to wait longer, or force: true."
    ).replace(f"Set {setting} or UV_LOCK_TIMEOUT", "Set lock_timeout or UV_LOCK_TIMEOUT")


@pytest.mark.parametrize("check", [True, False], ids=["check", "real"])
def test_a_lock_held_by_uv_fails_naming_it_and_removes_nothing(run_module, cache, check):
    before = shown(tree(cache))
    lock = os.path.join(cache, ".lock")
    with lock_held(lock):
        started = time.monotonic()
        code, result = run_module(uv_cache, {"state": "purged", "cache_dir": cache, "lock_timeout": 0, "_ansible_check_mode": check})
        assert time.monotonic() - started < 5
        assert code == 1 and result["msg"] == timeout_message(cache, 0) and result["failed_path"] == lock, result
        assert shown(tree(cache)) == before
        code, result = run_module(uv_cache, {"state": "pruned", "cache_dir": cache, "lock_timeout": 1})
        assert code == 1 and result["msg"] == timeout_message(cache, 1), result
        assert shown(tree(cache)) == before
    # Once that uv is done, the same task goes through.
    code, result = run_module(uv_cache, {"state": "purged", "cache_dir": cache, "lock_timeout": 0})
    assert code == 0 and result["changed"] is True and result["caches"][0]["lock"]["held"] is True


def test_force_goes_on_without_the_lock_and_warns(run_module, cache):
    with lock_held(os.path.join(cache, ".lock")):
        code, result = run_module(uv_cache, {"state": "purged", "cache_dir": cache, "lock_timeout": 0, "force": True})
    assert code == 0 and result["changed"] is True, result
    lock = result["caches"][0]["lock"]
    assert (lock["held"], lock["forced"]) == (False, True)
    assert "another uv process is using the cache" in lock["reason"] and "force: true went on without the lock" in lock["reason"]
    assert "force: true went on without the lock" in warnings_text(result)
    assert sorted(os.listdir(cache)) == [".lock"]


def test_uv_lock_timeout_in_the_environment_option(run_module, cache):
    before = shown(tree(cache))
    with lock_held(os.path.join(cache, ".lock")):
        started = time.monotonic()
        code, result = run_module(uv_cache, {"state": "purged", "cache_dir": cache, "environment": {"UV_LOCK_TIMEOUT": "1"}})
        waited = time.monotonic() - started
        assert code == 1 and result["msg"] == timeout_message(cache, 1), result
        assert 0.9 <= waited < 10
        # The option wins over the variable.
        code, result = run_module(uv_cache, {"state": "purged", "cache_dir": cache, "environment": {"UV_LOCK_TIMEOUT": "600"}, "lock_timeout": 0})
        assert code == 1 and result["msg"] == timeout_message(cache, 0), result
    assert shown(tree(cache)) == before
    # A value uv cannot read: uv's default (300 s) and a warning naming the variable (the lock is free: no wait).
    code, result = run_module(uv_cache, {"state": "purged", "cache_dir": cache, "environment": {"UV_LOCK_TIMEOUT": "5s"}, "_ansible_check_mode": True})
    assert code == 0 and result["caches"][0]["lock"]["timeout"] == 300
    assert "UV_LOCK_TIMEOUT='5s' is not a whole number of seconds" in warnings_text(result)


# --- several users ------------------------------------------------------------------------------------------------------


def test_user_all_cleans_every_cache_but_the_broken_users(run_module, users, outside):
    caches = {name: make_cache(os.path.join(users.add(name), ".cache", "uv"), outside).root for name in ("alice", "bob")}
    broken_home = users.add("broken", config='cache-dir = "/srv/x"\nQx7-secret ==\n')
    broken = make_cache(os.path.join(broken_home, ".cache", "uv"), outside).root
    broken_before = shown(tree(broken))
    outside_before = contents(outside)
    code, checked = run_module(uv_cache, {"state": "pruned", "ci": True, "user": "all", "_ansible_check_mode": True})
    assert code == 0 and checked["changed"] is True, checked
    code, result = run_module(uv_cache, {"state": "pruned", "ci": True, "user": "all"})
    assert code == 0 and result["changed"] is True, result
    assert result["failed_users"] == ["broken"] == checked["failed_users"]
    found = {item["users"][0]: item for item in result["caches"]}
    assert list(found) == ["me", "alice", "bob", "broken"]
    assert found["broken"]["failed"] is True and f"{broken_home}/.config/uv/uv.toml" in found["broken"]["error"]
    assert "Qx7-secret" not in json.dumps(result)
    assert found["me"]["exists"] is False  # the runner's default cache is not there
    for name, root in caches.items():
        left = set(tree(root))
        assert left == set(tree(broken)) - set(expected_gone(broken, outside, "pruned ci")), name
        assert found[name]["cache_dir"] == root and found[name]["changed"] is True
    assert shown(tree(broken)) == broken_before
    assert contents(outside) == outside_before
    assert result["removed"]["files"] == sum(found[name]["removed"]["files"] for name in caches) == checked["removed"]["files"]
    assert any(line.startswith("broken: left alone: ") for line in result["about"])
    assert "broken" in warnings_text(result)


def test_user_all_fails_when_every_user_failed(run_module, users):
    users.listed.clear()
    users.add("bad", config="Qx7-secret ==\n")
    users.add("worse", config="cache-dir = 5\n")
    code, result = run_module(uv_cache, {"state": "purged", "user": "all"})
    assert code == 1 and "uv.toml" in result["msg"], result
    assert "Qx7-secret" not in json.dumps(result)


def test_a_shared_cache_is_cleaned_once(run_module, users, tmp_path, outside):
    shared = make_cache(os.path.join(os.path.realpath(str(tmp_path)), "shared"), outside).root
    users.add("alice", config=f'cache-dir = "{shared}"\n')
    users.add("bob", config=f'cache-dir = "{shared}"\n')
    code, result = run_module(uv_cache, {"state": "purged", "user": "all"})
    assert code == 0
    acted = [item for item in result["caches"] if item.get("exists")]
    assert len(acted) == 1 and acted[0]["users"] == ["alice", "bob"] and acted[0]["cache_dir"] == shared
    assert sorted(os.listdir(shared)) == [".lock"]


# --- the documentation says what the result holds ----------------------------------------------------------------------


def test_every_returned_key_is_documented(run_module, users, cache, outside):
    """Entries of every kind (acted on, missing, disabled, failed) and every state against RETURN: each key of the result
    and of a cache entry is documented, and every documented key is returned by some run."""
    import yaml

    documented = yaml.safe_load(uv_cache.RETURN)
    fields = documented["caches"]["contains"]
    users.add("nocache", config="no-cache = true\n")
    users.add("broken", config="cache-dir = [\n")
    make_cache(os.path.join(users.add("alice"), ".cache", "uv"), outside)
    seen_top, seen_entry = set(), set()
    for args in (STATES["absent"], STATES["pruned ci"], dict(STATES["pruned"], max_age="100d"), {"state": "purged"}):
        for extra in ({"cache_dir": cache, "_ansible_diff": True}, {"user": "all", "_ansible_check_mode": True}):
            code, result = run_module(uv_cache, dict(args, **extra))
            assert code == 0, result
            seen_top |= set(result) - {"invocation", "warnings", "deprecations", "diff"}
            for item in result["caches"]:
                seen_entry |= set(item)
    assert (sorted(seen_top - set(documented)), sorted(set(documented) - seen_top)) == ([], [])
    assert (sorted(seen_entry - set(fields)), sorted(set(fields) - seen_entry)) == ([], [])


# --- what the module leaves alone -------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["pruned", "purged"])
def test_buckets_of_a_newer_uv_are_kept_with_a_warning(run_module, cache, outside, state):
    newer = os.path.join(cache, "wheels-v99", "pypi", "x")
    write(os.path.join(newer, "1.0-py3-none-any.http"), "h")
    code, result = run_module(uv_cache, {"state": state, "cache_dir": cache})
    assert code == 0 and result["caches"][0]["kept_newer_than_known"] == ["wheels-v99"], result
    assert os.path.isfile(os.path.join(newer, "1.0-py3-none-any.http"))
    assert "wheels-v99 was made by a uv newer than this engine knows" in warnings_text(result)


BEHIND_A_LINK = "this collection cannot yet remove from a uv cache behind a link; left alone"


@pytest.mark.parametrize("where", ["the cache folder", "a folder above it"])
def test_a_cache_behind_a_link_is_left_alone_naming_the_link(run_module, users, cache, tmp_path, where):
    base = os.path.realpath(str(tmp_path))
    if where == "the cache folder":
        given = link = os.path.join(base, "cache-link")
        os.symlink(cache, link)
    else:
        link = os.path.join(base, "base-link")
        os.symlink(base, link)
        given = os.path.join(link, "cache")
    before = shown(tree(cache))
    code, result = run_module(uv_cache, {"state": "purged", "cache_dir": given})
    assert code == 1 and result["option"] == "cache_dir", result
    assert result["msg"] == f"cache_dir: {given} is reached through the symbolic link {link}: {BEHIND_A_LINK}"
    assert shown(tree(cache)) == before


@pytest.mark.xfail(
    strict=True,
    reason="engine bug: _uv/remove.py remove() opens the cache root with _core.cache_root.open_cache_root, which follows no"
    " link on the way to the cache and then calls it 'no longer the folder that was resolved'; uv follows such links"
    " (~/.cache a link to /data is common). The task refuses such caches plainly until remove() follows them",
)
def test_engine_removes_from_a_cache_reached_through_a_link(cache, tmp_path):
    link = os.path.join(os.path.realpath(str(tmp_path)), "cache-link")
    os.symlink(cache, link)
    outcome = uv_remove.remove(link, uv_remove.UvRequest(mode="prune", dry_run=True, lock_timeout=0), homes=[])
    assert outcome.changed and outcome.errors.count == 0


def test_limit_caps_the_archives_named_not_the_counts(run_module, cache):
    _code, full = run_module(uv_cache, dict(STATES["pruned ci"], cache_dir=cache, _ansible_check_mode=True))
    archives = full["caches"][0]["archives"]
    assert (archives["count"], len(archives["items"]), archives["truncated"]) == (len(ARCHIVES), len(ARCHIVES), False)
    for limit in (1, 0):
        _code, capped = run_module(uv_cache, dict(STATES["pruned ci"], cache_dir=cache, limit=limit, _ansible_check_mode=True))
        archives = capped["caches"][0]["archives"]
        assert (archives["count"], len(archives["items"]), archives["truncated"]) == (len(ARCHIVES), limit, True)
        assert capped["removed"] == full["removed"]
