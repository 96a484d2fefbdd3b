# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv_cache_info end to end: main() on uv caches built by hand in tmp_path, its printed result read back and checked
against the disk. The accounts are fakes with homes in tmp_path and this process's uid (the host's accounts, its uv and
its uv configuration play no part); uv itself is a script that prints a version, where one is needed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core.accounts import Account
from ansible_collections.fleet.cache.plugins.module_utils._tasks import uv_cache_info as task
from ansible_collections.fleet.cache.plugins.module_utils._uv import targets as uv_targets
from ansible_collections.fleet.cache.plugins.modules import uv_cache_info
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import deny_listing

fcntl = pytest.importorskip("fcntl")

DAY = 86400
INDEX = "fdb3caac6344acb5"
FOO = "AAAAfooAAAAfoo01"
BAR = "BBBBbarBBBBbar01"
BAZ = "CCCCbazCCCCbaz01"
ORPHAN = "ORPHANorphan0001"
STALE_ONLY = "STALEonlyStale01"  # an archive only the stale wheels-v5 bucket points to
REV = "7DKRFuRWBAnNggZ6"
OLD_REV = "oldRevisionXXXXX"
SECRET = "Qx7-secret-uv-toml"

# What each uv sees in the cache make_cache builds.
CURRENT_0_13 = {"archive-v0", "wheels-v8", "sdists-v11", "simple-v28"}
STALE_0_13 = {"wheels-v5", "simple-v18"}
CURRENT_0_9 = {"archive-v0", "wheels-v5", "simple-v18"}
STALE_0_9 = {"wheels-v8", "sdists-v11", "simple-v28"}
MARKERS = {"CACHEDIR.TAG", ".gitignore", ".lock"}
OTHERS = {"notes.txt"}


def warnings_text(result):
    """The result's warnings as one text (plain strings, or structured summaries in newer ansible-core)."""
    return json.dumps(result.get("warnings", []))


def _mp_str(text):
    raw = text.encode()
    return bytes([0xA0 | len(raw)]) + raw


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

    def link(self, rel, target_rel):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(self.root, target_rel), os.path.dirname(path)), path)

    def archive(self, archive_id, size):
        self.write(f"archive-v0/{archive_id}/pkg_{archive_id}.py", b"x" * size, age=3)
        self.write(f"archive-v0/{archive_id}/pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\n", age=3)

    def wheel(self, folder, stem, archive_id, size):
        self.archive(archive_id, size)
        self.link(f"{folder}/{stem}", f"archive-v0/{archive_id}")
        self.write(f"{folder}/{stem}.http", b"h" * 300, age=2)


def make_cache(root):
    """uv 0.13's buckets (foo and bar wheels, baz built from an sdist with an old revision left), uv 0.9's wheels-v5 and
    simple-v18 beside them (a wheel whose archive only they point to), an archive nothing points to, the markers, and a
    file that is not uv's."""
    cache = UvCache(root)
    cache.write("CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55")
    cache.write(".gitignore", b"*")
    cache.write(".lock")
    cache.write("notes.txt", b"mine", age=30)
    cache.wheel("wheels-v8/pypi/foo", "1.0-py3-none-any", FOO, 1000)
    cache.write("wheels-v8/pypi/foo/1.0-py3-none-any.lock")
    cache.wheel(f"wheels-v8/index/{INDEX}/bar", "2.0-py3-none-any", BAR, 2000)
    revision = f"sdists-v11/index/{INDEX}/baz/1.0"
    cache.write("sdists-v11/.gitignore")
    cache.write(f"{revision}/revision.http", b"\x93" + _mp_str(REV) + b"\x90\x00" + b"POLICY" + struct.pack("<Q", 6))
    cache.write(f"{revision}/{REV}/metadata.msgpack", b"\x96" + _mp_str("baz") + _mp_str("1.0") + b"\x90\xc0\x90\x90")
    cache.write(f"{revision}/{REV}/baz-1.0-py3-none-any.whl", b"w" * 1500, age=10)
    cache.archive(BAZ, 500)
    cache.link(f"{revision}/{REV}/baz-1.0-py3-none-any", f"archive-v0/{BAZ}")
    cache.write(f"{revision}/{OLD_REV}/baz-1.0-py3-none-any.whl", b"o" * 1200, age=200)
    for name in ("foo", "bar", "baz"):
        cache.write(f"simple-v28/index/{INDEX}/{name}.rkyv", b"s" * 100, age=5)
    cache.wheel("wheels-v5/pypi/old", "1.0-py3-none-any", STALE_ONLY, 4000)
    cache.write(f"simple-v18/index/{INDEX}/old.rkyv", b"s" * 150, age=400)
    cache.archive(ORPHAN, 3000)
    return cache


def on_disk(path):
    """files, dirs, apparent bytes, allocated bytes under ``path`` (itself included), by os.walk and lstat, links never
    followed, a hard-linked file's blocks once."""
    figures = {"files": 0, "dirs": 0, "bytes": 0, "allocated_bytes": 0}
    seen = set()

    def one(entry):
        info = os.lstat(entry)
        if stat.S_ISDIR(info.st_mode):
            figures["dirs"] += 1
            figures["allocated_bytes"] += info.st_blocks * 512
            return
        figures["files"] += 1
        figures["bytes"] += info.st_size
        if info.st_nlink > 1 and (info.st_dev, info.st_ino) in seen:
            return
        seen.add((info.st_dev, info.st_ino))
        figures["allocated_bytes"] += info.st_blocks * 512

    one(path)
    if stat.S_ISDIR(os.lstat(path).st_mode):
        for folder, dirs, files in os.walk(path):
            for name in dirs + files:
                one(os.path.join(folder, name))
    return figures


def figures(stats):
    return {key: stats[key] for key in ("files", "dirs", "bytes", "allocated_bytes")}


def du_bytes(path):
    du = shutil.which("du", path="/usr/bin:/bin")  # the tests' PATH holds no program
    if du is None:
        pytest.skip("no du here")
    return int(subprocess.run([du, "-sB1", path], capture_output=True, text=True, check=True).stdout.split()[0])


def fingerprint(root):
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (
                stat.S_IFMT(info.st_mode),
                info.st_size,
                info.st_mtime_ns,
                os.readlink(path) if os.path.islink(path) else None,
            )
    return found


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def fake_uv(folder, body='echo "uv 0.9.21 (0123abcd 2025-12-30)"'):
    """A program named uv in ``folder`` that runs ``body`` (sh)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "uv")
    write(path, f"#!/bin/sh\n{body}\n")
    os.chmod(path, 0o755)
    return path


class Users:
    """Fake accounts with homes in ``base``: the current one (``me``) and others, all with this process's uid."""

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
            from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue

            raise InvalidValue(f"no local user named {user!r} on this host", option="user")
        return found


@pytest.fixture
def users(tmp_path, monkeypatch):
    """The process's own uv world made from tmp_path: its account a fake one (home in tmp_path, HOME set to it), no UV_*
    or XDG_* variable, a PATH with no uv on it, system configuration files out of reach."""
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
    found.home = home
    return found


@pytest.fixture
def cache(tmp_path, users):
    return make_cache(os.path.realpath(str(tmp_path / "cache"))).root


def entry_names(result, role):
    return {item["name"] for item in result["entries"] if item["role"] == role}


# --- the figures, against the disk ---------------------------------------------------------------------------------


def test_reports_a_cache_as_the_disk_has_it(run_module, cache):
    before = fingerprint(cache)
    code, result = run_module.uv_info({"cache_dir": cache})
    assert code == 0
    assert result["changed"] is False
    assert (result["cache_dir"], result["uv_cache_dir"], result["source"], result["disabled"]) == (cache, cache, "cache_dir option", False)
    assert (result["exists"], result["scanned"], result["in_use"]) == (True, True, False)
    assert result["uv"] == {"path": None, "version": "0.13.10", "source": "newest known"}
    assert result["layout"]["version"] == "0.13.10" and result["layout"]["exact"] is True
    # Everything, against an independent count and du.
    disk = on_disk(cache)
    assert figures(result["total"]) == disk
    assert result["cache_size"] == disk["allocated_bytes"] == du_bytes(cache)
    # Every root entry, each with its role and its own figures.
    assert {item["name"] for item in result["entries"]} == set(os.listdir(cache))
    assert entry_names(result, "current") == CURRENT_0_13
    assert entry_names(result, "stale") == STALE_0_13
    assert entry_names(result, "marker") == MARKERS
    assert entry_names(result, "other") == OTHERS
    assert entry_names(result, "newer_than_known") == set()
    for item in result["entries"]:
        assert figures(item) == on_disk(os.path.join(cache, item["name"])), item["name"]
    stale_disk = [on_disk(os.path.join(cache, name)) for name in STALE_0_13]
    link_text = len(os.readlink(os.path.join(cache, "wheels-v5/pypi/old/1.0-py3-none-any")))
    assert result["roles"]["stale"]["bytes"] == sum(item["bytes"] for item in stale_disk) == 300 + link_text + 150  # .http, link, .rkyv
    assert result["roles"]["stale"]["files"] == 3
    # The archives: one nothing points to, one only the stale bucket points to.
    unreferenced = result["unreferenced_archives"]
    assert (unreferenced["known"], unreferenced["count"], unreferenced["truncated"]) == (True, 2, False)
    assert [item["name"] for item in unreferenced["items"]] == [ORPHAN, STALE_ONLY]
    assert unreferenced["bytes"] == sum(on_disk(os.path.join(cache, "archive-v0", name))["bytes"] for name in (ORPHAN, STALE_ONLY))
    assert result["archives"] == 5
    # The old revision of baz's sdist.
    old = on_disk(os.path.join(cache, f"sdists-v11/index/{INDEX}/baz/1.0/{OLD_REV}"))
    assert (result["stale_revisions"]["count"], result["stale_revisions"]["bytes"], result["stale_revisions"]["files"]) == (1, 1200, old["files"])
    # Packages: their entries in wheels/sdists/simple and the archives those point to.
    packages = {item["name"]: item for item in result["packages"]["items"]}
    assert sorted(packages) == ["bar", "baz", "foo"] and result["packages"]["count"] == 3
    assert packages["foo"]["buckets"] == ["simple", "wheels"] and packages["foo"]["archives"] == 1
    assert packages["foo"]["in_archives"]["bytes"] == on_disk(os.path.join(cache, "archive-v0", FOO))["bytes"]
    assert packages["foo"]["in_buckets"]["bytes"] == 300 + len(os.readlink(os.path.join(cache, "wheels-v8/pypi/foo/1.0-py3-none-any"))) + 100
    assert packages["baz"]["buckets"] == ["sdists", "simple"]
    assert (result["errors"], result["errors_count"], result["hardlinks_exact"]) == ([], 0, True)
    # The totals and the lines for people.
    totals = result["totals"]
    assert (totals["caches"], totals["users"], totals["disabled"], totals["failed"], totals["in_use"]) == (1, 1, 0, 0, 0)
    assert (totals["files"], totals["bytes"], totals["cache_size"]) == (disk["files"], disk["bytes"], disk["allocated_bytes"])
    assert totals["stale_bytes"] == result["roles"]["stale"]["bytes"]
    assert totals["unreferenced_bytes"] == unreferenced["bytes"]
    prune = totals["stale_bytes"] + unreferenced["bytes"] + 1200
    assert result["about"] == [
        f"me: {cache} (cache_dir option, uv 0.13.10): {totals['size']} on disk, {task.uv_format_bytes(disk['bytes'])} in {disk['files']} files;"
        f" uv cache prune frees at least {task.uv_format_bytes(prune)} (other uv versions' buckets {task.uv_format_bytes(totals['stale_bytes'])},"
        f" unused archives {task.uv_format_bytes(unreferenced['bytes'])}, old source revisions 1.2KiB)"
    ]
    assert "warnings" not in result
    assert fingerprint(cache) == before


def test_check_mode_reports_the_same_and_changes_nothing(run_module, cache):
    before = fingerprint(cache)
    _code, plain = run_module.uv_info({"cache_dir": cache})
    _code, checked = run_module.uv_info({"cache_dir": cache, "_ansible_check_mode": True})
    assert checked["changed"] is False
    assert (checked["caches"], checked["totals"], checked["about"]) == (plain["caches"], plain["totals"], plain["about"])
    assert fingerprint(cache) == before


def test_limit_caps_the_lists_not_the_counts(run_module, cache):
    _code, result = run_module.uv_info({"cache_dir": cache, "limit": 1})
    assert ([item["name"] for item in result["packages"]["items"]], result["packages"]["count"], result["packages"]["truncated"]) == (["bar"], 3, True)
    unreferenced = result["unreferenced_archives"]
    assert ([item["name"] for item in unreferenced["items"]], unreferenced["count"], unreferenced["truncated"]) == ([ORPHAN], 2, True)
    _code, nothing = run_module.uv_info({"cache_dir": cache, "limit": 0})
    assert (nothing["packages"]["items"], nothing["packages"]["count"], nothing["unreferenced_archives"]["items"]) == ([], 3, [])
    assert nothing["total"] == result["total"]


def test_unreadable_folders_are_reported_within_the_limit(run_module, cache, monkeypatch):
    locked = [os.path.join(cache, "wheels-v8", "pypi"), os.path.join(cache, "simple-v28", "index")]
    from ansible_collections.fleet.cache.plugins.module_utils._core import walk as core_walk

    deny_listing(monkeypatch, locked[0])
    real = core_walk.list_dir

    def list_or_deny(path, fd):
        if path == locked[1]:
            raise PermissionError(13, "Permission denied", path)
        return real(path, fd)

    monkeypatch.setattr(core_walk, "list_dir", list_or_deny)
    code, result = run_module.uv_info({"cache_dir": cache, "limit": 1})
    assert code == 0
    assert result["errors_count"] == 2 and len(result["errors"]) == 1, result["errors"]
    assert result["errors"][0]["error"] == "Permission denied" and result["errors"][0]["path"] in locked
    assert "2 path(s) could not be read" in warnings_text(result)
    assert "foo" not in {item["name"] for item in result["packages"]["items"]}  # behind the unreadable folder
    assert result["unreferenced_archives"]["count"] >= 2


def test_missing_cache(run_module, users, tmp_path):
    missing = os.path.join(os.path.realpath(str(tmp_path)), "nothing-here")
    code, result = run_module.uv_info({"cache_dir": missing})
    assert code == 0
    assert (result["exists"], result["scanned"], result["cache_size"], result["total"]["files"]) == (False, False, 0, 0)
    assert result["about"] == [f"me: {missing} (cache_dir option): not there yet, uv creates it on first use"]
    assert not os.path.exists(missing)


def test_a_file_where_the_cache_should_be_is_said_plainly(run_module, users, tmp_path):
    path = write(os.path.join(os.path.realpath(str(tmp_path)), "a-file"), "not a cache")
    code, result = run_module.uv_info({"cache_dir": path})
    assert code == 0
    assert (result["exists"], result["scanned"], result["not_scanned_reason"]) == (False, False, f"{path} is not a folder")
    assert result["about"] == [f"me: {path} (cache_dir option): not scanned, {path} is not a folder"]
    assert "not a folder" in warnings_text(result)


# --- which uv's layout counts --------------------------------------------------------------------------------------


def test_uv_version_option_changes_what_is_stale(run_module, cache):
    _code, result = run_module.uv_info({"cache_dir": cache, "uv_version": "0.9.21"})
    assert result["uv"] == {"path": None, "version": "0.9.21", "source": "uv_version option"}
    assert (entry_names(result, "current"), entry_names(result, "stale")) == (CURRENT_0_9, STALE_0_9)
    newer = {item["name"] for item in result["entries"] if item["from_newer_uv"]}
    assert newer == STALE_0_9  # buckets of a uv newer than 0.9.21: its prune removes them all the same
    assert [item["name"] for item in result["unreferenced_archives"]["items"]] == sorted([FOO, BAR, BAZ, ORPHAN])
    assert "other uv versions' buckets" in result["about"][0]
    # The total does not depend on the layout.
    _code, newest = run_module.uv_info({"cache_dir": cache})
    assert result["total"] == newest["total"] and result["cache_size"] == newest["cache_size"]


def test_a_uv_on_the_path_decides_the_layout(run_module, cache, users, tmp_path):
    folder = os.path.join(os.path.realpath(str(tmp_path)), "bin")
    program = fake_uv(folder)
    _code, found = run_module.uv_info({"cache_dir": cache, "environment": {"PATH": f"{folder}:/usr/bin:/bin"}})
    assert found["uv"] == {"path": program, "version": "0.9.21", "source": "found"}
    assert (entry_names(found, "current"), entry_names(found, "stale")) == (CURRENT_0_9, STALE_0_9)
    _code, given = run_module.uv_info({"cache_dir": cache, "uv": program})
    assert given["uv"] == {"path": program, "version": "0.9.21", "source": "uv option"}
    assert given["entries"] == found["entries"]
    # A name, looked for on the user's PATH; a path with ~, the user's home.
    _code, named = run_module.uv_info({"cache_dir": cache, "uv": "uv", "environment": {"PATH": folder}})
    assert named["uv"]["path"] == program
    home_bin = fake_uv(os.path.join(users.home, "bin"), 'echo "uv 0.4.30"')
    _code, tilde = run_module.uv_info({"cache_dir": cache, "uv": "~/bin/uv"})
    assert tilde["uv"] == {"path": home_bin, "version": "0.4.30", "source": "uv option"}
    _code, relative = run_module.uv_info({"cache_dir": cache, "uv": "bin/uv"})  # from the user's home
    assert relative["uv"]["path"] == home_bin
    # uv_version wins over any uv.
    _code, pinned = run_module.uv_info({"cache_dir": cache, "uv": program, "uv_version": "0.13.10"})
    assert pinned["uv"] == {"path": None, "version": "0.13.10", "source": "uv_version option"}


def test_where_uvs_installers_put_it(run_module, cache, users):
    program = fake_uv(os.path.join(users.home, ".local", "bin"))
    _code, result = run_module.uv_info({"cache_dir": cache})
    assert result["uv"] == {"path": program, "version": "0.9.21", "source": "found"}


@pytest.mark.parametrize(
    "kind, fragment",
    [
        ("nothing", "no uv at "),
        ("folder", "is a folder, not the uv program"),
        ("not-executable", "is not executable by this user"),
        ("garbage", "--version did not answer like uv"),
        ("exits", "--version exited with 3"),
        ("name", "no no-such-uv on the PATH of this user"),
    ],
)
def test_a_uv_option_that_is_no_uv_fails_naming_it(run_module, cache, users, tmp_path, kind, fragment):
    base = os.path.realpath(str(tmp_path))
    if kind == "nothing":
        uv = os.path.join(base, "missing", "uv")
    elif kind == "folder":
        uv = os.path.join(base, "a-folder")
        os.makedirs(uv)
    elif kind == "not-executable":
        uv = fake_uv(os.path.join(base, "plain"))
        os.chmod(uv, 0o644)
        if os.access(uv, os.X_OK):
            pytest.skip("this user may run any file")
    elif kind == "garbage":
        uv = fake_uv(os.path.join(base, "garbage"), f'echo "hello {SECRET}"')
    elif kind == "exits":
        uv = fake_uv(os.path.join(base, "exits"), "exit 3")
    else:
        uv = "no-such-uv"
    code, result = run_module.uv_info({"cache_dir": cache, "uv": uv})
    assert code == 1 and result["option"] == "uv", result
    assert result["msg"].startswith("uv: ") and fragment in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"] and "exception" not in result
    assert SECRET not in json.dumps(result)


def test_a_uv_that_hangs_is_stopped_with_what_it_started(run_module, cache, users, tmp_path, monkeypatch):
    monkeypatch.setattr(uv_targets, "VERSION_TIMEOUT", 1)
    pid_file = os.path.join(os.path.realpath(str(tmp_path)), "child.pid")
    uv = fake_uv(os.path.join(os.path.realpath(str(tmp_path)), "hangs"), f"/bin/sleep 300 &\necho $! > {pid_file}\nwait")
    started = time.monotonic()
    code, result = run_module.uv_info({"cache_dir": cache, "uv": uv})
    assert time.monotonic() - started < 20
    assert code == 1 and result["option"] == "uv" and result["msg"] == f"uv: {uv} --version did not answer in 1 s", result
    with open(pid_file, encoding="utf-8") as handle:
        child = int(handle.read())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_alive(child):
        time.sleep(0.05)
    assert not process_alive(child), "the program's own child was left running"
    # Found rather than given: a warning, and the newest layout counts.
    monkeypatch.setenv("PATH", os.path.dirname(uv))
    code, result = run_module.uv_info({"cache_dir": cache})
    assert code == 0 and result["uv"]["source"] == "newest known"
    assert "did not answer in 1 s; the layout of the newest uv known here (0.13.10) counts" in warnings_text(result)


def process_alive(pid):
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_a_uv_found_that_answers_garbage_is_a_warning(run_module, cache, users, tmp_path):
    folder = os.path.join(os.path.realpath(str(tmp_path)), "garbage")
    fake_uv(folder, f'echo "{SECRET}"')
    code, result = run_module.uv_info({"cache_dir": cache, "environment": {"PATH": folder}})
    assert code == 0
    assert result["uv"] == {"path": None, "version": "0.13.10", "source": "newest known"}
    assert f"me: {folder}/uv --version did not answer like uv" in warnings_text(result)
    assert SECRET not in json.dumps(result)


# --- where the cache is ---------------------------------------------------------------------------------------------


def test_uv_no_cache_disables_it(run_module, cache):
    code, result = run_module.uv_info({"environment": {"UV_NO_CACHE": "1", "UV_CACHE_DIR": cache}})
    assert code == 0
    assert (result["cache_dir"], result["uv_cache_dir"], result["disabled"], result["source"]) == (None, None, True, "UV_NO_CACHE")
    assert "UV_NO_CACHE" in result["disabled_reason"]
    assert (result["exists"], result["scanned"]) == (False, False)
    assert "total" not in result and "entries" not in result
    assert (result["totals"]["disabled"], result["totals"]["caches"], result["totals"]["files"]) == (1, 0, 0)
    assert result["about"] == [f"me: uv's cache is disabled ({result['disabled_reason']})"]
    code, result = run_module.uv_info({"environment": {"UV_NO_CACHE": "maybe"}})
    assert code == 1 and "UV_NO_CACHE" in result["msg"], result


def test_a_relative_uv_cache_dir_is_joined_with_the_home(run_module, users):
    built = make_cache(os.path.join(users.home, "rel", "uv")).root
    code, result = run_module.uv_info({"environment": {"UV_CACHE_DIR": "rel/uv"}})
    assert code == 0
    assert (result["uv_cache_dir"], result["cache_dir"], result["source"]) == ("rel/uv", built, "UV_CACHE_DIR")
    assert (result["exists"], result["scanned"], result["total"]["files"]) == (True, True, on_disk(built)["files"])
    assert "relative path: uv takes it relative to its working folder " + users.home in warnings_text(result)


def test_the_default_cache_follows_xdg_cache_home(run_module, users, tmp_path):
    default = make_cache(os.path.join(users.home, ".cache", "uv")).root
    _code, result = run_module.uv_info({})
    assert (result["cache_dir"], result["source"], result["scanned"]) == (default, "default", True)
    xdg = os.path.join(os.path.realpath(str(tmp_path)), "xdg")
    _code, result = run_module.uv_info({"environment": {"XDG_CACHE_HOME": xdg}})
    assert (result["cache_dir"], result["exists"]) == (os.path.join(xdg, "uv"), False)
    assert "XDG_CACHE_HOME" in result["source"]


def test_a_projects_uv_toml_chooses_the_cache(run_module, users, tmp_path):
    project = os.path.join(os.path.realpath(str(tmp_path)), "project")
    write(os.path.join(project, "uv.toml"), 'cache-dir = "pcache"\n')
    write(os.path.join(users.home, ".config", "uv", "uv.toml"), 'cache-dir = "/elsewhere/user-cache"\n')
    built = make_cache(os.path.join(project, "pcache")).root
    code, result = run_module.uv_info({"project": project})
    assert code == 0
    assert (result["uv_cache_dir"], result["cache_dir"], result["scanned"]) == ("pcache", built, True)
    assert result["source"] == f"cache-dir in {project}/uv.toml (project)"
    assert result["resolution"]["working_dir"] == project
    assert result["total"] == {**result["total"], **on_disk(built)}
    # Without the project, the user's file counts.
    _code, result = run_module.uv_info({})
    assert (result["cache_dir"], result["exists"]) == ("/elsewhere/user-cache", False)
    assert result["source"] == f"cache-dir in {users.home}/.config/uv/uv.toml (user)"


def test_a_link_to_the_cache_is_scanned_and_its_lock_probed(run_module, cache, tmp_path):
    link = os.path.join(os.path.realpath(str(tmp_path)), "link-to-cache")
    os.symlink(cache, link)
    _code, plain = run_module.uv_info({"cache_dir": cache})
    _code, linked = run_module.uv_info({"cache_dir": link})
    assert linked["cache_dir"] == link and linked["total"] == plain["total"]
    assert linked["in_use"] is False
    with lock_held(os.path.join(cache, ".lock")):
        _code, linked = run_module.uv_info({"cache_dir": link})
    assert linked["in_use"] is True


# --- bad input ------------------------------------------------------------------------------------------------------

BAD_INPUT = [
    ({"limit": -1}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"uv_version": "abc"}, "uv_version"),
    ({"uv_version": ""}, "uv_version"),
    ({"uv": ""}, "uv"),
    ({"cache_dir": ""}, "cache_dir"),
    ({"cache_dir": ["a"]}, "cache_dir"),
    ({"cache_dir": {"a": 1}}, "cache_dir"),
    ({"cache_dir": "/tmp/a\x00b"}, "cache_dir"),
    ({"environment": {"UV_CACHE_DIR": "/tmp/a\x00b"}}, "environment"),
    ({"uv": "/bin/uv\x00"}, "uv"),
    ({"project": ["a"]}, "project"),
    ({"project": "/no/such/project/folder"}, "project"),
    ({"user": "no-such-user-fleet-cache-test"}, "user"),
    ({"unknown_option": 1}, "unknown_option"),
]


def test_bad_input_fails_naming_the_option(run_module, cache):
    wrong = []
    for args, option in BAD_INPUT:
        code, result = run_module.uv_info(dict({"cache_dir": cache}, **args))
        message = result.get("msg", "")
        if code != 1 or result.get("failed") is not True or option not in message or "Traceback" in message or "exception" in result:
            wrong.append((args, code, message))
        elif "option" in result and result["option"] != option:
            wrong.append((args, "option", result["option"]))
    assert wrong == []


# --- several users ---------------------------------------------------------------------------------------------------


def test_user_all_isolates_a_user_whose_uv_toml_uv_cannot_parse(run_module, users):
    good_home = users.add("gooduser")
    good_cache = make_cache(os.path.join(good_home, ".cache", "uv")).root
    bad_home = users.add("baduser", config=f'cache-dir = "/srv/x"\n{SECRET} ==\n')
    make_cache(os.path.join(bad_home, ".cache", "uv"))
    code, result = run_module.uv_info({"user": "all"})
    assert code == 0
    assert result["failed_users"] == ["baduser"]
    found = {item["user"]: item for item in result["caches"]}
    assert list(found) == ["me", "gooduser", "baduser"]
    bad = found["baduser"]
    assert (bad["failed"], bad["cache_dir"]) == (True, None)
    assert f"{bad_home}/.config/uv/uv.toml" in bad["error"]
    assert "total" not in bad
    good = found["gooduser"]
    assert "failed" not in good and (good["cache_dir"], good["scanned"]) == (good_cache, True)
    assert figures(good["total"]) == on_disk(good_cache)
    assert found["me"]["exists"] is False  # the runner's default cache is not there: reported, empty
    assert (result["totals"]["failed"], result["totals"]["caches"], result["totals"]["users"]) == (1, 2, 3)
    assert result["totals"]["files"] == good["total"]["files"]
    assert any(line.startswith("baduser: not reported: ") for line in result["about"])
    assert "baduser" in warnings_text(result)
    assert SECRET not in json.dumps(result)


def test_user_all_fails_when_every_user_failed(run_module, users):
    users.listed.clear()
    users.add("baduser", config=f"{SECRET} ==\n")
    users.add("worseuser", config="cache-dir = 5\n")
    code, result = run_module(uv_cache_info, {"user": "all"})
    assert code == 1 and result["msg"].startswith("user: no user's uv cache could be read"), result
    assert result["failed_users"] == ["baduser", "worseuser"]
    assert SECRET not in json.dumps(result)


def test_one_user_whose_uv_toml_uv_cannot_parse_fails(run_module, users):
    home = users.add("baduser", config=f"{SECRET} ==\n")
    code, result = run_module(uv_cache_info, {"user": "baduser"})
    assert code == 1 and f"{home}/.config/uv/uv.toml" in result["msg"], result
    assert SECRET not in json.dumps(result)


def test_a_shared_cache_is_counted_once(run_module, users, tmp_path):
    shared = make_cache(os.path.join(os.path.realpath(str(tmp_path)), "shared")).root
    link = os.path.join(os.path.realpath(str(tmp_path)), "shared-link")
    os.symlink(shared, link)
    users.add("alice", config=f'cache-dir = "{shared}"\n')
    users.add("bob", config=f'cache-dir = "{shared}/"\n')
    users.add("carol", config=f'cache-dir = "{link}"\n')
    code, result = run_module.uv_info({"user": "all"})
    assert code == 0
    found = {item["user"]: item for item in result["caches"]}
    assert found["alice"]["scanned"] is True and "counted_in" not in found["alice"]
    assert (found["bob"]["counted_in"], found["carol"]["counted_in"]) == ("alice", "alice")
    assert (found["bob"]["scanned"], found["bob"]["exists"]) == (False, True)
    assert "total" not in found["bob"] and "total" not in found["carol"]
    assert found["alice"]["shared_with"] == ["bob", "carol"]
    assert (found["bob"]["shared_with"], found["carol"]["shared_with"]) == (["alice", "carol"], ["alice", "bob"])
    disk = on_disk(shared)
    me = found["me"]
    assert me["exists"] is False  # the runner's own default cache is not there
    assert (result["totals"]["caches"], result["totals"]["users"], result["totals"]["files"], result["totals"]["bytes"]) == (2, 4, disk["files"], disk["bytes"])
    assert "bob: " + shared + "/ (cache-dir in" in "\n".join(result["about"]) and "shared with alice: counted there" in "\n".join(result["about"])


# --- no place for a cache -------------------------------------------------------------------------------------------


@pytest.fixture
def no_scan(monkeypatch, users):
    """The scan failing the test if it is called on anything but a folder below a fake user's .cache."""
    real = task.scan

    def refuse(directory, **kwargs):
        if f"{os.sep}.cache{os.sep}" not in directory:
            raise AssertionError(f"{directory}, no place for a cache, was scanned")
        return real(directory, **kwargs)

    monkeypatch.setattr(task, "scan", refuse)


def test_a_cache_at_the_root_is_a_warning_and_not_scanned(run_module, users, no_scan):
    code, result = run_module.uv_info({"cache_dir": "/", "uv_version": "0.9.21"})  # before uv 0.11.21's own refusal
    assert code == 0, result
    assert (result["cache_dir"], result["exists"], result["scanned"]) == ("/", True, False)
    assert result["not_scanned_reason"] == "/ is the root of the file system, no place for a cache"
    assert "total" not in result and result["totals"]["caches"] == 0
    assert "me: / is the root of the file system, no place for a cache: it is not scanned" in warnings_text(result)
    assert result["about"] == ["me: / (cache_dir option): not scanned, / is the root of the file system, no place for a cache"]


def test_a_cache_at_the_root_is_refused_as_uv_refuses_it_only_in_a_project(run_module, users, no_scan, tmp_path):
    """uv 0.11.21+ refuses to run in a folder inside its cache, and every folder is inside /. Without a project the
    module's working folder (the home) is only where relative values lead, so the newest uv's rule does not apply there;
    run in a project it does."""
    code, result = run_module.uv_info({"cache_dir": "/"})
    assert code == 0 and result["scanned"] is False, result
    project = tmp_path / "proj"
    project.mkdir()
    code, result = run_module.uv_info({"cache_dir": "/", "project": str(project)})
    assert code == 1 and "cache_dir" in result["msg"] and "inside its cache folder /" in result["msg"], result


def test_a_cache_at_a_home_is_a_warning_and_not_scanned(run_module, users, no_scan, monkeypatch):
    other = users.add("other")
    make_cache(os.path.join(other, "not-a-cache"))
    monkeypatch.setattr(task, "homes", lambda: [users.home, other])
    code, result = run_module.uv_info({"cache_dir": other})
    assert code == 0
    assert (result["exists"], result["scanned"], result["not_scanned_reason"]) == (True, False, f"{other} is a home folder, no place for a cache")
    assert f"{other} is a home folder, no place for a cache: it is not scanned" in warnings_text(result)
    # With user=all, the one user whose uv.toml points at a home gets the warning; the others are scanned.
    users.add("pointer", config=f'cache-dir = "{other}"\n')
    good = make_cache(os.path.join(users.add("gooduser"), ".cache", "uv")).root
    code, result = run_module.uv_info({"user": "all"})
    found = {item["user"]: item for item in result["caches"]}
    assert code == 0 and "failed_users" not in result
    assert (found["pointer"]["scanned"], found["pointer"]["not_scanned_reason"]) == (False, f"{other} is a home folder, no place for a cache")
    assert (found["gooduser"]["scanned"], found["gooduser"]["cache_dir"]) == (True, good)


# --- the lock --------------------------------------------------------------------------------------------------------

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


def test_a_uv_holding_the_lock_is_in_use(run_module, cache):
    lock = os.path.join(cache, ".lock")
    with lock_held(lock):
        code, result = run_module.uv_info({"cache_dir": cache})
        assert code == 0 and result["in_use"] is True
        assert result["totals"]["in_use"] == 1
        assert result["about"][0].endswith("; a uv process is using it now")
        # The probe took nothing: the holder still holds it, and another reader gets in.
        fd = os.open(lock, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    _code, result = run_module.uv_info({"cache_dir": cache})
    assert result["in_use"] is False and result["totals"]["in_use"] == 0


def test_a_lock_that_is_a_link_is_not_followed(run_module, cache, tmp_path):
    elsewhere = write(os.path.join(os.path.realpath(str(tmp_path)), "elsewhere.lock"), "")
    os.unlink(os.path.join(cache, ".lock"))
    os.symlink(elsewhere, os.path.join(cache, ".lock"))
    with lock_held(elsewhere):
        code, result = run_module.uv_info({"cache_dir": cache})
    assert code == 0 and result["in_use"] is None
    assert ".lock" in warnings_text(result)


def test_no_lock_file_is_not_in_use_and_none_is_made(run_module, cache):
    os.unlink(os.path.join(cache, ".lock"))
    _code, result = run_module.uv_info({"cache_dir": cache})
    assert result["in_use"] is False
    assert not os.path.lexists(os.path.join(cache, ".lock"))


# --- without root -----------------------------------------------------------------------------------------------------


def test_user_all_without_root_reports_the_own_cache_and_says_the_others_need_root(run_module, users, monkeypatch):
    from ansible_collections.fleet.cache.plugins.module_utils._core import accounts as core_accounts
    from ansible_collections.fleet.cache.plugins.module_utils._core import privilege as core_privilege

    monkeypatch.setattr(core_privilege, "is_root", lambda: False)
    monkeypatch.setattr(core_accounts, "is_root", lambda: False)
    own = make_cache(os.path.join(users.home, ".cache", "uv")).root
    other = users.add("other")
    users.listed[-1] = Account("other", os.geteuid() + 4242, os.getegid(), other, False)
    code, result = run_module.uv_info({"user": "all"})
    assert code == 0, result
    found = {item["user"]: item for item in result["caches"]}
    assert (found["me"]["cache_dir"], found["me"]["scanned"]) == (own, True)
    assert found["other"]["failed"] is True and found["other"]["error"].startswith("needs root: other's uv configuration"), found["other"]
    assert result["failed_users"] == ["other"]
    code, result = run_module(uv_cache_info, {"user": "other"})
    assert code == 1 and result["option"] == "user" and result["msg"].startswith("user: needs root: other's uv"), result


# --- the documentation names what the result holds -------------------------------------------------------------------


def test_every_documented_return_value_is_returned_and_nothing_else(run_module, users, tmp_path, monkeypatch):
    """Entries of every kind (scanned, missing, disabled, shared, not scanned, failed) against RETURN: each key the
    documentation names is in some entry, each key of an entry is documented, and what is documented without a
    condition, or "unless this user failed", is in every entry it should be in."""
    import re

    import yaml

    documented = yaml.safe_load(uv_cache_info.RETURN)
    fields = documented["caches"]["contains"]
    base = os.path.realpath(str(tmp_path))
    shared = make_cache(os.path.join(base, "shared")).root
    users.add("alice", config=f'cache-dir = "{shared}"\n')
    users.add("bob", config=f'cache-dir = "{shared}"\n')
    users.add("nocache", config="no-cache = true\n")
    users.add("broken", config="cache-dir = [\n")
    homeless = users.add("pointer", config=f'cache-dir = "{users.base}/alice"\n')
    monkeypatch.setattr(task, "homes", lambda: [os.path.join(users.base, "alice"), homeless])
    code, result = run_module.uv_info({"user": "all"})
    assert code == 0, result
    found = {item["user"]: item for item in result["caches"]}
    assert (found["me"]["exists"], found["bob"]["counted_in"], found["nocache"]["disabled"], found["broken"]["failed"]) == (False, "alice", True, True)
    assert found["pointer"]["not_scanned_reason"].endswith("a home folder, no place for a cache")
    seen = set().union(*(set(item) for item in result["caches"]))
    assert seen == set(fields), (sorted(seen - set(fields)), sorted(set(fields) - seen))
    for name, field in fields.items():
        condition = field.get("returned", "success")
        wanted = {"success": result["caches"], "unless this user failed": [item for item in result["caches"] if not item.get("failed")]}.get(condition, [])
        assert all(name in item for item in wanted), (name, condition)
        when_scanned = [
            item
            for item in result["caches"]
            if item.get("scanned") or (item.get("cache_dir") and "exists" in item and not item["exists"] and not item.get("counted_in"))
        ]
        if condition == "when scanned or missing":
            assert when_scanned and all(name in item for item in when_scanned), name
            assert all(name not in item for item in result["caches"] if item not in when_scanned), name
    task_level = set(result) - {"invocation", "warnings", "deprecations", "changed"}
    assert task_level == set(documented), (sorted(task_level), sorted(documented))
    totals = set(re.findall(r"C\((\w+)\)", " ".join(documented["totals"]["description"])))
    assert totals == set(result["totals"]), sorted(totals ^ set(result["totals"]))
