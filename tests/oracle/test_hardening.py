# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hardening: races, faults, hostile caches, interruption, bad input and properties (issue 8).

Every scenario checks a decoy tree outside the cache (sha256 of every file, before and after) and counts the
tracebacks a user would be shown: any 'Traceback' in a module's output, stderr, msg or exception, and any exception
that escaped a module (ansible >= 2.19 words those "Module failed: <exception text>" and shows the traceback with
ANSIBLE_DISPLAY_TRACEBACK); the engine's own stderr where it runs as a program. The suite's output ends with one
line (hardening_support.SummaryPlugin, just before pytest's closing line; also in $FLEET_CACHE_REPORTS/hardening.txt):

    hardening: scenarios run N, survived N, bytes changed outside the cache 0, tracebacks shown to a user 0, bad inputs refused N of N

Modules run ad hoc through ``run_module`` where a scenario needs one run at a time; the bad-input matrix (every
option of every module) and the refusals run as one ansible-playbook of one task each (``module_batch``): the same
modules and checks, without an ansible start-up per case, which keeps the suite within its time.

Races: ``min_age`` must be longer than the time pip takes between writing a file into the cache and its last use
in the same run (a built wheel is stored, then installed; an HTTP entry's body and metadata are written apart).
On 2 busy cores 1 s was seen to be too short (pip lost a freshly built wheel) and 3 s enough; these tests use
``RACE_MIN_AGE`` (120 s, far longer than a round) and the README's 5m is the advice for real hosts. ``min_age`` cannot protect a cache
*hit*: pip reads old entries without touching them, so the races here serve each round from a new index port
(new cache keys): what pip reads in a round is what it wrote in that round.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fnmatch
import json
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml
from engine import REPO_ROOT, errors, http, matching, remove, scan, units, version, walk
from hardening_support import (
    OLD,
    Answer,
    Decoy,
    EngineProcess,
    Tally,
    copy_cache,
    half_entries,
    http_entry,
    link_decoy_into,
    module,
    module_batch,
    pip_files,
    register_summary,
    synthetic_cache,
    tree_state,
    wheel_entry,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from piporacle import OraclePip, PackageIndex, fill_cache, isolated_env, make_projects

from playbooks import ansible_env, fake_cache, local_host, playbook, write_inventory

RACE_MIN_AGE = 120.0  # far longer than a round, however busy the machine
RACE_REQUIREMENTS = ["TinyYAML==1.1", "tiny-requests==2.1", "typing_tiny==0.3"]  # two sdists pip builds, one wheel
DAY = 86400.0


# --------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def tally(request: pytest.FixtureRequest) -> Tally:
    return register_summary(request.config)


@pytest.fixture
def decoy(tmp_path: Path) -> Decoy:
    return Decoy(tmp_path / "outside")


@pytest.fixture(scope="session")
def engine_proc() -> Iterator[EngineProcess]:
    root = Path(tempfile.mkdtemp(prefix="fleet-cache-hardening-"))
    root.chmod(0o755)
    try:
        yield EngineProcess(root / "engine")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    dist = tmp_path_factory.mktemp("dists")
    return dist, make_projects(dist)


@dataclass
class Filled:
    """A cache real pip filled with every file of a loopback index that is stopped since."""

    cache: Path
    files: list[tuple[str, str, str]]  # (normalized name, version, file URL)
    host: str


@pytest.fixture(scope="module")
def filled(newest_pip: OraclePip, dists: tuple[Path, list[Any]], tmp_path_factory: pytest.TempPathFactory) -> Filled:
    tmp = tmp_path_factory.mktemp("filled")
    dist, projects = dists
    with PackageIndex(dist, projects) as index:
        base = index.url.replace("/simple/", "/files/")
        files = [(project.normalized, release, base + project.filenames[release]) for project in projects for release in project.versions]
        fill_cache(
            newest_pip,
            tmp / "cache",
            index,
            [project.requirement(release) for project in projects for release in project.versions],
            env=isolated_env(tmp / "env"),
        )
        host = index.host
    return Filled(tmp / "cache", files, host)


@pytest.fixture(scope="module")
def template(template_caches: dict[str, Path], newest_pip: OraclePip) -> Path:
    return template_caches[newest_pip.version]


def _backdate(root: Path, stamp: float) -> None:
    for directory, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.utime(os.path.join(directory, name), (stamp, stamp), follow_symlinks=False)


def _purge_request(**extra: Any) -> Any:
    return remove.Request(mode="purged", matcher=matching.NameMatcher(glob="*"), **extra)


def _ok(answer: Answer) -> None:
    assert not answer.crashed, answer.explain()
    assert not answer.failed, answer.explain()


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (root and a kernel that lets this container mount), unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


class _Loop(threading.Thread):
    """Calls ``body(pass_number)`` again and again until stopped; keeps what it raised."""

    def __init__(self, body: Callable[[int], None], pause: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.body = body
        self.pause = pause
        self.halt = threading.Event()
        self.passes = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.body(self.passes)
            except Exception as error:  # pylint: disable=broad-exception-caught  # kept, and asserted on by the test
                self.failures.append(f"{type(error).__name__}: {error}"[:2000])
            self.passes += 1
            self.halt.wait(self.pause)

    def finish(self) -> None:
        self.halt.set()
        self.join(300)


# --------------------------------------------------------------------------------------------------
# Races


def _race_rounds(
    tally: Tally, pip: OraclePip, dists: tuple[Path, list[Any]], cache: Path, tmp: Path, decoy: Decoy, body: Callable[[int], None], rounds: int, kind: str
) -> None:
    env = isolated_env(tmp / "env")
    dist, projects = dists
    for number in range(rounds):
        _backdate(cache, time.time() - 2 * DAY)  # what earlier rounds left is old now: the cleaner has work
        link_decoy_into(cache, decoy, f"{kind}-{number}")
        halves = set(half_entries(cache))
        with tally.scenario(f"race: {kind}, round {number}", decoy), PackageIndex(dist, projects) as index:
            loop = _Loop(body)
            loop.start()
            try:
                proc = pip.run(
                    "install", "--no-deps", "--cache-dir", str(cache), *index.install_args(), "--target", str(tmp / f"target-{kind}-{number}"),
                    "--progress-bar", "off", *RACE_REQUIREMENTS, env=env, timeout=180,
                )  # fmt: skip
            finally:
                loop.finish()
            assert proc.returncode == 0, f"pip failed while {kind} ran beside it:\n{proc.stderr[-3000:]}"
            assert loop.passes >= 1 and not loop.failures, loop.failures[:3]
            assert set(half_entries(cache)) <= halves, "half http-v2 entries left behind"
            built = {name for name in pip_files(cache) if name.endswith(".whl")}
            assert any("TinyYAML-1.1" in name for name in built), "the wheel pip built this round was spared"


def test_race_engine_prune_and_purge_while_pip_installs(
    tally: Tally, newest_pip: OraclePip, dists: tuple[Path, list[Any]], template: Path, tmp_path: Path, decoy: Decoy
) -> None:
    cache = copy_cache(template, tmp_path / "cache")

    def clean(number: int) -> None:
        if number % 2:
            request = _purge_request(min_age=RACE_MIN_AGE)
        else:
            request = remove.Request(mode="pruned", max_age=DAY, max_size=10**6, min_age=RACE_MIN_AGE)
        outcome = remove.remove(str(cache), request, dry_run=False)
        # A folder pip writes into again between our listing and our rmdir is pip's again: kept, and no error.
        assert outcome.errors.count == 0, outcome.errors.items

    _race_rounds(tally, newest_pip, dists, cache, tmp_path, decoy, clean, 3, "engine")


def test_race_module_prune_and_purge_while_pip_installs(
    tally: Tally, newest_pip: OraclePip, dists: tuple[Path, list[Any]], template: Path, tmp_path: Path, decoy: Decoy
) -> None:
    cache = copy_cache(template, tmp_path / "cache")

    def clean(number: int) -> None:
        args: dict[str, Any] = {"cache_dir": str(cache), "min_age": f"{int(RACE_MIN_AGE)}s"}
        args.update({"state": "purged"} if number % 2 else {"state": "pruned", "max_age": "1d", "max_size": "1MB"})
        _ok(module("pip_cache", args, tmp_path))

    _race_rounds(tally, newest_pip, dists, cache, tmp_path, decoy, clean, 2, "module")


def test_two_module_purges_of_one_cache_at_once(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    cache = tmp_path / "cache"
    synthetic_cache(cache, entries=1200, seed=1, now=time.time())
    link_decoy_into(cache, decoy)
    files = [name for name in pip_files(cache) if not (cache / name).is_dir()]
    barrier = threading.Barrier(2)

    def purge(name: str) -> Answer:
        barrier.wait()
        return module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path / name)

    with tally.scenario("race: two module purges at once", decoy):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(purge, ["first", "second"]))
        for answer in answers:
            _ok(answer)
            assert answer.result["caches"][0]["errors"] == [], answer.explain()  # type: ignore[index]
        removed = [answer.result["removed"]["files"] + answer.result["removed"]["extra_files"] for answer in answers]  # type: ignore[index]
        assert sum(removed) == len(files), f"every file removed once, by one of them: {removed} of {len(files)}"
        assert pip_files(cache) == []
        left = [bucket for bucket in ("http-v2", "http", "wheels") if (cache / bucket).exists()]
        assert left == [], f"two purges at once leave what one purge leaves - no bucket, no empty folder: {left}"


# --------------------------------------------------------------------------------------------------
# Faults


def test_files_vanish_between_listing_and_use(tally: Tally, tmp_path: Path, decoy: Decoy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process deletes a fifth of every folder right after the walker listed it."""
    real_scan = walk.list_dir
    now = time.time()
    for number, mode in enumerate(["purged", "pruned", "absent", "scan", "downloads"]):
        cache = tmp_path / f"cache-{mode}"
        synthetic_cache(cache, entries=120, seed=number, now=now)
        link_decoy_into(cache, decoy, mode)
        rng = random.Random(number)

        def scan_then_vanish(path: str, fd: Optional[int], rng: random.Random = rng) -> list[os.DirEntry[str]]:
            entries = real_scan(path, fd)
            for entry in entries:
                if rng.random() < 0.2:
                    full = os.path.join(path, entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(full)
                    else:
                        os.unlink(full)
            return entries

        with tally.scenario(f"fault: files vanish mid-walk ({mode})", decoy), monkeypatch.context() as patch:
            patch.setattr(walk, "list_dir", scan_then_vanish)
            if mode == "scan":
                result = scan.scan(str(cache))
                assert result.errors.count == 0, result.errors.items
                continue
            if mode == "downloads":
                http.list_downloads(str(cache))
                continue
            if mode == "purged":
                request = _purge_request()
            elif mode == "pruned":
                request = remove.Request(mode="pruned", max_size=20_000, max_age=100 * DAY)
            else:
                request = remove.Request(mode="absent", matcher=matching.NameMatcher(glob="proj1"))
            outcome = remove.remove(str(cache), request, dry_run=False)
            assert outcome.errors.count == 0, outcome.errors.items
            if mode == "purged":
                assert pip_files(cache) == []


def test_files_vanish_under_unlink_and_rmdir(tally: Tally, tmp_path: Path, decoy: Decoy, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone else removes a third of the files and folders just before the engine does: skipped, not counted."""
    cache = tmp_path / "cache"
    synthetic_cache(cache, entries=400, seed=7, now=time.time())
    real_unlink, real_rmdir = os.unlink, os.rmdir
    rng = random.Random(7)
    ours = {"unlink": 0, "rmdir": 0}

    def racing(real: Callable[..., None], kind: str) -> Callable[..., None]:
        def call(path: Any, *args: Any, **kwargs: Any) -> None:
            if rng.random() < 0.33:
                real(path, *args, **kwargs)  # the other process wins
            real(path, *args, **kwargs)
            ours[kind] += 1

        return call

    with tally.scenario("fault: files vanish under unlink and rmdir", decoy):
        with monkeypatch.context() as patch:
            patch.setattr(os, "unlink", racing(real_unlink, "unlink"))
            patch.setattr(os, "rmdir", racing(real_rmdir, "rmdir"))
            outcome = remove.remove(str(cache), _purge_request(), dry_run=False)
        assert outcome.errors.count == 0, outcome.errors.items
        assert (outcome.files + outcome.extra_files, outcome.dirs) == (ours["unlink"], ours["rmdir"]), "only what the engine itself removed is counted"
        again = remove.remove(str(cache), _purge_request(), dry_run=False)
        assert again.errors.count == 0, again.errors.items
        assert pip_files(cache) == []


def test_thread_deletes_while_the_module_walks(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    cache = tmp_path / "cache"
    synthetic_cache(cache, entries=800, seed=3, now=time.time())
    link_decoy_into(cache, decoy)
    leaves = sorted({str(path.parent) for path in cache.rglob("*") if path.is_file() and not path.is_symlink()})
    rng = random.Random(3)

    def vandal(number: int) -> None:
        shutil.rmtree(rng.choice(leaves), ignore_errors=True)

    for name, args in [
        ("pip_cache_info", {"cache_dir": str(cache), "downloads": True}),
        ("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}),
    ]:
        with tally.scenario(f"fault: a thread deletes while {name} {args.get('state', 'reports')}", decoy):
            loop = _Loop(vandal, pause=0.002)
            loop.start()
            try:
                answer = module(name, args, tmp_path)
            finally:
                loop.finish()
            _ok(answer)
            assert not loop.failures, loop.failures[:3]


def _nobody() -> pwd.struct_passwd:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the engine as an unprivileged user")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user named nobody")


def test_permission_denied_folders_as_an_unprivileged_user(tally: Tally, newest_pip: OraclePip, engine_proc: EngineProcess) -> None:
    user = _nobody()
    if not newest_pip.runnable_by_others():
        pytest.skip(f"{newest_pip.python} is not reachable by other users")
    base = Path(tempfile.mkdtemp(prefix="fleet-cache-denied-"))
    base.chmod(0o755)
    try:
        decoy = Decoy(base / "outside")
        cache = base / "cache"
        synthetic_cache(cache, entries=40, seed=11, now=time.time())
        link_decoy_into(cache, decoy)
        for directory, dirnames, filenames in os.walk(cache):
            for name in [directory, *(os.path.join(directory, entry) for entry in dirnames + filenames)]:
                os.chown(name, user.pw_uid, user.pw_gid, follow_symlinks=False)
        unreadable = next(path.parent for path in sorted(cache.glob("wheels/*/*/*/*/*.whl")))
        locked = next(path.parent for path in sorted(cache.glob("http-v2/*/*/*/*/*/*.body")))
        os.chown(locked, 0, 0)  # root's folder in the user's cache: its files cannot be unlinked by the user
        unreadable.chmod(0)
        kept = {path: path.read_bytes() for path in [*locked.iterdir(), *(path for path in unreadable.iterdir())]}
        prefix = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", "--"]
        with tally.scenario("fault: permission denied (scan as nobody)", decoy):
            run = engine_proc.run({"mode": "scan", "cache": str(cache)}, python=str(newest_pip.python), prefix=prefix)
            assert run.returncode == 0 and not tally.saw(run.stderr), run.explain()
            assert [item["path"] for item in run.result["errors"]] == [str(unreadable)], run.explain()
        with tally.scenario("fault: permission denied (purge as nobody)", decoy):
            run = engine_proc.run({"mode": "purged", "cache": str(cache)}, python=str(newest_pip.python), prefix=prefix)
            assert run.returncode == 0 and not tally.saw(run.stderr), run.explain()
            errors = run.outcome["errors"]
            assert errors and all(item["error"] in ("Permission denied", "Directory not empty") for item in errors), errors
            assert str(unreadable) in {item["path"] for item in errors}
            assert {str(path) for path in kept if path.parent == locked} <= {item["path"] for item in errors}
            unreadable.chmod(0o755)
            assert {path: path.read_bytes() for path in kept} == kept, "what could not be removed is intact"
            left = set(pip_files(cache))
            assert left == {str(path.relative_to(cache)) for path in kept}, "everything else is gone"
    finally:
        with contextlib.suppress(OSError):
            Path(unreadable).chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_immutable_files_stop_root_too(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    if shutil.which("chattr") is None or os.geteuid() != 0:
        pytest.skip("needs root and chattr")
    cache = tmp_path / "cache"
    synthetic_cache(cache, entries=40, seed=12, now=time.time())
    wheel = sorted(cache.glob("wheels/*/*/*/*/*.whl"))[0]
    folder = sorted(cache.glob("http-v2/*/*/*/*/*/*.body"))[0].parent
    pinned = [wheel, folder]
    made: list[Path] = []
    try:
        for path in pinned:
            proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                pytest.skip(f"chattr +i does not work here: {proc.stderr.strip()}")
            made.append(path)
        with tally.scenario("fault: immutable files (module purge as root)", decoy):
            answer = module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path)
            _ok(answer)
            errors = answer.result["caches"][0]["errors"]  # type: ignore[index]
            assert errors and all(item["error"] == "Operation not permitted" for item in errors), errors
            assert "could not be removed" in answer.warnings, answer.explain()
            left = set(pip_files(cache))
            pinned_files = [*wheel.parent.iterdir(), *folder.iterdir()]  # the wheel keeps its origin.json, as pip would
            assert left == {str(path.relative_to(cache)) for path in pinned_files}
    finally:
        for path in made:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True, check=False)


def test_read_only_file_system(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    with _tmpfs(tmp_path / "ro", "8m") as mount:
        cache = copy_cache(template, mount / "cache")
        link_decoy_into(cache, decoy)
        proc = subprocess.run(["mount", "-o", "remount,ro", str(mount)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            pytest.skip(f"cannot remount the tmpfs read-only: {proc.stderr.strip()}")
        before = tree_state(cache)
        for mode in ("purged", "pruned"):
            with tally.scenario(f"fault: read-only file system (engine {mode})", decoy):
                request = _purge_request() if mode == "purged" else remove.Request(mode="pruned", max_size=0)
                outcome = remove.remove(str(cache), request, dry_run=False)
                assert outcome.errors.count > 0 and {item["error"] for item in outcome.errors.items} == {"Read-only file system"}
                assert (outcome.files, outcome.extra_files, outcome.dirs, outcome.bytes) == (0, 0, 0, 0), "nothing was removed, nothing is reported removed"
                assert outcome.entries == 0, f"entries reported removed although none could be: {outcome.entries}"
                assert tree_state(cache) == before
        with tally.scenario("fault: read-only file system (module purge)", decoy):
            answer = module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path)
            _ok(answer)
            assert answer.result["changed"] is False and "could not be removed" in answer.warnings, answer.explain()
            assert tree_state(cache) == before
        with tally.scenario("fault: read-only file system (pip_config writes there)", decoy):
            answer = module("pip_config", {"name": "global.cache-dir", "value": "/srv/pip", "path": str(mount / "pip.conf")}, tmp_path)
            assert not answer.crashed, answer.explain()
            assert answer.failed and "path" in answer.msg and "Read-only file system" in answer.msg, answer.explain()


def test_full_file_system(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    with _tmpfs(tmp_path / "full", "2m") as mount:
        cache = copy_cache(template, mount / "cache")
        link_decoy_into(cache, decoy)
        with open(mount / "filler", "wb") as handle, contextlib.suppress(OSError):
            while True:
                handle.write(bytes(65536))
                handle.flush()
        (mount / "conf").mkdir()
        with tally.scenario("fault: full file system (pip_config writes there)", decoy):
            answer = module("pip_config", {"name": "global.cache-dir", "value": "/srv/pip", "path": str(mount / "conf" / "pip.conf")}, tmp_path)
            assert not answer.crashed, answer.explain()
            assert answer.failed and "path" in answer.msg and "No space left on device" in answer.msg, answer.explain()
            assert list((mount / "conf").iterdir()) == [], "no temporary file left behind"
        with tally.scenario("fault: full file system (module purge frees it)", decoy):
            free = os.statvfs(mount).f_bavail
            answer = module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path)
            _ok(answer)
            assert answer.result["changed"] is True and os.statvfs(mount).f_bavail > free
            assert pip_files(cache) == []


def _bytes_tree(cache: Path) -> dict[bytes, bytes]:
    """Files with names that are not UTF-8, in pip's buckets and beside them."""
    base = os.fsencode(cache)
    key = b"0f" * 28
    files = {
        b"wheels/ab/cd/ef/\xff\xfe01/caf\xe9-1.0-py3-none-any.whl": b"PK\x03\x04" + bytes(300),
        b"wheels/ab/cd/ef/\xff\xfe01/origin.json": b"{}",
        b"wheels/ab/cd/ef/0123/\xff\xfe-0.1-py3-none-any.whl": b"PK\x03\x04" + bytes(100),
        b"http-v2/\xff/\xfe/0/1/2/" + key: b"cc=4," + bytes(40),
        b"http-v2/\xff/\xfe/0/1/2/" + key + b".body": b"\x80\x81" * 90,
        b"http/0/1/2/3/4/\xe9t\xe9": b"cc=4," + bytes(70),
        b"\xe9t\xe9-junk": b"left alone",
    }
    for rel, data in files.items():
        path = os.path.join(base, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    return files


def test_names_that_are_not_utf8(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    for runner in ("engine", "module"):
        cache = copy_cache(template, tmp_path / f"cache-{runner}")
        files = _bytes_tree(cache)
        link_decoy_into(cache, decoy, runner)
        with tally.scenario(f"fault: names that are not UTF-8 ({runner})", decoy):
            if runner == "engine":
                result = scan.scan(str(cache), list_matcher=matching.NameMatcher(glob="*"))
                assert result.errors.count == 0
                assert any("\udce9" in wheel.filename for wheel in result.wheels.items())  # type: ignore[union-attr]
                dry = remove.remove(str(cache), _purge_request(), dry_run=True)
                real = remove.remove(str(cache), _purge_request(), dry_run=False)
                assert dry.as_dict() == real.as_dict() and real.errors.count == 0
            else:
                _ok(module("pip_cache_info", {"cache_dir": str(cache), "downloads": True}, tmp_path))
                _ok(module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path, diff=True))
            assert pip_files(cache) == []
            assert (cache / os.fsdecode(b"\xe9t\xe9-junk")).read_bytes() == files[b"\xe9t\xe9-junk"]


def _chain(base: Path, names: list[str], files: dict[str, bytes], mtime: Optional[float] = None) -> None:
    """Folders ``names`` one in another below ``base``, made relative to each other's descriptor (so the whole
    path may be longer than PATH_MAX), with ``files`` (modified at ``mtime`` when given) in the last one."""
    base.mkdir(parents=True, exist_ok=True)
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        for name, data in files.items():
            handle = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(handle, data)
            os.close(handle)
            if mtime is not None:
                os.utime(name, (mtime, mtime), dir_fd=fd)
    finally:
        os.close(fd)


def test_paths_longer_than_path_max(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    key = "1e" * 28
    for runner in ("engine", "module"):
        cache = copy_cache(template, tmp_path / f"cache-{runner}")
        _chain(cache / "wheels" / "aa", ["w" * 250] * 20, {"Long-1.0-py3-none-any.whl": b"PK\x03\x04" + bytes(500), "origin.json": b"{}"})
        _chain(cache / "http-v2" / "a", ["h" * 240] * 20, {key: b"cc=4," + bytes(30), f"{key}.body": bytes(700)})
        link_decoy_into(cache, decoy, runner)
        with tally.scenario(f"fault: paths longer than PATH_MAX ({runner})", decoy):
            if runner == "engine":
                result = scan.scan(str(cache), list_matcher=matching.NameMatcher(glob="Long"))
                assert result.errors.count == 0 and result.wheels is not None and result.wheels.count == 1
                assert len(result.wheels.items()[0].path) > 4096
                dry = remove.remove(str(cache), _purge_request(), dry_run=True)
                real = remove.remove(str(cache), _purge_request(), dry_run=False)
                assert dry.as_dict() == real.as_dict() and real.errors.count == 0, real.errors.items
            else:
                _ok(module("pip_cache_info", {"cache_dir": str(cache), "pattern": "Long", "downloads": True}, tmp_path))
                _ok(module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path))
            assert not (cache / "wheels").exists() and not (cache / "http-v2").exists(), "the long chains are gone with their buckets"


def test_min_age_alike_for_short_and_long_paths(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    """Old files in a folder made just now (a build pip runs right now): min_age spares the folder, however long its path."""
    outcomes = {}
    for label, segment in (("short", "s"), ("long", "w" * 250)):
        cache = tmp_path / f"cache-{label}"
        _chain(cache / "wheels" / "aa", [segment] * 20, {"Young-1.0-py3-none-any.whl": b"PK\x03\x04", "origin.json": b"{}"}, mtime=OLD)
        with tally.scenario(f"fault: min_age with a {label} path", decoy):
            outcome = remove.remove(str(cache), _purge_request(min_age=60.0), dry_run=False)
            assert outcome.errors.count == 0, outcome.errors.items
            outcomes[label] = (outcome.files, outcome.dirs, outcome.entries)
    with tally.scenario("fault: min_age decides alike whatever the path length", decoy):
        assert outcomes["long"] == outcomes["short"], f"min_age spared differently beyond PATH_MAX: {outcomes}"


def test_nesting_deeper_than_the_walker_goes(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    depth = walk.MAX_DEPTH + 16
    for runner in ("engine", "module"):
        cache = copy_cache(template, tmp_path / f"cache-{runner}")
        # "deep" is no hex digit: pip's own folders (one or two hex digits) never collide with it.
        _chain(cache / "wheels", ["deep"] * depth, {"Deep-1.0-py3-none-any.whl": b"PK\x03\x04" + bytes(50)})
        _chain(cache / "http-v2", ["deep"] * depth, {"f" * 56: b"cc=4,", "f" * 56 + ".body": b"x"})
        _chain(cache / "junk", ["deep"] * 400, {"x": b"x"})
        deep_wheel = cache.joinpath("wheels", *["deep"] * depth, "Deep-1.0-py3-none-any.whl")
        link_decoy_into(cache, decoy, runner)
        with tally.scenario(f"fault: nesting deeper than MAX_DEPTH ({runner})", decoy):
            if runner == "engine":
                result = scan.scan(str(cache))
                assert result.errors.count == 3 and all("deeper than" in item["error"] for item in result.errors.items), result.errors.items
                outcome = remove.remove(str(cache), _purge_request(), dry_run=False)
                assert outcome.errors.count == 2 and all("deeper than" in item["error"] for item in outcome.errors.items), outcome.errors.items
            else:
                answer = module("pip_cache", {"cache_dir": str(cache), "state": "purged", "min_age": "0"}, tmp_path)
                _ok(answer)
                assert "deeper than" in answer.warnings, answer.explain()
            assert deep_wheel.exists(), "a tree deeper than pip's layout is left alone"
            assert [name for name in pip_files(cache) if "/deep/deep/" not in name] == [], "everything at pip's depths is gone"


def test_cache_that_does_not_exist_yet(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    caches = {"missing": tmp_path / "nowhere" / "cache", "under a file": tmp_path / "a-file" / "cache", "dangling link": tmp_path / "dangling"}
    asks: list[tuple[str, str, dict[str, Any]]] = []
    for label, cache in caches.items():
        asks += [(label, "pip_cache_info", {"cache_dir": str(cache)}), (label, "pip_cache", {"cache_dir": str(cache), "state": "purged"})]
    asks += [
        ("missing", "pip_cache", {"cache_dir": str(caches["missing"]), "state": "pruned", "max_size": "0", "max_age": "0"}),
        ("missing", "pip_cache", {"cache_dir": str(caches["missing"]), "state": "absent", "name": ["TinyYAML"]}),
    ]
    before = tree_state(tmp_path)
    for label, cache in caches.items():
        with tally.scenario(f"fault: a cache that does not exist ({label}, engine)", decoy):
            assert scan.scan(str(cache)).exists is False
            for request in (_purge_request(), remove.Request(mode="pruned", max_size=0)):
                outcome = remove.remove(str(cache), request, dry_run=False)
                assert (outcome.files, outcome.dirs, outcome.entries) == (0, 0, 0)

    answers = module_batch([(name, args, False) for _label, name, args in asks], tmp_path / "ansible")
    for (label, name, args), answer in zip(asks, answers):
        with tally.scenario(f"fault: a cache that does not exist ({label}, {name} {args.get('state', '')})", decoy):
            _ok(answer)
            assert answer.result["changed"] is False
            if name == "pip_cache_info":
                assert answer.result["caches"][0]["exists"] is False
    after = tree_state(tmp_path)
    assert {key: value for key, value in after.items() if not key.startswith(("ansible", "outside"))} == {
        key: value for key, value in before.items() if not key.startswith(("ansible", "outside"))
    }, "nothing was created"


# --------------------------------------------------------------------------------------------------
# Hostile content


def _requests() -> dict[str, Any]:
    names = [version.parse_requirement("TinyYAML"), version.parse_requirement("Simple>=1.1")]
    return {
        "purged": _purge_request(purge_extras=frozenset(remove.PURGE_EXTRAS)),
        "pruned by age": remove.Request(mode="pruned", max_age=1.0),
        "pruned by size": remove.Request(mode="pruned", max_size=0),
        "pruned ci": remove.Request(mode="pruned", ci=True),
        "absent by glob": remove.Request(mode="absent", matcher=matching.NameMatcher(glob="*"), http_all=True),
        "absent by name": remove.Request(
            mode="absent", matcher=matching.NameMatcher(requirements=names), http_projects=True, identify=http.identify_for_removal
        ),
    }


def test_links_and_hard_links_to_outside(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    for number, (label, request) in enumerate(_requests().items()):
        cache = copy_cache(template, tmp_path / f"cache-{number}")
        links = link_decoy_into(cache, decoy, label)
        with tally.scenario(f"hostile: links to outside, engine {label}", decoy):
            dry = remove.remove(str(cache), request, dry_run=True)
            real = remove.remove(str(cache), request, dry_run=False)
            assert dry.as_dict() == real.as_dict() and real.errors.count == 0, real.errors.items
            if label in ("purged", "absent by glob", "pruned by size", "pruned by age"):
                assert not any(os.path.lexists(link) for link in links), "old links are removed as links"
    cache = copy_cache(template, tmp_path / "cache-module")
    link_decoy_into(cache, decoy, "module")
    for args in ({"state": "pruned", "max_age": "1s"}, {"state": "absent", "name": ["TinyYAML", "Simple"]}, {"state": "purged", "purge_extras": ["selfcheck"]}):
        with tally.scenario(f"hostile: links to outside, module {args['state']}", decoy):
            _ok(module("pip_cache", {"cache_dir": str(cache), "min_age": "0", **args}, tmp_path))  # the copy is young: act on it all


def test_buckets_that_are_links(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "wheels").symlink_to(decoy.cache / "wheels")
    (cache / "http-v2").symlink_to(decoy.cache / "http-v2")
    (cache / "http").symlink_to(decoy.dir)
    (cache / "selfcheck").symlink_to(decoy.cache / "selfcheck")
    (cache / "selfcheck.json").symlink_to(decoy.cache / "selfcheck.json")
    with tally.scenario("hostile: buckets that are links (engine)", decoy):
        outcome = remove.remove(str(cache), _purge_request(purge_extras=frozenset(remove.PURGE_EXTRAS)), dry_run=False)
        assert len(outcome.warnings) == 4 and all("symbolic link" in warning for warning in outcome.warnings), outcome.warnings
        assert not os.path.lexists(cache / "selfcheck.json"), "pip's purge removes selfcheck.json: here the link itself"
        for bucket in ("wheels", "http-v2", "http", "selfcheck"):
            assert (cache / bucket).is_symlink()
    with tally.scenario("hostile: buckets that are links (module)", decoy):
        answer = module("pip_cache", {"cache_dir": str(cache), "state": "pruned", "max_size": "0"}, tmp_path)
        _ok(answer)
        assert "symbolic link" in answer.warnings


def test_cache_dir_that_is_a_link(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    real = copy_cache(template, tmp_path / "real-cache")
    link = tmp_path / "link-cache"
    link.symlink_to(real)
    with tally.scenario("hostile: cache_dir is a link to a cache (pip resolves it)", decoy):
        answer = module("pip_cache", {"cache_dir": str(link), "state": "purged", "min_age": "0"}, tmp_path)
        _ok(answer)
        assert answer.result["caches"][0]["cache_dir"] == str(real) and pip_files(real) == []  # type: ignore[index]
        assert link.is_symlink()
    home = tmp_path / "home"
    home_decoy = Decoy(home / "dummy")
    targets = ("/etc", str(home), "/")
    calls = []
    for target in targets:
        other = tmp_path / f"link-to-{target.strip('/').replace('/', '-') or 'root'}"
        other.symlink_to(target)
        calls.append(("pip_cache", {"cache_dir": str(other), "state": "purged"}, target != str(home)))
    for target, answer in zip(targets, module_batch(calls, tmp_path / "batch", HOME=str(home))):
        with tally.scenario(f"hostile: cache_dir is a link to {target}", decoy, home_decoy):
            assert not answer.crashed and answer.failed and "refusing" in answer.msg and answer.result.get("option") == "cache_dir", answer.explain()


def test_refuses_root_home_and_system_folders(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    home = tmp_path / "home"
    for bucket in ("wheels", "http-v2", "http"):
        Decoy(home / bucket, seed=len(bucket))
    home_decoy = Decoy(home / "dummy")
    home_decoy.root = home  # check everything in the fake home
    home_decoy.baseline = home_decoy.digest()
    cases: list[tuple[dict[str, Any], bool]] = [
        ({"cache_dir": str(home)}, False),  # a real run: if it were not refused, the decoys in that home would go
        ({"cache_dir": "~"}, True),
        ({"cache_dir": "/"}, True),
        ({"cache_dir": "//"}, True),
        ({"cache_dir": "/etc"}, True),
        ({"cache_dir": "/etc/"}, True),
        ({"cache_dir": "/etc/../etc"}, True),
        ({"cache_dir": "/usr/local"}, True),
        ({"cache_dir": "/root"}, True),
        ({"cache_dir": "/tmp"}, True),
        ({"environment": {"PIP_CACHE_DIR": "/"}}, True),
        ({"environment": {"XDG_CACHE_HOME": "/etc", "PIP_CACHE_DIR": "/etc"}}, True),
    ]

    answers = module_batch([("pip_cache", {"state": "purged", **args}, check) for args, check in cases], tmp_path / "batch", HOME=str(home))
    for (args, _check), answer in zip(cases, answers):
        with tally.scenario(f"hostile: refuses {args}", decoy, home_decoy):
            assert not answer.crashed and answer.failed, answer.explain()
            # The refusal names the option that pointed pip there: cache_dir, or the task's environment (PIP_CACHE_DIR).
            expected_option = "environment" if "environment" in args else "cache_dir"
            assert "refusing" in answer.msg and answer.result.get("option") == expected_option, answer.explain()


def test_info_reads_only_pips_folders_of_root_home_and_system_folders(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    """pip_cache_info on /, /proc, /etc or a home folder: a warning, and only pip's own buckets are read (as pip reads
    them), never the rest of the file system; the buckets that are there are still reported."""
    home = tmp_path / "home"
    home_decoy = Decoy(home / "dummy")
    home_decoy.root = home
    wheel_entry(home, "TinyYAML", "1.0", mtime=OLD)  # a wheels/ bucket in the home folder: pip would count it
    home_decoy.baseline = home_decoy.digest()
    dirs = ["/", "/proc", "/etc", str(home)]
    answers = module_batch([("pip_cache_info", {"cache_dir": where, "downloads": True}, False) for where in dirs], tmp_path / "batch", HOME=str(home))
    for where, answer in zip(dirs, answers):
        with tally.scenario(f"hostile: pip_cache_info cache_dir={where}", decoy, home_decoy):
            _ok(answer)
            warnings = " ".join(str(text) for text in answer.result.get("warnings") or [])
            assert "no place for a cache" in warnings and "nothing else in it is walked" in warnings, answer.explain()
            other = answer.result["caches"][0]["other"]
            assert (other["files"], other["dirs"], other["entries"]) == (0, 0, 0), f"walked outside pip's buckets: {other}"
            if where == str(home):
                entry = answer.result["caches"][0]
                assert entry["buckets"]["wheels"]["files"] == 2 and entry["pip_cache_info"]["wheels_count"] == 1, answer.explain()


def test_empty_cache_dir_is_no_cache_as_for_pip(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    """pip --cache-dir '' disables the cache; the module must not take the working directory for the cache."""
    workdir = tmp_path / "workdir"
    for bucket in ("wheels", "http-v2", "http"):
        Decoy(workdir / bucket, seed=len(bucket))
    work_decoy = Decoy(workdir / "dummy")
    work_decoy.root = workdir
    work_decoy.baseline = work_decoy.digest()
    asks: list[tuple[str, dict[str, Any]]] = [("pip_cache", {"state": "purged"}), ("pip_cache", {"state": "pruned", "max_size": "0"}), ("pip_cache_info", {})]
    answers = module_batch([(name, {"cache_dir": "", **args}, False) for name, args in asks], tmp_path / "batch", cwd=workdir)
    for (name, args), answer in zip(asks, answers):
        with tally.scenario(f"hostile: cache_dir '' ({name} {args.get('state', '')})", decoy, work_decoy):
            assert not answer.crashed, answer.explain()
            caches = answer.result.get("caches") or [{}]
            taken = not answer.failed and caches[0].get("cache_dir") is not None  # type: ignore[union-attr]
            assert not taken, f"the working directory was taken for the cache: {answer.explain()}"


GLOB_OK = ["[", "[!]", "*[*", "]", "?", "**", "T*Y*", "[A-Z]*", "{a,b}", "~", "$HOME", "*.whl", "-", "Simple-1.[0-9]", "zope.tiny", "tiny_requests"]
GLOB_REFUSED = ["a/b", "..", "../x", "/", "x\x00y", ".", "wheels/*", "..\\x", "", "x" * 600]
NAME_REFUSED = ["a/b", "../x", "x\x00", "*", "[", "", "TinyYAML<<1", "TinyYAML==1.*.0", "TinyYAML>=1.0.*"]


def test_hostile_patterns(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    wheels = sorted(path.name for path in template.rglob("*.whl"))
    for pattern in GLOB_REFUSED:
        with tally.scenario(f"hostile: glob {pattern[:20]!r} refused (engine)", decoy):
            with pytest.raises(errors.InvalidValue) as raised:
                matching.check_glob_pattern(pattern, option="name")
            assert raised.value.option == "name"
    for name in NAME_REFUSED:
        with tally.scenario(f"hostile: name {name!r} refused (engine)", decoy):
            with pytest.raises(errors.InvalidValue) as raised:
                version.parse_requirement(name, option="name")
            assert raised.value.option == "name"
    for number, pattern in enumerate(GLOB_OK):
        cache = copy_cache(template, tmp_path / f"cache-{number}")
        with tally.scenario(f"hostile: glob {pattern!r} removes what pip's rule matches (engine)", decoy):
            expected = sorted(name for name in wheels if fnmatch.fnmatchcase(name, matching.pip_wheel_pattern(pattern)))
            outcome = remove.remove(
                str(cache), remove.Request(mode="absent", matcher=matching.NameMatcher(glob=matching.check_glob_pattern(pattern))), dry_run=False
            )
            assert sorted(os.path.basename(item["path"]) for item in outcome.gone.items() if item["path"].endswith(".whl")) == expected
    cache = copy_cache(template, tmp_path / "cache-module")
    asks: list[tuple[str, dict[str, Any], Optional[str]]] = [
        ("pip_cache", {"state": "absent", "match": "glob", "name": ["../x"]}, "name"),
        ("pip_cache", {"state": "absent", "match": "glob", "name": ["x\x00y"]}, "name"),
        ("pip_cache", {"state": "absent", "name": ["a/b"]}, "name"),
        ("pip_cache", {"state": "absent", "match": "glob", "name": ["[", "*[*", "{a,b}"]}, None),
        ("pip_cache_info", {"pattern": "../../etc"}, "pattern"),
        ("pip_cache_info", {"pattern": "[!]"}, None),
    ]

    answers = module_batch([(name, {"cache_dir": str(cache), **args}, False) for name, args, _option in asks], tmp_path / "batch")
    for (name, args, option), answer in zip(asks, answers):
        with tally.scenario(f"hostile: {name} {args}", decoy):
            assert not answer.crashed, answer.explain()
            if option is None:
                assert not answer.failed, answer.explain()
            else:
                assert answer.failed and answer.result.get("option") == option and option in answer.msg, answer.explain()


def test_absurd_values(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy) -> None:
    cache = copy_cache(template, tmp_path / "cache")
    before = tree_state(cache)
    for label, request in [
        ("max_size 2**200", remove.Request(mode="pruned", max_size=2**200)),
        ("max_age 1e308", remove.Request(mode="pruned", max_age=1e308)),
        ("max_age inf", remove.Request(mode="pruned", max_age=float("inf"))),
        ("min_age 1e308", _purge_request(min_age=1e308)),
        ("min_age inf", remove.Request(mode="pruned", max_size=0, min_age=float("inf"))),
        ("now in the far future, min_age", _purge_request(min_age=60, now=-1e18)),
    ]:
        with tally.scenario(f"hostile: absurd engine value, {label}", decoy):
            outcome = remove.remove(str(cache), request, dry_run=False, list_limit=10**12)
            assert (outcome.files, outcome.dirs, outcome.errors.count) == (0, 0, 0) and tree_state(cache) == before
    for text, option in [("1" * 5000, "max_size"), ("9" * 400 + "PB", "max_size"), (f"{2**64}B", "max_size"), ("1e30", "max_size")]:
        with tally.scenario(f"hostile: absurd size {text[:12]}...", decoy):
            with pytest.raises(errors.InvalidValue) as raised:
                units.parse_size(text, option=option)
            assert raised.value.option == option
    for text in ["9" * 400 + "s", "1" * 5000 + "d", "99999999999999w", "1e400", "inf", "nan", "1d" * 40000]:
        with tally.scenario(f"hostile: absurd age {text[:12]}...", decoy), pytest.raises(errors.InvalidValue):
            units.parse_duration(text, option="max_age")
    asks = [
        ({"state": "pruned", "max_size": "99999999999999999999999PB"}, "max_size"),
        ({"state": "pruned", "max_age": "99999999999999999d"}, "max_age"),
        ({"state": "purged", "min_age": "999999999999w"}, "min_age"),
        ({"state": "pruned", "max_size": f"{2**62}B", "limit": 10**30}, None),
    ]

    answers = module_batch([("pip_cache", {"cache_dir": str(cache), **args}, False) for args, _option in asks], tmp_path / "batch")
    for (args, option), answer in zip(asks, answers):
        with tally.scenario(f"hostile: absurd module value {args}", decoy):
            assert not answer.crashed, answer.explain()
            if option is None:
                assert not answer.failed and answer.result["changed"] is False, answer.explain()
            else:
                assert answer.failed and answer.result.get("option") == option, answer.explain()
    assert tree_state(cache) == before


def test_fifos_and_devices_in_the_cache(tally: Tally, template: Path, tmp_path: Path, decoy: Decoy, engine_proc: EngineProcess) -> None:
    """Nothing in a cache is ever opened unless it is a regular file: a FIFO would block the run forever."""
    cache = copy_cache(template, tmp_path / "cache")
    key = "ff" * 28
    folder = cache.joinpath("http-v2", *key[:5])
    folder.mkdir(parents=True)
    (folder / key).write_bytes(b"cc=4," + bytes(40))
    os.mkfifo(folder / f"{key}.body")
    outside = tmp_path / "outside-fifo"
    os.mkfifo(outside)
    other = "ee" * 28
    (folder / other).write_bytes(b"cc=4," + bytes(40))
    (folder / f"{other}.body").symlink_to(outside)
    zero = "dd" * 28
    (folder / f"{zero}.body").symlink_to("/dev/zero")
    (folder / zero).write_bytes(b"cc=4,")
    fifos = [folder / f"{key}.body", outside]
    spec = {"mode": "absent", "names": ["TinyYAML", "Simple"], "cache": str(cache), "dry_run": True}
    with tally.scenario("hostile: FIFOs and devices (engine absent by name)", decoy):
        try:
            run = engine_proc.run(spec, timeout=20)
        except subprocess.TimeoutExpired:
            _unblock(fifos)
            raise AssertionError("the engine blocked on a FIFO in the cache") from None
        assert run.returncode == 0 and not tally.saw(run.stderr), run.explain()
    for name, args in [("pip_cache_info", {"downloads": True}), ("pip_cache", {"state": "absent", "name": ["TinyYAML"], "min_age": "0"})]:
        with tally.scenario(f"hostile: FIFOs and devices ({name})", decoy):
            watchdog = _Watchdog(fifos, after=20)
            watchdog.start()
            try:
                answer = module(name, {"cache_dir": str(cache), **args}, tmp_path)
            finally:
                watchdog.finish()
            assert not watchdog.unblocked, f"{name} blocked on a FIFO until the test opened it"
            _ok(answer)


def _unblock(fifos: list[Path]) -> bool:
    """Open each FIFO for writing, which wakes a reader blocked on it; True when there was one."""
    woke = False
    for fifo in fifos:
        try:
            handle = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        os.close(handle)
        woke = True
    return woke


class _Watchdog(threading.Thread):
    def __init__(self, fifos: list[Path], after: float) -> None:
        super().__init__(daemon=True)
        self.fifos = fifos
        self.after = after
        self.done = threading.Event()
        self.unblocked = False

    def run(self) -> None:
        if self.done.wait(self.after):
            return
        while not self.done.is_set():
            self.unblocked = _unblock(self.fifos) or self.unblocked
            self.done.wait(0.5)

    def finish(self) -> None:
        self.done.set()
        self.join(10)


# --------------------------------------------------------------------------------------------------
# Interruption


KILL_MODES: list[dict[str, Any]] = [
    {"mode": "purged"},
    {"mode": "purged", "purge_extras": ["selfcheck", "build_dirs", "stray_wheels"]},
    {"mode": "pruned", "max_age": 30 * DAY},
    {"mode": "pruned", "max_size": 150_000},
    {"mode": "pruned", "ci": True},
]


def _complete_downloads(cache: Path) -> set[str]:
    """The file URLs' names whose http-v2 entry is whole (metadata and body) and holds that file."""
    found, _count, _cut, _unknown = http.list_downloads(str(cache))
    return {f"{item['normalized_name']}=={item['version']}" for item in found if item["kind"] in ("wheel", "sdist") and item["files"] == 2}


def _pip_installs(pip: OraclePip, cache: Path, filled: Filled, wanted: str, tmp: Path) -> tuple[str, int, str]:
    name, release = wanted.split("==")
    url = next(url for normalized, number, url in filled.files if (normalized, number) == (name, release))
    proc = pip.run(
        "install", "--no-deps", "--no-index", "--retries", "0", "--timeout", "5", "--cache-dir", str(cache), "--trusted-host", filled.host,
        "--target", str(tmp / "target"), "--progress-bar", "off", "--no-build-isolation", "--no-compile", "--disable-pip-version-check",
        url, env=isolated_env(tmp / "env"), timeout=120,
    )  # fmt: skip
    return wanted, proc.returncode, proc.stderr[-1500:]


def _aged_copy(filled: Filled, dest: Path, rng: random.Random, decoy: Decoy, tag: str) -> Path:
    cache = copy_cache(filled.cache, dest)
    for path in sorted(cache.rglob("*")):
        if path.is_file() and rng.random() < 0.5:
            os.utime(path, (OLD, OLD))
    link_decoy_into(cache, decoy, tag)
    return cache


def test_sigkill_at_random_points(tally: Tally, newest_pip: OraclePip, filled: Filled, engine_proc: EngineProcess, tmp_path: Path, decoy: Decoy) -> None:
    """Purge and prune killed with SIGKILL at random points (most at a random change, one in six at a random moment):
    after each kill at most the entry being removed is left half and every other download is whole (after every third
    kill real pip, index stopped, installs one of them), a rerun completes without an error, a third run changes
    nothing, the decoy is unchanged."""
    rng = random.Random(20260101)
    now = time.time()
    kills = 0
    checks: list[concurrent.futures.Future[tuple[str, int, str]]] = []
    pool = concurrent.futures.ThreadPoolExecutor(2)
    try:
        for number in range(90):
            if kills >= 52:
                break
            timer = number % 6 == 5  # one kill in six comes from outside at a random moment, the others at a random change
            spec = dict(KILL_MODES[number % len(KILL_MODES)], now=now)
            cache = _aged_copy(filled, tmp_path / f"c{number}", rng, decoy, str(number))
            if timer:
                synthetic_cache(cache, entries=150, seed=number, now=now)
            spec["cache"] = str(cache)
            halves = set(half_entries(cache))
            with tally.scenario(f"interruption {number}: {spec['mode']} {'timer' if timer else 'change'}", decoy):
                if timer:
                    proc = engine_proc.start(spec)
                    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
                    time.sleep(rng.uniform(0, 0.06))
                    proc.send_signal(signal.SIGKILL)
                    proc.communicate(timeout=30)
                    returncode = proc.returncode
                else:
                    run = engine_proc.run(dict(spec, kill_after=rng.randrange(0, 160)))
                    returncode = run.returncode
                    assert returncode in (0, -signal.SIGKILL), run.explain()
                if returncode != -signal.SIGKILL:
                    continue  # finished before the kill came: not counted as a kill
                kills += 1
                assert len(set(half_entries(cache)) - halves) <= 1, "at most the entry being removed is left half"
                whole = sorted(_complete_downloads(cache))
                if whole and kills % 3 == 1:
                    check = tmp_path / f"pip-{number}"
                    copy_cache(cache, check / "cache")
                    checks.append(pool.submit(_pip_installs, newest_pip, check / "cache", filled, rng.choice(whole), check))
                request = remove.Request(
                    mode=spec["mode"],
                    max_age=spec.get("max_age"),
                    max_size=spec.get("max_size"),
                    ci=spec.get("ci", False),
                    purge_extras=frozenset(spec.get("purge_extras", [])),
                    matcher=matching.NameMatcher(glob="*") if spec["mode"] == "purged" else None,
                    now=now,
                )
                rerun = remove.remove(str(cache), request, dry_run=False)
                assert rerun.errors.count == 0, rerun.errors.items
                third = remove.remove(str(cache), request, dry_run=False)
                assert (third.files + third.extra_files, third.dirs, third.entries) == (0, 0, 0), f"a run after the rerun still removed {third.as_dict()}"
                if spec["mode"] == "purged":
                    assert pip_files(cache) == []
                elif spec.get("ci"):
                    assert not any(name.startswith(("http-v2/", "http/")) for name in pip_files(cache))
                assert set(half_entries(cache)) <= halves or spec["mode"] == "pruned", half_entries(cache)
            shutil.rmtree(cache)
        assert kills >= 50, f"only {kills} runs were killed mid-way"
        for future in checks:
            wanted, returncode, stderr = future.result(timeout=300)
            with tally.scenario(f"interruption: pip installs {wanted} from what a kill left", decoy):
                assert returncode == 0, f"{wanted} was whole in the cache, yet pip failed with the index down:\n{stderr}"
    finally:
        pool.shutdown(wait=True)


# --------------------------------------------------------------------------------------------------
# Bad input


@pytest.fixture(scope="module")
def bad_input_places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("bad-input")
    (root / "cache").mkdir()
    (root / "a-folder").mkdir()
    return {"cache": str(root / "cache"), "conf": str(root / "pip.conf"), "folder": str(root / "a-folder"), "root": str(root)}


def _bad_inputs(places: dict[str, str]) -> list[tuple[str, dict[str, Any], str]]:
    """(module, arguments, the option the answer must name) for every option of every module."""
    common_cases: list[tuple[dict[str, Any], str]] = [
        ({"cache_dir": "/tmp/a\x00b"}, "cache_dir"),
        ({"user": "no-such-user-fleet"}, "user"),
        ({"user": "a\x00b"}, "user"),
        ({"user": ["root", "nobody"]}, "user"),
        ({"python": "/nonexistent/python3"}, "python"),
        ({"python": "/etc/passwd"}, "python"),
        ({"python": "/bin/false"}, "python"),
        ({"environment": "PIP_CACHE_DIR"}, "environment"),
        ({"environment": ["PIP_CACHE_DIR=/x"]}, "environment"),
        ({"environment": {"PIP_CACHE_DIR": "/x\x00"}}, "environment"),
        ({"environment": {"PIP_NO_CACHE_DIR": "maybe"}}, "PIP_NO_CACHE_DIR"),
        ({"command": "nope"}, "command"),
        ({"command": ["cache"]}, "command"),
    ]
    cases: list[tuple[str, dict[str, Any], str]] = []
    bases = {
        "pip_cache_info": {"cache_dir": places["cache"]},
        "pip_cache": {"cache_dir": places["cache"], "state": "purged"},
        "pip_config": {"name": "global.cache-dir", "value": "/srv/pip", "path": places["conf"]},
    }
    for name, base in bases.items():
        for args, option in common_cases:
            merged = dict(base, **args)
            if "environment" in args:
                merged.pop("cache_dir", None)  # the cache_dir option would make pip ignore the variables
            if name == "pip_config" and "cache_dir" in args:
                continue  # pip_config has the option but ignores it
            cases.append((name, merged, option))
    info = bases["pip_cache_info"]
    cases += [
        ("pip_cache_info", dict(info, pattern="../x"), "pattern"),
        ("pip_cache_info", dict(info, pattern=""), "pattern"),
        ("pip_cache_info", dict(info, pattern="a\x00b"), "pattern"),
        ("pip_cache_info", dict(info, pattern="x", name=["x"]), "pattern"),
        ("pip_cache_info", dict(info, name=[""]), "name"),
        ("pip_cache_info", dict(info, name=["a/b"]), "name"),
        ("pip_cache_info", dict(info, name=["x<<1"]), "name"),
        ("pip_cache_info", dict(info, name={"a": 1}), "name"),
        ("pip_cache_info", dict(info, wheels="maybe"), "wheels"),
        ("pip_cache_info", dict(info, downloads="maybe"), "downloads"),
        ("pip_cache_info", dict(info, limit=-1), "limit"),
        ("pip_cache_info", dict(info, limit="many"), "limit"),
        ("pip_cache_info", dict(info, limit=1.5), "limit"),
    ]
    purge = bases["pip_cache"]
    cache = {"cache_dir": places["cache"]}
    cases += [
        ("pip_cache", cache, "state"),
        ("pip_cache", dict(cache, state="gone"), "state"),
        ("pip_cache", dict(cache, state="pruned"), "state"),
        ("pip_cache", dict(cache, state="absent"), "name"),
        ("pip_cache", dict(cache, state="absent", name=[]), "name"),
        ("pip_cache", dict(cache, state="absent", name=["a/b"]), "name"),
        ("pip_cache", dict(cache, state="absent", name=[""]), "name"),
        ("pip_cache", dict(cache, state="absent", name="TinyYAML<<2"), "name"),
        ("pip_cache", dict(cache, state="absent", match="regex", name=["x"]), "match"),
        ("pip_cache", dict(cache, state="absent", match="glob", name=["../x"]), "name"),
        ("pip_cache", dict(cache, state="absent", name=["x"], downloads="maybe"), "downloads"),
        ("pip_cache", dict(cache, state="absent", match="glob", name=["x"], downloads=True), "downloads"),
        ("pip_cache", dict(purge, purge_extras=["bogus"]), "purge_extras"),
        ("pip_cache", dict(purge, purge_extras="selfcheck,bogus"), "purge_extras"),
        ("pip_cache", dict(cache, state="pruned", max_age="ten days"), "max_age"),
        ("pip_cache", dict(cache, state="pruned", max_age="-5d"), "max_age"),
        ("pip_cache", dict(cache, state="pruned", max_age=""), "max_age"),
        ("pip_cache", dict(cache, state="pruned", max_age="99999999999999d"), "max_age"),
        ("pip_cache", dict(cache, state="pruned", max_size="lots"), "max_size"),
        ("pip_cache", dict(cache, state="pruned", max_size="-1"), "max_size"),
        ("pip_cache", dict(cache, state="pruned", max_size="5 ZB"), "max_size"),
        ("pip_cache", dict(cache, state="pruned", max_size=""), "max_size"),
        ("pip_cache", dict(cache, state="pruned", ci="maybe"), "ci"),
        ("pip_cache", dict(purge, min_age="soon"), "min_age"),
        ("pip_cache", dict(purge, min_age="-1"), "min_age"),
        ("pip_cache", dict(purge, allow_unsafe_cache_dir="maybe"), "allow_unsafe_cache_dir"),
        ("pip_cache", dict(purge, limit=-1), "limit"),
        ("pip_cache", dict(purge, limit="x"), "limit"),
        ("pip_cache", dict(purge, cache_dir="/"), "cache_dir"),
    ]
    config = bases["pip_config"]
    cases += [
        ("pip_config", {"value": "x", "path": places["conf"]}, "name"),
        ("pip_config", dict(config, name="nodot"), "name"),
        ("pip_config", dict(config, name=""), "name"),
        ("pip_config", dict(config, name="global.a\x00b"), "name"),
        ("pip_config", {"name": "global.cache-dir", "path": places["conf"]}, "value"),
        ("pip_config", dict(config, value="a\nb"), "value"),
        ("pip_config", dict(config, value=""), "value"),
        ("pip_config", dict(config, name="global.no-cache-dir", value="maybe"), "value"),
        ("pip_config", dict(config, state="gone"), "state"),
        ("pip_config", dict(config, scope="galaxy"), "scope"),
        ("pip_config", dict(config, prefer="newest"), "prefer"),
        ("pip_config", dict(config, path="/proc/nope/pip.conf"), "path"),
        ("pip_config", dict(config, path=places["folder"]), "path"),
        ("pip_config", dict(config, path=places["root"] + "/x\x00/pip.conf"), "path"),
        ("pip_config", {"name": "global.cache-dir", "value": "/srv/pip", "scope": "site", "venv": places["root"] + "/v\x00"}, "venv"),
        ("pip_config", dict(config, backup="maybe"), "backup"),
    ]
    return cases


@dataclass
class BadInputRuns:
    cases: list[tuple[str, dict[str, Any], str]]
    answers: list[Answer]
    home: Path
    before: dict[str, tuple[str, int, float]]
    after: dict[str, tuple[str, int, float]]


@pytest.fixture(scope="module")
def bad_input_runs(bad_input_places: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> BadInputRuns:
    """Every bad input of every module, in one ansible-playbook run (one task each)."""
    tmp = tmp_path_factory.mktemp("bad-input-runs")
    home = tmp / "home"
    home.mkdir()
    cases = _bad_inputs(bad_input_places)
    before = tree_state(Path(bad_input_places["root"]))
    calls = [(name, args, False) for name, args, _option in cases]
    half = len(calls) // 2
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two plays at once: one per core
        first = pool.submit(module_batch, calls[:half], tmp / "batch-1", **env)
        second = pool.submit(module_batch, calls[half:], tmp / "batch-2", **env)
        answers = first.result() + second.result()
    return BadInputRuns(cases, answers, home, before, tree_state(Path(bad_input_places["root"])))


@pytest.mark.parametrize("module_name", ["pip_cache_info", "pip_cache", "pip_config"])
def test_bad_input_names_the_option(tally: Tally, module_name: str, bad_input_runs: BadInputRuns, decoy: Decoy) -> None:
    """Each answer is a failure whose message (or ``option``) names the option, never a crash; nothing is written."""
    wrong = []
    for (name, args, option), answer in zip(bad_input_runs.cases, bad_input_runs.answers):
        if name != module_name:
            continue
        tally.bad_inputs += 1
        named = option in answer.msg or answer.result.get("option") == option
        try:
            with tally.scenario(f"bad input: {module_name} {args}", decoy):
                assert not answer.crashed and answer.failed and named, f"{args!r}: crashed={answer.crashed} failed={answer.failed} msg={answer.msg[:300]!r}"
                tally.bad_inputs_refused += 1
        except AssertionError as error:
            wrong.append(str(error).splitlines()[0])
    assert not wrong, "\n".join(wrong)
    assert bad_input_runs.after == bad_input_runs.before, "a refused input changed nothing"
    assert not any(bad_input_runs.home.rglob("pip.conf")), "no configuration file was written"


ROLE_SPEC = REPO_ROOT / "roles" / "pip_cache_policy" / "meta" / "argument_specs.yml"
WRONG_BY_TYPE: dict[str, list[Any]] = {
    "str": [{"a": 1}, [1, 2], True],
    "bool": ["maybe", {"a": 1}],
    "int": ["many"],
    "dict": ["not-a-dict", [1, 2], "PIP=1"],  # the argument spec reads "PIP=1" as {PIP: "1"}, the role must not
    "list": [{"a": 1}],
    "raw": [],
}
# Values of the right type that mean nothing: (variable, value, what a valid policy around it needs).
ROLE_SEMANTIC: list[tuple[str, Any, dict[str, Any]]] = [
    ("pip_cache_policy_users", {"root": 1}, {}),
    ("pip_cache_policy_users", [], {}),
    ("pip_cache_policy_users", 123, {}),
    ("pip_cache_policy_users", True, {}),
    # An empty name or a null would stand for the connecting user.
    ("pip_cache_policy_users", "", {}),
    ("pip_cache_policy_users", " ", {}),
    ("pip_cache_policy_users", [None], {}),
    ("pip_cache_policy_users", ["root", None], {}),
    ("pip_cache_policy_users", ["root", ""], {}),
    ("pip_cache_policy_environment", {"PIP_X": [1]}, {}),
    ("pip_cache_policy_max_size", "12XB", {"pip_cache_policy_max_age": ""}),
    ("pip_cache_policy_max_size", "-5GB", {"pip_cache_policy_max_age": ""}),
    ("pip_cache_policy_max_age", "soon", {}),
    ("pip_cache_policy_min_age", "a while", {}),
    ("pip_cache_policy_state", "limited", {"pip_cache_policy_max_age": ""}),
    ("pip_cache_policy_cache_dir", "relative/pip-cache", {}),
    ("pip_cache_policy_cache_dir_mode", "99999", {}),
    ("pip_cache_policy_cache_dir_mode", "rwx", {}),
    ("pip_cache_policy_cache_dir", "/srv/pip-cache", {"pip_cache_policy_state": "disabled"}),
    ("pip_cache_policy_schedule_when", "noon", {"pip_cache_policy_schedule": True}),
    ("pip_cache_policy_schedule", True, {"pip_cache_policy_state": "disabled"}),
    ("pip_cache_policy_schedule_backend", "task", {"pip_cache_policy_schedule": True}),
]
# Numbers without a unit: refused by the role's own check, naming the variable and showing the forms (a budget of 5
# taken as 5 bytes, or 30 as 30 seconds, would empty every cache).
ROLE_UNITLESS: list[tuple[str, Any, dict[str, Any]]] = [
    ("pip_cache_policy_max_size", "5", {"pip_cache_policy_max_age": ""}),
    ("pip_cache_policy_max_size", 5, {"pip_cache_policy_max_age": ""}),
    ("pip_cache_policy_max_size", "1.5", {}),
    ("pip_cache_policy_max_age", "30", {}),
    ("pip_cache_policy_max_age", 30, {}),
    ("pip_cache_policy_max_age", "1h30", {}),
    ("pip_cache_policy_min_age", "45", {}),
    ("pip_cache_policy_min_age", 300, {}),
]


def _role_bad_inputs() -> list[tuple[str, Any, dict[str, Any]]]:
    """Every variable of the role's argument spec with values of the wrong type (and outside its choices), then the
    hand-picked values of the right type that no policy can mean."""
    options = yaml.safe_load(ROLE_SPEC.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
    cases: list[tuple[str, Any, dict[str, Any]]] = []
    for name, spec in sorted(options.items()):
        for value in WRONG_BY_TYPE[spec.get("type", "str")]:
            cases.append((name, value, {}))
        if spec.get("choices"):
            cases.append((name, "no-such-choice", {}))
    return cases + ROLE_SEMANTIC + ROLE_UNITLESS


def test_bad_role_variables_name_the_variable(tally: Tally, tmp_path: Path, decoy: Decoy) -> None:
    """Every role variable given a wrong type or a value no policy can mean: each host fails with a message naming
    that variable (or the module option it feeds, with the value), nothing crashes and nothing on disk changes.
    One play over a host per case, so the whole lot costs one ansible-playbook run."""
    home = tmp_path / "home"
    fake_cache(home / ".cache" / "pip", seed=31, downloads=4, wheels=2, size=2000, now=time.time() - 400 * DAY)
    before = tree_state(home)
    base = {
        "pip_cache_policy_users": "root",
        "pip_cache_policy_state": "limited",
        "pip_cache_policy_max_age": "3650d",
        "pip_cache_policy_environment": {"HOME": str(home), "XDG_CACHE_HOME": "", "XDG_CONFIG_HOME": str(home / ".config")},
        "pip_cache_policy_config_scope": "user",
    }
    cases = _role_bad_inputs()
    hosts = {f"bad-{number:03d}": local_host(**{**base, **extra, name: value}) for number, (name, value, extra) in enumerate(cases)}
    inventory = write_inventory(tmp_path / "inventory", {"bad": hosts})
    play = tmp_path / "bad-role-vars.yml"
    play.write_text("---\n- name: Bad role variables\n  hosts: all\n  gather_facts: false\n  roles:\n    - role: fleet.cache.pip_cache_policy\n")
    env = ansible_env(tmp_path, ANSIBLE_CALLBACK_RESULT_FORMAT="json", ANSIBLE_CALLBACK_FORMAT_PRETTY="false", ANSIBLE_FORKS="8")
    run = playbook(play, inventory, tmp_path, env=env, timeout=900)
    tally.saw(run.stderr)
    # "fatal: [host]: FAILED! => {...}" and, for a loop's item, "failed: [host] (item=...) => {...}", one line each.
    failures: dict[str, list[str]] = {}
    for line in run.stdout.splitlines():
        found = re.match(r"^(?:fatal|failed): \[([^\]]+)\].*? => (\{.*\})$", line)
        if found:
            result = json.loads(found.group(2))
            failures.setdefault(found.group(1), []).append(str(result.get("msg", "")))
    assert failures, run.explain()
    wrong = []
    for number, (name, value, _extra) in enumerate(cases):
        host = f"bad-{number:03d}"
        tally.bad_inputs += 1
        message = " | ".join(failures.get(host, []))
        option = name[len("pip_cache_policy_") :]
        named = name in message or (f"{option}:" in message and str(value) in message)
        if (name, value, _extra) in ROLE_UNITLESS:
            forms = ["5GB", "500MiB", "7B"] if name.endswith("size") else ["30d", "12h", "45s"]
            named = f"{name}: " in message and "needs a unit" in message and all(form in message for form in forms)
        crashed = tally.saw(message) > 0
        try:
            with tally.scenario(f"bad role variable: {name}={value!r}", decoy):
                assert host in failures and named and not crashed, f"{name}={value!r}: failed={host in failures} message={message[:300]!r}"
                tally.bad_inputs_refused += 1
        except AssertionError as error:
            wrong.append(str(error).splitlines()[0])
    assert not wrong, "\n".join(wrong)
    assert tree_state(home) == before, "a refused policy changed nothing"


# --------------------------------------------------------------------------------------------------
# Properties

AGES = [2.0, 3600.0, 2 * DAY, 400 * DAY]  # young (inside min_age 60 s), an hour, two days, over a year
PROJECTS = ["TinyYAML", "Simple", "zope.tiny", "tiny_requests", "proj"]

entry_strategy = st.one_of(
    st.tuples(st.just("http-v2"), st.integers(0, 5), st.sampled_from(["both", "meta", "body"]), st.sampled_from(AGES), st.integers(0, 3000)),
    st.tuples(st.just("http"), st.integers(0, 5), st.sampled_from(["both"]), st.sampled_from(AGES), st.integers(0, 3000)),
    st.tuples(st.just("wheel"), st.sampled_from(PROJECTS), st.sampled_from(["1.0", "2.0", "2.0rc1"]), st.sampled_from(AGES), st.integers(0, 3000)),
    st.tuples(st.just("junk"), st.sampled_from(["wheels", "http-v2", "http", "selfcheck", "."]), st.integers(0, 7), st.sampled_from(AGES), st.integers(1, 500)),
    st.tuples(
        st.just("link"),
        st.sampled_from(["wheels", "http-v2", "http", "selfcheck"]),
        st.sampled_from(["file", "dir", "cache", "wheel"]),
        st.sampled_from(AGES),
        st.integers(0, 2),
    ),
    st.tuples(
        st.just("hard"),
        st.sampled_from(["wheels", "http-v2", "http"]),
        st.sampled_from(["x.whl", "origin.json", "k", "k.body"]),
        st.sampled_from(AGES),
        st.integers(0, 2),
    ),
    st.tuples(st.just("build"), st.sampled_from(PROJECTS), st.booleans(), st.sampled_from(AGES), st.integers(0, 2)),
    st.tuples(st.just("selfcheck"), st.sampled_from(["dir", "json"]), st.integers(0, 2), st.sampled_from(AGES), st.integers(0, 2)),
    st.tuples(st.just("empty"), st.sampled_from(["wheels", "http-v2", "http"]), st.integers(1, 6), st.sampled_from(AGES), st.integers(0, 2)),
)

request_strategy = st.one_of(
    st.tuples(st.just("purged"), st.sets(st.sampled_from(list(remove.PURGE_EXTRAS))), st.sampled_from([0.0, 60.0])),
    st.tuples(
        st.just("pruned"),
        st.tuples(st.sampled_from([None, 3600.0 * 12, 30 * DAY]), st.sampled_from([None, 0, 2000, 20_000, 10**9]), st.booleans()),
        st.sampled_from([0.0, 60.0]),
    ),
    st.tuples(
        st.just("absent"),
        st.sampled_from(["*", "TinyYAML", "zope.tiny-1.*", "Simple-2.0", "proj", "name:Simple", "name:zope-tiny>=2", "name:proj<2"]),
        st.sampled_from([0.0, 60.0]),
    ),
)


def _build_tree(cache: Path, entries: list[tuple[Any, ...]], decoy: Decoy, now: float) -> None:
    cache.mkdir()
    for number, (kind, first, second, age, extra) in enumerate(entries):
        mtime = now - age
        if kind in ("http-v2", "http"):
            paths = http_entry(cache, f"key-{first}-{number}", bytes(extra), mtime=mtime, bucket=kind)
            if second != "both" and kind == "http-v2":
                paths[0 if second == "body" else 1].unlink()
        elif kind == "wheel":
            wheel_entry(cache, first, second, mtime=mtime, size=extra, origin=number % 3 != 0)
        elif kind == "junk":
            folder = cache if first == "." else cache.joinpath(first, *[f"j{level}" for level in range(second)])
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"junk-{number}.txt").write_bytes(bytes(extra))
            os.utime(folder / f"junk-{number}.txt", (mtime, mtime))
        elif kind == "link":
            folder = cache.joinpath(first, "ln", str(number))
            folder.mkdir(parents=True, exist_ok=True)
            target = {"file": decoy.file, "dir": decoy.dir, "cache": decoy.cache, "wheel": decoy.wheel}[second]
            name = {"file": "k", "dir": "sub", "cache": "cache", "wheel": "Link-1.0-py3-none-any.whl"}[second]
            (folder / name).symlink_to(target)
            os.utime(folder / name, (mtime, mtime), follow_symlinks=False)
        elif kind == "hard":
            folder = cache.joinpath(first, "hd", str(number))
            folder.mkdir(parents=True, exist_ok=True)
            os.link(decoy.wheel if second.endswith(".whl") else decoy.file, folder / second)
        elif kind == "build":
            wheel = wheel_entry(cache, first, "3.0", mtime=mtime)
            build = wheel.parent / f"tmp{number}"
            build.mkdir()
            (build / "setup.log").write_text("building")
            if second:
                (build / f"{first}-3.0-py3-none-any.whl").write_bytes(b"PK\x03\x04")
            if not second:
                wheel.unlink()
            for path in build.iterdir():
                os.utime(path, (mtime, mtime))
        elif kind == "selfcheck":
            if first == "dir":
                (cache / "selfcheck").mkdir(exist_ok=True)
                (cache / "selfcheck" / f"s{number}").write_text("{}")
                os.utime(cache / "selfcheck" / f"s{number}", (mtime, mtime))
            else:
                (cache / "selfcheck.json").write_text("{}")
                os.utime(cache / "selfcheck.json", (mtime, mtime))
        elif kind == "empty":
            cache.joinpath(first, *[f"e{number}"] * second).mkdir(parents=True, exist_ok=True)


def _request(spec: tuple[Any, ...], now: float) -> Any:
    mode, detail, min_age = spec
    if mode == "purged":
        return _purge_request(purge_extras=frozenset(detail), min_age=min_age, now=now)
    if mode == "pruned":
        max_age, max_size, ci = detail
        if max_age is None and max_size is None and not ci:
            ci = True
        return remove.Request(mode="pruned", max_age=max_age, max_size=max_size, ci=ci, min_age=min_age, now=now)
    if detail.startswith("name:"):
        requirement = version.parse_requirement(detail[5:])
        return remove.Request(
            mode="absent",
            matcher=matching.NameMatcher(requirements=[requirement]),
            http_projects=True,
            identify=http.identify_for_removal,
            min_age=min_age,
            now=now,
        )
    return remove.Request(mode="absent", matcher=matching.NameMatcher(glob=detail), http_all=detail == "*", min_age=min_age, now=now)


REMOVABLE = ("http-v2/", "http/", "wheels/", "selfcheck/")
REMOVABLE_TOP = {"http-v2", "http", "wheels", "selfcheck", "selfcheck.json"}


# Found by this test: an old wheel in a wheel folder made just now. The size budget counts the folder's origin.json
# as freed, min_age keeps it (the folder is young), the cache stays over max_size and the next run prunes more.
YOUNG_FOLDER_OLD_WHEEL = [*[("http-v2", 0, "both", 2.0, 0)] * 8, ("http-v2", 0, "both", 2.0, 337), ("http-v2", 0, "both", 2.0, 1203)]
YOUNG_FOLDER_OLD_WHEEL += [("http-v2", 0, "both", 3600.0, 0), ("wheel", "TinyYAML", "1.0", 172800.0, 0)]


def _check_properties(tally: Tally, entries: list[tuple[Any, ...]], spec: tuple[Any, ...]) -> None:
    with tempfile.TemporaryDirectory(prefix="fleet-cache-property-") as scratch:
        root = Path(scratch)
        decoy = Decoy(root / "outside")
        now = time.time()
        cache = root / "cache"
        _build_tree(cache, entries, decoy, now)
        request = _request(spec, now)
        with tally.scenario(f"property: {spec}", decoy):
            before = tree_state(cache)
            dry = remove.remove(str(cache), request, dry_run=True)
            assert tree_state(cache) == before, "a dry run changed the tree"
            real = remove.remove(str(cache), request, dry_run=False)
            assert dry.as_dict() == real.as_dict(), "the dry run did not predict the real run"
            after = tree_state(cache)
            gone = sorted(set(before) - set(after))
            outside = [path for path in gone if not (path in REMOVABLE_TOP or path.startswith(REMOVABLE))]
            assert not outside, f"removed outside pip's buckets: {outside}"
            assert all(after[path] == before[path] for path in after if before[path][0] != "d"), "a file that stayed changed"
            second = remove.remove(str(cache), request, dry_run=False)
            again = (second.files + second.extra_files, second.dirs, second.entries, second.bytes)
            assert again == (0, 0, 0, 0), f"a second run removed more: {second.as_dict()}"
            assert tree_state(cache) == after


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(entries=st.lists(entry_strategy, min_size=1, max_size=25), spec=request_strategy)
def test_property_random_trees_and_requests(tally: Tally, entries: list[tuple[Any, ...]], spec: tuple[Any, ...]) -> None:
    """Nothing outside the cache is touched, only pip's buckets lose anything, the dry run predicts the real run
    exactly, and a second run changes nothing."""
    _check_properties(tally, entries, spec)


def test_property_size_budget_with_a_young_wheel_folder(tally: Tally) -> None:
    """What the property test found: a second run of a max_size prune with min_age removed more than the first."""
    _check_properties(tally, YOUNG_FOLDER_OLD_WHEEL, ("pruned", (None, 2000, False), 60.0))


# --------------------------------------------------------------------------------------------------
# The summary


def test_zz_summary(tally: Tally, capsys: pytest.CaptureFixture[str]) -> None:
    """The last test: the figures the summary line prints must hold (the line itself comes after pytest's report)."""
    with capsys.disabled():
        print(f"\n{tally.line()}")
    assert tally.run > 0
    assert tally.changed_bytes == 0, tally.line()
    assert tally.tracebacks == 0, tally.line()
    assert tally.survived == tally.run, f"{tally.line()}; lost: {tally.lost[:20]}"
    assert tally.bad_inputs_refused == tally.bad_inputs, tally.line()
