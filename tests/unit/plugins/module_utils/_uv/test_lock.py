# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""uv's cache lock: taken and released, waited for while a child process holds it (as a running uv holds it shared),
force, the timeout as uv reads UV_LOCK_TIMEOUT, a .lock that is a link, a folder or a fifo, creation with mode 0666,
a .lock replaced under us, release on an exception, in_use, and the Windows LockFileEx calls against a fake kernel32."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import stat
import subprocess
import sys
import types

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import fd as core_fd
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import CacheError, InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._uv import lock as uv_lock
from ansible_collections.fleet.cache.plugins.module_utils._uv.lock import (
    DEFAULT_TIMEOUT,
    LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY,
    WAIT_MESSAGE,
    CacheLock,
    CacheRemoved,
    LockFileExLocker,
    LockFileRefused,
    LockTimedOut,
    UvLockError,
    in_use,
    lock_timeout,
)

fcntl = pytest.importorskip("fcntl")
pytestmark = pytest.mark.skipif(not core_fd.FD_SUPPORTED, reason="no descriptor-relative opens on this platform")

# A child holding the lock on a file: "shared" (as every running uv command holds it), "exclusive" (as uv cache clean
# does) or "lockf" (a POSIX record lock, which does not conflict with flock). It reads commands from stdin:
# "release" unlocks; "delete" deletes the file then unlocks (as uv 0.8.19-0.12 do after a full clean);
# "replace" deletes it, creates a new one, then unlocks; "move" does the same but holds the new one as it held the
# old one. It exits when stdin closes.
HOLDER = r"""
import fcntl, os, sys
path, mode = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
if mode == "lockf":
    fcntl.lockf(fd, fcntl.LOCK_EX)
else:
    fcntl.flock(fd, fcntl.LOCK_SH if mode == "shared" else fcntl.LOCK_EX)
print("held", flush=True)
for line in sys.stdin:
    command = line.strip()
    old = fd
    if command in ("delete", "replace", "move"):
        os.unlink(path)
        if command != "delete":
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if command == "move":
            fcntl.flock(fd, fcntl.LOCK_SH if mode == "shared" else fcntl.LOCK_EX)
    fcntl.flock(old, fcntl.LOCK_UN)
    print("done", flush=True)
"""


@contextlib.contextmanager
def holder(path, mode="shared"):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def tell(proc, command):
    """Send a command to the holder and wait until it has done it."""
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "done"


def open_fds():
    return sorted(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


def lockable(path, operation):
    """Whether another open file of ``path`` gets the flock ``operation`` now (then released)."""
    fd = os.open(str(path), os.O_RDONLY | os.O_NOFOLLOW)
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.fixture
def cache(tmp_path):
    """(root path, root descriptor) of an empty cache folder."""
    root = os.path.realpath(str(tmp_path / "cache"))
    os.mkdir(root)
    fd = core_fd.open_dir_nofollow(root)
    yield root, fd
    os.close(fd)


@pytest.fixture
def existing(cache):
    root, fd = cache
    with open(os.path.join(root, ".lock"), "w", encoding="utf-8"):
        pass
    return root, fd


# --------------------------------------------------------------------------------------------------
# Taking and releasing


def test_free_lock_taken_and_released(existing):
    root, fd = existing
    path = os.path.join(root, ".lock")
    before = open_fds()
    waits = []
    with CacheLock(fd, root, timeout=0, on_wait=waits.append) as lock:
        assert lock.held and not lock.forced and not lock.waited and not lock.created
        assert not lockable(path, fcntl.LOCK_SH)  # exclusive: not even a reader gets in
        assert lock.as_dict() == {
            "path": path,
            "held": True,
            "forced": False,
            "waited": False,
            "created": False,
            "timeout": 0,
            "reason": None,
        }
    assert not lock.held
    assert lockable(path, fcntl.LOCK_EX)
    assert waits == []
    assert open_fds() == before


def test_release_on_exception(existing):
    root, fd = existing
    before = open_fds()
    with pytest.raises(RuntimeError, match="boom"), CacheLock(fd, root, timeout=0):
        assert not lockable(os.path.join(root, ".lock"), fcntl.LOCK_SH)
        raise RuntimeError("boom")
    assert lockable(os.path.join(root, ".lock"), fcntl.LOCK_EX)
    assert open_fds() == before


def test_a_lock_is_taken_once(existing):
    root, fd = existing
    lock = CacheLock(fd, root, timeout=0).acquire()
    try:
        with pytest.raises(RuntimeError):
            lock.acquire()
    finally:
        lock.release()
    lock.release()  # twice is harmless


# --------------------------------------------------------------------------------------------------
# Busy


@pytest.mark.parametrize("mode", ["shared", "exclusive"])
def test_busy_waits_then_times_out(existing, mode):
    root, fd = existing
    before = open_fds()
    waits = []
    with holder(os.path.join(root, ".lock"), mode), pytest.raises(LockTimedOut) as caught:
        CacheLock(fd, root, timeout=1, on_wait=waits.append).acquire()
    assert waits == [WAIT_MESSAGE]
    assert WAIT_MESSAGE == "Cache is currently in-use, waiting for other uv processes to finish (use `force: true` to override)"
    message = str(caught.value)
    assert message == (
        f"Timeout (1s) when waiting for lock on `{root}` at `{root}/.lock`, is another uv process running? "
        "Set lock_timeout or UV_LOCK_TIMEOUT to wait longer, or force: true."
    )
    assert isinstance(caught.value, CacheError) and caught.value.path == os.path.join(root, ".lock")
    assert open_fds() == before


def test_timeout_zero_fails_at_once(existing):
    root, fd = existing
    waits = []
    with holder(os.path.join(root, ".lock"), "shared"), pytest.raises(LockTimedOut, match=r"^Timeout \(0s\) when waiting for lock on"):
        CacheLock(fd, root, timeout=0, on_wait=waits.append).acquire()
    assert waits == [WAIT_MESSAGE]  # uv prints the waiting line before it fails, even with 0


def test_waits_until_the_other_process_is_done(existing):
    root, fd = existing
    with holder(os.path.join(root, ".lock"), "shared") as proc:
        waits = []

        def on_wait(message):
            waits.append(message)
            tell(proc, "release")  # the running uv finishes while we wait

        with CacheLock(fd, root, timeout=30, on_wait=on_wait) as lock:
            assert lock.held and lock.waited and not lock.forced
            assert lock.attempts == 1
    assert waits == [WAIT_MESSAGE]


def test_force_proceeds_unlocked_and_says_so(existing):
    root, fd = existing
    before = open_fds()
    waits = []
    with holder(os.path.join(root, ".lock"), "shared"), CacheLock(fd, root, timeout=30, force=True, on_wait=waits.append) as lock:
        assert not lock.held and lock.forced and not lock.waited
        assert "force: true went on without the lock" in lock.reason
        assert lock.as_dict()["forced"] is True and lock.as_dict()["held"] is False
        assert in_use(fd, root)  # the other uv still holds it: nothing was taken from it
    assert waits == []
    assert open_fds() == before


def test_force_on_a_free_lock_takes_it(existing):
    root, fd = existing
    with CacheLock(fd, root, force=True) as lock:
        assert lock.held and not lock.forced


def test_a_record_lock_is_not_uvs_lock(existing):
    """uv locks with flock; a lockf/fcntl record lock does not conflict with it, so it does not stop us either."""
    root, fd = existing
    with holder(os.path.join(root, ".lock"), "lockf"), CacheLock(fd, root, timeout=0) as lock:
        assert lock.held


# --------------------------------------------------------------------------------------------------
# UV_LOCK_TIMEOUT and the lock_timeout option

WARNED = object()


@pytest.mark.parametrize(
    "value, seconds, source",
    [
        ("5", 5, "UV_LOCK_TIMEOUT"),
        ("0", 0, "UV_LOCK_TIMEOUT"),
        ("007", 7, "UV_LOCK_TIMEOUT"),
        ("+1", 1, "UV_LOCK_TIMEOUT"),  # Rust's u64 parser takes a leading +, and so does uv (seen on 0.9.21 and 0.13.10)
        ("18446744073709551615", 2**64 - 1, "UV_LOCK_TIMEOUT"),
        ("18446744073709551616", DEFAULT_TIMEOUT, WARNED),  # past u64
        ("abc", DEFAULT_TIMEOUT, WARNED),
        ("1.5", DEFAULT_TIMEOUT, WARNED),
        (" 2", DEFAULT_TIMEOUT, WARNED),
        ("2 ", DEFAULT_TIMEOUT, WARNED),
        ("2s", DEFAULT_TIMEOUT, WARNED),
        ("-1", DEFAULT_TIMEOUT, WARNED),
        ("-0", DEFAULT_TIMEOUT, WARNED),
        ("+", DEFAULT_TIMEOUT, WARNED),
        ("", DEFAULT_TIMEOUT, WARNED),
        ("\u0663", DEFAULT_TIMEOUT, WARNED),  # an Arabic-Indic digit: Python's int() takes it, Rust's does not
    ],
)
def test_uv_lock_timeout_parsed_as_uv_does(value, seconds, source):
    timeout = lock_timeout({"UV_LOCK_TIMEOUT": value}, None)
    assert timeout.seconds == seconds
    if source is WARNED:
        assert timeout.source == "default"
        assert timeout.warning is not None and timeout.warning.startswith(f"UV_LOCK_TIMEOUT={value!r} is not a whole number of seconds")
        assert "300 seconds" in timeout.warning
    else:
        assert timeout.source == source and timeout.warning is None


def test_no_variable_is_the_default():
    assert lock_timeout({}, None) == (300, "default", None)
    assert DEFAULT_TIMEOUT == 300


def test_a_long_value_is_cut_in_the_warning():
    warning = lock_timeout({"UV_LOCK_TIMEOUT": "x" * 500}, None).warning
    assert warning is not None and "x" * 41 not in warning and "..." in warning


@pytest.mark.parametrize("option, environ", [(10, {"UV_LOCK_TIMEOUT": "5"}), (0, {"UV_LOCK_TIMEOUT": "abc"}), (7, {})])
def test_the_option_wins(option, environ):
    assert lock_timeout(environ, option) == (option, "lock_timeout", None)


@pytest.mark.parametrize("option", [-1, True, "5", 1.5])
def test_a_bad_option_is_refused(option):
    with pytest.raises(InvalidValue) as caught:
        lock_timeout({}, option)
    assert caught.value.option == "lock_timeout"
    assert str(caught.value).startswith(f"lock_timeout={option!r} is not a whole number of seconds")


# --------------------------------------------------------------------------------------------------
# What .lock is


@pytest.fixture
def spied_opens(monkeypatch):
    """Every os.open call while the test runs: (path, flags)."""
    calls = []
    real_open = os.open

    def spy(path, flags, *args, **kwargs):
        calls.append((os.fspath(path), flags))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return calls


@pytest.mark.parametrize("force", [False, True])
def test_a_link_to_a_file_outside_is_never_followed(cache, tmp_path, spied_opens, force):
    root, fd = cache
    outside = tmp_path / "outside"
    outside.write_text("precious", encoding="utf-8")
    outside.chmod(0o600)
    before = os.stat(str(outside))
    os.symlink(str(outside), os.path.join(root, ".lock"))
    with pytest.raises(LockFileRefused) as caught:
        CacheLock(fd, root, timeout=0, force=force).acquire()
    assert str(caught.value).startswith(f"uv's cache lock {root}/.lock is a symbolic link, not a regular file")
    with pytest.raises(LockFileRefused):
        in_use(fd, root)
    assert not [path for path, flags in spied_opens if path in (".lock", str(outside))]  # refused from lstat: never opened
    after = os.stat(str(outside))
    assert outside.read_text(encoding="utf-8") == "precious"
    assert (after.st_ino, after.st_mode, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mode, before.st_mtime_ns, before.st_size)
    assert lockable(outside, fcntl.LOCK_EX)
    assert os.path.islink(os.path.join(root, ".lock"))
    assert sorted(os.listdir(root)) == [".lock"]


def test_a_dangling_link_is_not_followed_to_create_its_target(cache, tmp_path):
    root, fd = cache
    target = tmp_path / "made-by-a-link"
    os.symlink(str(target), os.path.join(root, ".lock"))
    with pytest.raises(LockFileRefused, match="is a symbolic link"):
        CacheLock(fd, root, timeout=0).acquire()
    assert not target.exists()


def test_a_link_swapped_in_after_the_check_is_not_followed(existing, tmp_path, monkeypatch):
    """.lock becomes a link between the lstat and the open: O_NOFOLLOW fails the open, and it is refused."""
    root, fd = existing
    outside = tmp_path / "outside"
    outside.write_text("x", encoding="utf-8")
    real_open = os.open

    def swapping_open(path, flags, *args, **kwargs):
        if path == ".lock":
            assert flags & os.O_NOFOLLOW
            os.unlink(os.path.join(root, ".lock"))
            os.symlink(str(outside), os.path.join(root, ".lock"))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", swapping_open)
    with pytest.raises(LockFileRefused, match="is a symbolic link"):
        CacheLock(fd, root, timeout=0).acquire()
    monkeypatch.undo()
    assert lockable(outside, fcntl.LOCK_EX)


@pytest.mark.parametrize("force", [False, True])
def test_a_folder_is_refused(cache, force):
    root, fd = cache
    os.mkdir(os.path.join(root, ".lock"))
    with pytest.raises(LockFileRefused, match=r"\.lock is a folder, not a regular file"):
        CacheLock(fd, root, timeout=0, force=force).acquire()
    with pytest.raises(LockFileRefused, match="is a folder"):
        in_use(fd, root)
    assert os.path.isdir(os.path.join(root, ".lock"))


def test_a_fifo_is_refused_without_opening_it(cache, spied_opens):
    root, fd = cache
    os.mkfifo(os.path.join(root, ".lock"))
    with pytest.raises(LockFileRefused, match="is a fifo, not a regular file"):
        CacheLock(fd, root, timeout=0).acquire()
    with pytest.raises(LockFileRefused, match="is a fifo"):
        in_use(fd, root)
    assert not [path for path, flags in spied_opens if path == ".lock"]


def test_every_open_is_relative_and_never_follows(existing, spied_opens):
    root, fd = existing
    with CacheLock(fd, root, timeout=0):
        pass
    in_use(fd, root)
    opened = [(path, flags) for path, flags in spied_opens if path == ".lock"]
    assert len(opened) == 2 and all(flags & os.O_NOFOLLOW for path, flags in opened)
    assert not [path for path, flags in spied_opens if path.startswith("/")]


# --------------------------------------------------------------------------------------------------
# Creating .lock


@pytest.fixture
def strict_umask():
    previous = os.umask(0o077)
    yield
    os.umask(previous)


def test_a_missing_lock_is_created_with_mode_0666(cache, strict_umask):
    root, fd = cache
    with CacheLock(fd, root, timeout=0) as lock:
        assert lock.held and lock.created
        info = os.lstat(os.path.join(root, ".lock"))
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o666
        assert (os.fstat(lock._fd).st_ino) == info.st_ino
    assert os.listdir(root) == [".lock"]  # no temporary file left


def test_without_hard_links_it_is_created_in_place(cache, strict_umask, monkeypatch):
    root, fd = cache

    def no_links(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    with CacheLock(fd, root, timeout=0) as lock:
        assert lock.held and lock.created
    assert stat.S_IMODE(os.lstat(os.path.join(root, ".lock")).st_mode) == 0o666
    assert os.listdir(root) == [".lock"]


def test_a_lock_a_racing_uv_created_is_opened_not_replaced(cache, monkeypatch):
    root, fd = cache
    real_link = os.link
    raced = {}

    def racing_link(*args, **kwargs):
        with open(os.path.join(root, ".lock"), "w", encoding="utf-8"):
            pass
        raced["ino"] = os.lstat(os.path.join(root, ".lock")).st_ino
        return real_link(*args, **kwargs)  # fails: the name is taken

    monkeypatch.setattr(os, "link", racing_link)
    with CacheLock(fd, root, timeout=0) as lock:
        assert lock.held and not lock.created
        assert os.fstat(lock._fd).st_ino == raced["ino"] == os.lstat(os.path.join(root, ".lock")).st_ino
    assert os.listdir(root) == [".lock"]


def test_a_lock_that_cannot_be_created_fails_unless_forced(cache, monkeypatch):
    """A cache folder the user cannot write (root writes anywhere, so the refusal is simulated)."""
    root, fd = cache
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    before = open_fds()
    with pytest.raises(UvLockError, match=r"^cannot create uv's cache lock .*/\.lock: Permission denied$"):
        CacheLock(fd, root, timeout=0).acquire()
    with CacheLock(fd, root, timeout=0, force=True) as lock:
        assert lock.forced and not lock.held
        assert lock.reason.endswith("Permission denied; force: true went on without uv's cache lock")
    assert open_fds() == before
    assert os.listdir(root) == []


# --------------------------------------------------------------------------------------------------
# .lock replaced under us


@pytest.mark.parametrize("command", ["delete", "replace"])
def test_a_replaced_lock_is_taken_again(existing, command):
    """uv 0.8.19-0.12 delete .lock after a full clean, then unlock: the waiter's lock is on a file no longer in the
    cache, so it takes the lock again on the file named .lock now."""
    root, fd = existing
    path = os.path.join(root, ".lock")
    with holder(path, "exclusive") as proc, CacheLock(fd, root, timeout=30, on_wait=lambda message: tell(proc, command)) as lock:
        assert lock.held and lock.waited
        assert lock.attempts == 2
        assert lock.created is (command == "delete")
        held = os.fstat(lock._fd)
        assert held.st_nlink == 1 and held.st_ino == os.lstat(path).st_ino
        assert not lockable(path, fcntl.LOCK_SH)


def test_a_replaced_lock_still_busy_is_waited_for_once(existing):
    """The lock is taken again on the new .lock, which another uv holds: no second waiting line, one deadline."""
    root, fd = existing
    waits = []
    with holder(os.path.join(root, ".lock"), "exclusive") as proc:

        def on_wait(message):
            waits.append(message)
            tell(proc, "move")

        with pytest.raises(LockTimedOut, match=r"^Timeout \(1s\)"):
            CacheLock(fd, root, timeout=1, on_wait=on_wait).acquire()
    assert waits == [WAIT_MESSAGE]


def test_a_cache_removed_while_waiting(existing):
    """uv 0.8.19-0.12 remove the whole cache folder in a full clean: the waiter is told there is nothing left."""
    root, fd = existing
    before = open_fds()
    with holder(os.path.join(root, ".lock"), "exclusive") as proc:

        def on_wait(message):
            os.unlink(os.path.join(root, ".lock"))
            os.rmdir(root)
            tell(proc, "release")

        with pytest.raises(CacheRemoved) as caught:
            CacheLock(fd, root, timeout=30, on_wait=on_wait).acquire()
    assert str(caught.value) == f"the cache folder {root} was removed (by another uv's clean) while its lock was awaited: nothing left to lock"
    assert open_fds() == before


@pytest.mark.parametrize("force", [False, True])
def test_a_removed_cache_is_not_forced(cache, force):
    root, fd = cache
    os.rmdir(root)
    with pytest.raises(CacheRemoved):
        CacheLock(fd, root, timeout=0, force=force).acquire()
    assert not os.path.exists(root)


def test_a_lock_that_keeps_being_replaced_fails(existing, monkeypatch):
    root, fd = existing
    monkeypatch.setattr(uv_lock, "_same_file", lambda fd, root: False)
    before = open_fds()
    with pytest.raises(UvLockError, match=r"was replaced 20 times while it was being taken: not locked"):
        CacheLock(fd, root, timeout=0).acquire()
    assert open_fds() == before


# --------------------------------------------------------------------------------------------------
# Locking errors


class BrokenLocker:
    name = "broken"

    def try_lock(self, fd, *, exclusive):
        raise OSError(errno.ENOLCK, "No locks available")

    def unlock(self, fd):
        raise AssertionError("never locked")


def test_a_lock_that_cannot_be_taken_fails_unless_forced(existing):
    root, fd = existing
    before = open_fds()
    with pytest.raises(UvLockError, match=r"cannot lock uv's cache lock .*/\.lock: No locks available"):
        CacheLock(fd, root, timeout=0, locker=BrokenLocker()).acquire()
    with CacheLock(fd, root, timeout=0, force=True, locker=BrokenLocker()) as lock:
        assert lock.forced and not lock.held and "No locks available" in lock.reason
    assert open_fds() == before


# --------------------------------------------------------------------------------------------------
# in_use


def test_in_use(cache):
    root, fd = cache
    path = os.path.join(root, ".lock")
    assert in_use(fd, root) is False
    assert not os.path.exists(path)  # nothing created
    with open(path, "w", encoding="utf-8"):
        pass
    assert in_use(fd, root) is False
    assert lockable(path, fcntl.LOCK_EX)  # the test lock was released
    with holder(path, "shared"):
        assert in_use(fd, root) is True
    with holder(path, "exclusive"):
        assert in_use(fd, root) is True
    with CacheLock(fd, root, timeout=0):
        assert in_use(fd, root) is True  # another open file: flock sees the conflict within one process too
    assert in_use(fd, root) is False


# --------------------------------------------------------------------------------------------------
# Windows: LockFileEx through a fake kernel32


class FakeKernel32:
    """LockFileEx/UnlockFileEx recorders; ``busy`` tries fail with ERROR_LOCK_VIOLATION before one succeeds."""

    def __init__(self, busy=0, error=33):
        self.busy = busy
        self.error = error
        self.last_error = 0
        self.calls = []

    def LockFileEx(self, handle, flags, reserved, low, high, overlapped):
        self.calls.append(("LockFileEx", handle.value, flags, reserved, low, high, bytes(overlapped._obj)))
        if self.busy:
            self.busy -= 1
            self.last_error = self.error
            return 0
        return 1

    def UnlockFileEx(self, handle, reserved, low, high, overlapped):
        self.calls.append(("UnlockFileEx", handle.value, reserved, low, high, bytes(overlapped._obj)))
        return 1


def fake_osfhandle(fd):
    return 0x4000 + fd


def windows_locker(kernel32):
    return LockFileExLocker(kernel32, fake_osfhandle, lambda: kernel32.last_error)


def test_windows_lock_calls(existing):
    root = existing[0]
    kernel32 = FakeKernel32(busy=1)
    waits = []
    lock = CacheLock(None, root, timeout=30, on_wait=waits.append, locker=windows_locker(kernel32))  # no descriptors there
    with lock:
        assert lock.held and lock.waited
        handle = fake_osfhandle(lock._fd)
    zero = bytes(ctypes.sizeof(ctypes.c_size_t) * 2 + 8 + ctypes.sizeof(ctypes.c_void_p))
    exclusive_now = LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY
    assert exclusive_now == 3
    assert kernel32.calls == [
        ("LockFileEx", handle, exclusive_now, 0, 0xFFFFFFFF, 0xFFFFFFFF, zero),
        ("LockFileEx", handle, exclusive_now, 0, 0xFFFFFFFF, 0xFFFFFFFF, zero),
        ("UnlockFileEx", handle, 0, 0xFFFFFFFF, 0xFFFFFFFF, zero),
    ]
    assert waits == [WAIT_MESSAGE]


def test_windows_busy_times_out_or_is_forced(existing):
    root = existing[0]
    with pytest.raises(LockTimedOut, match=r"Timeout \(0s\)"):
        CacheLock(None, root, timeout=0, locker=windows_locker(FakeKernel32(busy=100))).acquire()
    kernel32 = FakeKernel32(busy=100)
    with CacheLock(None, root, timeout=0, force=True, locker=windows_locker(kernel32)) as lock:
        assert lock.forced and not lock.held
    assert [call[0] for call in kernel32.calls] == ["LockFileEx"]


def test_windows_other_errors_fail(existing):
    root = existing[0]
    with pytest.raises(UvLockError, match=r"LockFileEx failed \(Windows error 5\)"):
        CacheLock(None, root, timeout=0, locker=windows_locker(FakeKernel32(busy=1, error=5))).acquire()


def test_windows_in_use(existing):
    root = existing[0]
    busy = FakeKernel32(busy=1)
    assert in_use(None, root, locker=windows_locker(busy)) is True
    assert [call[0] for call in busy.calls] == ["LockFileEx"]
    free = FakeKernel32()
    assert in_use(None, root, locker=windows_locker(free)) is False
    assert [call[0] for call in free.calls] == ["LockFileEx", "UnlockFileEx"]
    assert free.calls[0][2] == LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY


def test_windows_creates_a_missing_lock_in_place(cache, monkeypatch):
    root = cache[0]
    monkeypatch.delattr(os, "fchmod")  # as on Windows: no temporary file, uv opens with create
    with CacheLock(None, root, timeout=0, locker=windows_locker(FakeKernel32())) as lock:
        assert lock.held and lock.created
    assert os.listdir(root) == [".lock"]


def test_platform_locker_on_windows_uses_kernel32(monkeypatch):
    """On Windows (no fcntl) the locker is LockFileEx from kernel32, loaded with use_last_error, and msvcrt's handles."""
    assert "msvcrt" not in sys.modules  # imported only on Windows
    loaded = []

    def win_dll(name, use_last_error=False):
        loaded.append((name, use_last_error))
        return FakeKernel32()

    monkeypatch.setattr(uv_lock, "fcntl", None)
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(ctypes, "WinDLL", win_dll, raising=False)
    monkeypatch.setattr(ctypes, "get_last_error", lambda: 33, raising=False)
    monkeypatch.setitem(sys.modules, "msvcrt", types.SimpleNamespace(get_osfhandle=fake_osfhandle))
    locker = uv_lock.platform_locker()
    assert isinstance(locker, LockFileExLocker)
    assert loaded == [("kernel32", True)]
    assert locker.get_osfhandle is fake_osfhandle


def test_platform_locker_elsewhere_is_flock():
    assert isinstance(uv_lock.platform_locker(), uv_lock.FlockLocker)
