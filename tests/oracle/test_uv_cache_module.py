# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet.cache.uv_cache through the real ansible CLI, against real uv.

- Parity: two copies of a cache real uv filled (``copy_uv_cache``); real ``uv cache prune [--ci]`` / ``uv cache clean``
  / ``uv cache clean PKG...`` on copy A, the module (``uv:`` that same uv, check mode first) on copy B: the same tree
  but for the differences kept on purpose (``test_uv_remove_parity.compare``), and the module's ``uv_says`` lines are
  uv's, word for word. For the newest oracle uv and for 0.9.21.
- The race: the newest uv installs packages from the loopback index into target folders with the same cache, over and
  over, in a background thread, while the module prunes (``ci``) and purges that cache with ``lock_timeout: 60``:
  uv's cache lock keeps them apart, so every install succeeds and every module run succeeds; afterwards ``uv cache
  prune`` succeeds and ``uv pip install --offline`` installs what the cache holds. (With ``force: true`` instead, run
  by hand on 2026-12-08, 3 of 68 installs failed: what the lock prevents.)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from adhoc import run_module
from piporacle import PackageIndex
from test_uv_remove_parity import CLEANS, add_junk, compare, pair, snapshot, uv_lines
from uvoracle import UV_VERSIONS, OracleUv, get_uv, uv_index_args, uv_isolated_env, uv_python, uv_template_cache

from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import buckets_for

MODULE = "fleet.cache.uv_cache"
NEWEST = UV_VERSIONS[-1]
PARITY_VERSIONS = (NEWEST, "0.9.21")
# What the module is asked, and what real uv is run with, per operation.
OPERATIONS = {
    "prune": ({"state": "pruned"}, ["cache", "prune"], "prune"),
    "prune-ci": ({"state": "pruned", "ci": True}, ["cache", "prune", "--ci"], "prune"),
    "purge": ({"state": "purged"}, ["cache", "clean"], "purge"),
    "clean": ({"state": "absent", "name": CLEANS["spellings"]}, ["cache", "clean", *CLEANS["spellings"]], "clean"),
}
# The race: what uv installs each time (a wheel, an sdist uv builds, a wheel) and a file each puts in the target.
RACE_REQUIREMENTS = ["typing_tiny==0.3", "TinyYAML==1.1", "Simple==1.0"]
RACE_FILES = ["typing_tiny.py", "tinyyaml.py", "simple.py"]
RACE_MODULE_RUNS = 10
RACE_SECONDS = 25  # each race stops starting module runs after this; both together stay well under a minute


def module(args: dict[str, Any], tmp: Path, *, check: bool = False) -> dict[str, Any]:
    """One run of the module through the ansible CLI (ad hoc, localhost); its result (a failure's too), checked not to be
    a crash."""
    result = run_module(MODULE, json.dumps(args), tmp, check=check)
    assert "exception" not in result and "Traceback" not in json.dumps(result), result
    # The ad hoc callback leaves "failed" out of its JSON: a run without its caches failed, and says why in msg.
    result["failed"] = "caches" not in result
    assert result["msg"] if result["failed"] else isinstance(result["changed"], bool), result
    return result


# --------------------------------------------------------------------------------------------------
# Parity with real uv, through the CLI


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("version", PARITY_VERSIONS, ids=lambda version: f"uv-{version}")
def test_module_does_what_uv_does(version: str, operation: str, tmp_path: Path) -> None:
    uv = get_uv(version)
    args, uv_args, mode = OPERATIONS[operation]
    a, b = pair(uv_template_cache(uv), tmp_path)
    if mode == "prune" and (a / str(buckets_for(version).name("sdists"))).is_dir():
        add_junk(a, version)
        add_junk(b, version)
    had_lock = (a / ".lock").exists()
    proc = uv.run(*uv_args, "--cache-dir", a, env=uv_isolated_env(tmp_path / "env"))
    task = dict(args, cache_dir=str(b), uv=str(uv.path), lock_timeout=30)
    before = snapshot(b)
    checked = module(task, tmp_path, check=True)
    assert snapshot(b) == before, "check mode changed the cache"
    real = module(task, tmp_path)
    compare(a, b, version, mode, had_lock)
    assert (checked["changed"], real["changed"]) == (True, True), real
    item = real["caches"][0]
    assert item["uv"] == {"path": str(uv.path), "version": version, "source": "uv option"}
    assert item["uv_says"]["lines"] == uv_lines(proc.stderr), proc.stderr
    assert checked["caches"][0]["uv_says"] == item["uv_says"] and checked["removed"] == real["removed"]
    after = snapshot(b)
    again = module(task, tmp_path)
    assert again["changed"] is False and snapshot(b) == after


# --------------------------------------------------------------------------------------------------
# The race


@dataclass
class Installs:
    """The background installs of one race: each one's exit code and whether the target holds every package's file."""

    uv: OracleUv
    cache: Path
    targets: Path
    env: dict[str, str]
    index_args: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    results: list[tuple[int, bool, str]] = field(default_factory=list)
    error: BaseException | None = None

    def install(self, target: Path, *extra: str) -> tuple[int, bool, str]:
        args = ["pip", "install", "--no-config", "--reinstall", "--no-deps", "--target", str(target), *self.index_args, *extra]
        proc = self.uv.run(
            *args, "--cache-dir", self.cache, "--python", str(uv_python()), *RACE_REQUIREMENTS, env=self.env, cwd=self.targets, check=False, timeout=120
        )
        complete = all((target / name).is_file() for name in RACE_FILES)
        return proc.returncode, complete, proc.stderr[-600:]

    def loop(self) -> None:
        try:
            number = 0
            while not self.stop.is_set() and number < 400:
                self.results.append(self.install(self.targets / f"t{len(self.results)}"))
                number += 1
        except BaseException as error:  # seen by the test, not lost in the thread
            self.error = error

    @property
    def failures(self) -> list[tuple[int, bool, str]]:
        return [result for result in self.results if result[0] != 0 or not result[1]]


def race(uv: OracleUv, cache: Path, index: PackageIndex, tmp: Path, name: str, *, force: bool) -> tuple[Installs, list[dict[str, Any]]]:
    """Installs in a thread while the module alternately prunes (ci) and purges ``cache``; (installs, module results).
    The installs go on until the module runs are over, then one more completes after them."""
    targets = tmp / f"targets-{name}"
    targets.mkdir()
    installs = Installs(uv, cache, targets, uv_isolated_env(tmp / f"env-{name}"), uv_index_args(index))
    thread = threading.Thread(target=installs.loop, name=f"uv-installs-{name}", daemon=True)
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    thread.start()
    try:
        while not installs.results and installs.error is None and time.monotonic() - started < 30:
            time.sleep(0.05)  # the first install fills the cache before the module's first run
        for number in range(RACE_MODULE_RUNS):
            if number and time.monotonic() - started > RACE_SECONDS:
                break
            args = {"state": "pruned", "ci": True} if number % 2 == 0 else {"state": "purged"}
            results.append(module(dict(args, cache_dir=str(cache), uv=str(uv.path), lock_timeout=60, force=force), tmp))
        during = len(installs.results)
        time.sleep(0.3)
    finally:
        installs.stop.set()
        thread.join(timeout=150)
    assert not thread.is_alive(), "uv installs did not stop"
    if installs.error is not None:
        raise installs.error
    assert during >= 1, "no uv install ran while the module did: the race proved nothing"
    return installs, results


def test_uv_installs_and_the_module_in_the_same_cache(tmp_path: Path) -> None:
    uv = get_uv(NEWEST)
    cache = tmp_path / "cache"
    with PackageIndex(tmp_path / "dists") as index:
        installs, results = race(uv, cache, index, tmp_path, "locked", force=False)
        # One more install after the module's last run, so that the cache holds every package again.
        final = installs.install(tmp_path / "after-locked")
        figures = {
            "installs": len(installs.results),
            "install_failures": len(installs.failures),
            "module_runs": len(results),
            "module_changed": sum(1 for result in results if result.get("changed")),
            "module_waited": sum(1 for result in results if result.get("caches") and result["caches"][0]["lock"]["waited"]),
        }
        print(f"race with uv's lock: {figures}")  # pytest -s or -rP shows the figures
        assert installs.failures == [], installs.failures[:3]
        assert [result.get("msg") for result in results if result.get("failed")] == []
        assert all(result["caches"][0]["lock"]["held"] and not result["caches"][0]["lock"]["forced"] for result in results)
        assert final[:2] == (0, True), final
        # uv still has a sound cache: its own prune goes through, and what the cache holds installs offline.
        uv.run("cache", "prune", "--cache-dir", cache, env=installs.env, cwd=tmp_path)
        offline = installs.install(tmp_path / "offline", "--offline")
        assert offline[:2] == (0, True), offline
