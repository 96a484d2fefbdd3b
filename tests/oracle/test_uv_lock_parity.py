# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv's cache lock (``_uv/lock.py``) against real uv, for the oracle uvs that have one (0.8.19+: 0.9.21, 0.13.10).

- While our exclusive lock is held, ``uv cache clean`` and ``uv cache prune`` print their waiting line and time out,
  and ``uv pip install`` cannot get its shared lock; nothing in the cache changes. A ``.lock`` we create has uv's mode.
- While a real uv holds its shared lock (``uv run`` keeps it while its child runs: the child here waits on its stdin),
  ``in_use`` says so, our lock waits and times out with uv's words, and ``force`` goes on without it.
- Once we release, a ``uv cache clean`` that was waiting goes on and clears the cache.
- ``UV_LOCK_TIMEOUT`` is read as uv reads it: the values uv parses give the same seconds in uv's timeout error, and
  uv keeps waiting (its 300 s default) for the values ``lock_timeout()`` does not parse.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import engine  # noqa: F401  # pylint: disable=unused-import
import pytest
from piporacle import PackageIndex, parse_version, tree_snapshot
from uvoracle import UV_VERSIONS, OracleUv, copy_uv_cache, get_uv, uv_index_args, uv_isolated_env, uv_python, uv_template_cache

from ansible_collections.fleet.cache.plugins.module_utils._core.fd import open_dir_nofollow
from ansible_collections.fleet.cache.plugins.module_utils._uv import lock as uv_lock

LOCK_SINCE = (0, 8, 19)  # the root .lock (astral-sh/uv#15888); UV_LOCK_TIMEOUT since 0.9.16
LOCKING_UVS = [version for version in UV_VERSIONS if parse_version(version) >= LOCK_SINCE]
UV_WAIT_LINE = "Cache is currently in-use, waiting for other uv processes to finish (use `--force` to override)"
# A child of `uv run` that says it runs, then waits until its stdin closes: uv holds the cache lock meanwhile.
HOLD = "import sys; print('ready', flush=True); sys.stdin.read()"


def uv_timeout_line(seconds: int, root: Path) -> str:
    return (
        f"error: Timeout ({seconds}s) when waiting for lock on `{root}` at `{root}/.lock`, is another uv process running? "
        "You can set `UV_LOCK_TIMEOUT` to increase the timeout."
    )


@pytest.fixture(params=LOCKING_UVS, ids=lambda version: f"uv-{version}")
def uv(request: pytest.FixtureRequest) -> OracleUv:
    return get_uv(request.param)


@pytest.fixture
def cache(uv: OracleUv, tmp_path: Path) -> Path:
    """A copy of the cache this uv filled (its own .lock in the root)."""
    return copy_uv_cache(uv_template_cache(uv), tmp_path / "cache")


@pytest.fixture
def root_fd(cache: Path) -> Iterator[int]:
    fd = open_dir_nofollow(str(cache))
    yield fd
    os.close(fd)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return uv_isolated_env(tmp_path / "env", UV_LOCK_TIMEOUT="1")


def start_uv(uv: OracleUv, *args: str | os.PathLike[str], env: dict[str, str], stdin: int = subprocess.DEVNULL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(uv.path), *(os.fspath(arg) for arg in args)],
        env=env,
        cwd=env["HOME"],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )


def finish(proc: subprocess.Popen[str], timeout: float = 120, *, stdin: str | None = None) -> tuple[str, str]:
    """Wait for ``proc`` (its stdin, when piped, gets ``stdin`` then is closed); kill it when it overruns."""
    try:
        return proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


def test_our_lock_stops_uv(uv: OracleUv, cache: Path, root_fd: int, env: dict[str, str], package_index: PackageIndex, tmp_path: Path) -> None:
    """Our exclusive lock, on a .lock we create: uv's clean and prune wait then time out, uv pip install cannot start."""
    uvs_lock = (cache / ".lock").stat()
    (cache / ".lock").unlink()
    lock = uv_lock.CacheLock(root_fd, str(cache), timeout=0)
    with lock:
        assert lock.held and lock.created
        ours = (cache / ".lock").stat()
        assert (ours.st_mode, ours.st_uid, ours.st_gid) == (uvs_lock.st_mode, uvs_lock.st_uid, uvs_lock.st_gid)  # -rw-rw-rw-
        before = tree_snapshot(cache)
        for command in ("clean", "prune"):
            proc = uv.run("cache", command, "--cache-dir", cache, env=env, check=False)
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr.splitlines() == [UV_WAIT_LINE, uv_timeout_line(1, cache)]
        project = package_index.projects[0]
        install = uv.run(
            "pip",
            "install",
            "--no-config",
            "--no-deps",
            "--target",
            tmp_path / "target",
            "--python",
            uv_python(),
            *uv_index_args(package_index),
            "--cache-dir",
            cache,
            project.requirement(project.versions[-1]),
            env=env,
            check=False,
        )
        assert install.returncode == 2, install.stderr
        assert "Could not acquire lock" in install.stderr
        assert uv_timeout_line(1, cache).removeprefix("error: ") in install.stderr
        assert not (tmp_path / "target").exists()
        assert tree_snapshot(cache) == before  # nothing removed, nothing added


def test_a_running_uv_stops_our_lock(uv: OracleUv, cache: Path, root_fd: int, env: dict[str, str]) -> None:
    """uv run holds its shared lock while its child runs: we wait and time out (uv's words), or go on with force."""
    running = start_uv(
        uv, "run", "--no-project", "--no-config", "--cache-dir", cache, "--python", uv_python(), "python", "-c", HOLD, env=env, stdin=subprocess.PIPE
    )
    try:
        assert running.stdout is not None and running.stdout.readline().strip() == "ready", running.stderr.read() if running.stderr else ""
        assert uv_lock.in_use(root_fd, str(cache)) is True
        waits: list[str] = []
        with pytest.raises(uv_lock.LockTimedOut) as caught:
            uv_lock.CacheLock(root_fd, str(cache), timeout=1, on_wait=waits.append).acquire()
        assert waits == [uv_lock.WAIT_MESSAGE]
        with uv_lock.CacheLock(root_fd, str(cache), timeout=1, force=True) as forced:
            assert forced.forced and not forced.held and forced.reason
        # uv's own clean meets the same lock, with the same words
        theirs = uv.run("cache", "clean", "--cache-dir", cache, env=env, check=False)
        assert theirs.returncode == 2
        assert theirs.stderr.splitlines() == [UV_WAIT_LINE, uv_timeout_line(1, cache)]
        assert UV_WAIT_LINE.replace("`--force`", "`force: true`") == uv_lock.WAIT_MESSAGE
        assert str(caught.value).split(" Set ", 1)[0] == uv_timeout_line(1, cache).removeprefix("error: ").split(" You can set ", 1)[0]
        assert running.poll() is None  # all along, uv was running
    finally:
        finish(running, stdin="")  # the child's stdin closes: it ends, and uv with it
    assert running.returncode == 0
    assert uv_lock.in_use(root_fd, str(cache)) is False
    with uv_lock.CacheLock(root_fd, str(cache), timeout=0) as lock:
        assert lock.held and not lock.waited


def test_uv_clean_goes_on_once_we_release(uv: OracleUv, cache: Path, root_fd: int, env: dict[str, str]) -> None:
    waiting_env = {**env, "UV_LOCK_TIMEOUT": "120"}
    with uv_lock.CacheLock(root_fd, str(cache), timeout=0) as lock:
        assert lock.held
        proc = start_uv(uv, "cache", "clean", "--cache-dir", cache, env=waiting_env)
        assert proc.stderr is not None
        try:
            assert proc.stderr.readline().rstrip("\n") == UV_WAIT_LINE  # uv says it waits for us
            assert proc.poll() is None
        except BaseException:
            proc.kill()
            finish(proc)
            raise
    stderr = finish(proc)[1]
    assert proc.returncode == 0, stderr
    assert f"Clearing cache at: {cache}" in stderr.splitlines()
    left = sorted(os.listdir(cache)) if cache.exists() else None
    assert left == ([".lock"] if parse_version(uv.version) >= (0, 13) else None)  # 0.13 keeps the root and .lock


# Values uv parses (then the seconds in its error) and values it does not (then it waits its 300 s default).
PARSED = ["0", "1", "+1", "01"]
UNPARSED = ["abc", "1.5", " 2", "2s", "-1", "-0", "+", "", "18446744073709551616"]


def test_uv_lock_timeout_is_read_as_uv_reads_it(uv: OracleUv, cache: Path, root_fd: int, env: dict[str, str]) -> None:
    with uv_lock.CacheLock(root_fd, str(cache), timeout=0):
        procs = {value: start_uv(uv, "cache", "clean", "--cache-dir", cache, env={**env, "UV_LOCK_TIMEOUT": value}) for value in PARSED + UNPARSED}
        started = time.monotonic()
        outputs: dict[str, str] = {}
        try:
            for value in PARSED:
                outputs[value] = finish(procs[value])[1]
            # Past any number of seconds uv could have read from an unparsed value (" 2" -> 2 at most), it still waits.
            time.sleep(max(0.0, started + 4 - time.monotonic()))
            early = {value: procs[value].poll() for value in UNPARSED if procs[value].poll() is not None}
        finally:
            for value in UNPARSED:
                procs[value].kill()
                outputs[value] = finish(procs[value])[1]
    for value in PARSED:
        ours = uv_lock.lock_timeout({"UV_LOCK_TIMEOUT": value}, None)
        assert ours.source == "UV_LOCK_TIMEOUT" and ours.warning is None
        assert procs[value].returncode == 2
        assert outputs[value].splitlines() == [UV_WAIT_LINE, uv_timeout_line(ours.seconds, cache)], value
    assert early == {}, f"uv parsed these UV_LOCK_TIMEOUT values (it gave up early): {early}"
    for value in UNPARSED:
        ours = uv_lock.lock_timeout({"UV_LOCK_TIMEOUT": value}, None)
        assert (ours.seconds, ours.source) == (300, "default") and ours.warning
        assert outputs[value].splitlines() == [UV_WAIT_LINE], value
