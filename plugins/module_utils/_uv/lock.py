# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""uv's cache lock (``<root>/.lock``), taken exactly as ``uv cache clean`` and ``uv cache prune`` take it.

Since uv 0.8.19 every uv command that uses a cache holds a *shared* lock on ``<root>/.lock`` for its lifetime, and
``uv cache clean`` / ``uv cache prune`` take it *exclusively*: a non-blocking try first; when it is busy, ``--force``
goes on without the lock, else uv prints "Cache is currently in-use, waiting for other uv processes to finish" and
waits ``UV_LOCK_TIMEOUT`` seconds (0.9.16+, default 300) before it fails. The lock is BSD ``flock(2)`` (Rust's
``File::lock``, fs2 before): ``fcntl``/``lockf`` record locks do not conflict with it. On Windows it is
``LockFileEx`` over the whole file, called through ctypes.

uv creates a missing ``.lock`` as a temporary file in the root, made mode 0666 whatever the umask, then moved into
place without replacing one a racing uv created (which it opens instead). Here every step is relative to the cache
root's descriptor, never following a link: a ``.lock`` that is a link, a folder or anything but a regular file is
refused, not opened. uv 0.8.19-0.12 delete ``.lock`` after a full clean, so a process that waited may hold a lock on a
file no longer in the cache: after locking, the held file is compared with the one named ``.lock`` and the lock is
taken again when they differ. Waiting polls the non-blocking lock (no signal, no thread), so it is safe in a
process that runs threads. Standard library only.
"""

from __future__ import annotations

import errno
import importlib
import os
import secrets
import stat
import string
import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Callable, NamedTuple, Optional

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from .._core.errors import CacheError, InvalidValue

LOCK_NAME = ".lock"
LOCK_MODE = 0o666  # uv's mode for the lock file, set after creation so no umask narrows it
DEFAULT_TIMEOUT = 300  # seconds: uv's default (uv-fs locked_file.rs, ``Duration::from_mins(5)``)
TIMEOUT_VARIABLE = "UV_LOCK_TIMEOUT"
TIMEOUT_OPTION = "lock_timeout"
WAIT_MESSAGE = "Cache is currently in-use, waiting for other uv processes to finish (use `force: true` to override)"
POLL_SECONDS = 0.05  # between two non-blocking tries while waiting
MAX_ATTEMPTS = 20  # times ``.lock`` may be replaced under us before giving up
_U64_MAX = 2**64 - 1
_TEMP_ALPHABET = string.ascii_letters + string.digits
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# O_NONBLOCK: a fifo swapped in after the check never blocks the open. O_CLOEXEC/O_NOINHERIT: no program run while the
# lock is held (``uv --version``) inherits it. O_BINARY: Windows.
_COMMON_FLAGS = _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOINHERIT", 0) | getattr(os, "O_BINARY", 0)
_OPEN_FLAGS = _COMMON_FLAGS | getattr(os, "O_NONBLOCK", 0)
_CREATE_FLAGS = _COMMON_FLAGS | os.O_RDWR | os.O_CREAT | os.O_EXCL

# Windows LockFileEx (minwinbase.h, winerror.h).
LOCKFILE_FAIL_IMMEDIATELY = 0x00000001
LOCKFILE_EXCLUSIVE_LOCK = 0x00000002
ERROR_LOCK_VIOLATION = 33
ERROR_IO_PENDING = 997
WHOLE_FILE = 0xFFFFFFFF  # low and high words of the byte count: the whole file, as Rust's File::lock and fs2 lock it


class UvLockError(CacheError):
    """uv's cache lock cannot be taken: ``.lock`` cannot be opened or created, or locking failed."""


class LockFileRefused(UvLockError):
    """``.lock`` is a link, a folder or not a regular file: never opened, even with ``force``."""


class CacheRemoved(UvLockError):
    """The cache folder itself was deleted while the lock was awaited (uv 0.8.19-0.12 remove it in a full clean)."""


class LockTimedOut(UvLockError):
    """Another uv process held the cache for longer than the lock timeout."""


# --------------------------------------------------------------------------------------------------
# The timeout


class LockTimeout(NamedTuple):
    """How long to wait for the lock, where that came from, and a warning for the user (an unparsable variable)."""

    seconds: int
    source: str  # "lock_timeout", "UV_LOCK_TIMEOUT" or "default"
    warning: Optional[str] = None


def parse_uv_seconds(text: str) -> Optional[int]:
    """``text`` read as uv reads ``UV_LOCK_TIMEOUT``: Rust's ``str.parse::<u64>()`` (an optional ``+``, then ASCII digits
    only, at most 2**64-1; no ``-``, space, decimal point or unit); None when uv could not parse it."""
    digits = text[1:] if text.startswith("+") else text
    if not digits or any(char not in "0123456789" for char in digits):
        return None
    value = int(digits)
    return value if value <= _U64_MAX else None


def lock_timeout(environ: Mapping[str, str], option: Optional[int]) -> LockTimeout:
    """The seconds to wait for the lock, as uv computes them: the module's ``lock_timeout`` option when given, else
    ``UV_LOCK_TIMEOUT`` of ``environ`` (the user's environment) parsed as uv does, else 300. An unparsable variable
    gives the default, as in uv (which says so only in its debug log), with a warning naming the variable.
    0 fails at once when another uv holds the lock."""
    if option is not None:
        if isinstance(option, bool) or not isinstance(option, int) or option < 0:
            raise InvalidValue(f"{TIMEOUT_OPTION}={option!r} is not a whole number of seconds (0 or more)", option=TIMEOUT_OPTION)
        return LockTimeout(option, TIMEOUT_OPTION)
    raw = environ.get(TIMEOUT_VARIABLE)
    if raw is None:
        return LockTimeout(DEFAULT_TIMEOUT, "default")
    seconds = parse_uv_seconds(raw)
    if seconds is None:
        shown = repr(raw if len(raw) <= 40 else raw[:40] + "...")
        warning = (
            f"{TIMEOUT_VARIABLE}={shown} is not a whole number of seconds (uv reads an unsigned integer such as 60): "
            f"uv ignores it and waits {DEFAULT_TIMEOUT} seconds for the cache lock, and so does this module"
        )
        return LockTimeout(DEFAULT_TIMEOUT, "default", warning)
    return LockTimeout(seconds, TIMEOUT_VARIABLE)


# --------------------------------------------------------------------------------------------------
# Locking primitives: flock on Unix, LockFileEx on Windows


class FlockLocker:
    """BSD ``flock(2)``, the lock uv takes on Unix."""

    name = "flock"

    def try_lock(self, fd: int, *, exclusive: bool) -> bool:
        """Take the lock without waiting; False when another open file holds a conflicting one."""
        if fcntl is None:
            raise OSError("flock is not available on this platform")
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    def unlock(self, fd: int) -> None:
        if fcntl is None:
            raise OSError("flock is not available on this platform")
        fcntl.flock(fd, fcntl.LOCK_UN)


class LockFileExLocker:
    """Windows ``LockFileEx`` / ``UnlockFileEx`` over the whole file from offset 0, as Rust's ``File::lock`` calls them.

    ``kernel32`` is ``ctypes.WinDLL("kernel32", use_last_error=True)``, ``get_osfhandle`` is ``msvcrt.get_osfhandle`` and
    ``get_last_error`` is ``ctypes.get_last_error`` (parameters, so the calls can be checked on any platform)."""

    name = "LockFileEx"

    def __init__(self, kernel32: Any, get_osfhandle: Callable[[int], int], get_last_error: Callable[[], int]) -> None:
        import ctypes

        class OVERLAPPED(ctypes.Structure):  # the union of Offset/OffsetHigh with Pointer is as large as the two DWORDs
            _fields_ = [
                ("Internal", ctypes.c_size_t),
                ("InternalHigh", ctypes.c_size_t),
                ("Offset", ctypes.c_uint32),
                ("OffsetHigh", ctypes.c_uint32),
                ("hEvent", ctypes.c_void_p),
            ]

        self._ctypes = ctypes
        self._overlapped = OVERLAPPED
        self.kernel32 = kernel32
        self.get_osfhandle = get_osfhandle
        self.get_last_error = get_last_error

    def _handle(self, fd: int) -> Any:
        return self._ctypes.c_void_p(self.get_osfhandle(fd))

    def try_lock(self, fd: int, *, exclusive: bool) -> bool:
        flags = LOCKFILE_FAIL_IMMEDIATELY | (LOCKFILE_EXCLUSIVE_LOCK if exclusive else 0)
        overlapped = self._overlapped()  # zeroed: the range starts at byte 0
        if self.kernel32.LockFileEx(self._handle(fd), flags, 0, WHOLE_FILE, WHOLE_FILE, self._ctypes.byref(overlapped)):
            return True
        code = self.get_last_error()
        if code in (ERROR_LOCK_VIOLATION, ERROR_IO_PENDING):
            return False
        raise OSError(errno.EIO, f"LockFileEx failed (Windows error {code})")

    def unlock(self, fd: int) -> None:
        overlapped = self._overlapped()
        if not self.kernel32.UnlockFileEx(self._handle(fd), 0, WHOLE_FILE, WHOLE_FILE, self._ctypes.byref(overlapped)):
            raise OSError(errno.EIO, f"UnlockFileEx failed (Windows error {self.get_last_error()})")


def platform_locker() -> Any:
    """The lock uv takes here: flock on Unix, LockFileEx on Windows (ctypes and msvcrt imported only there)."""
    if fcntl is not None and hasattr(fcntl, "flock"):
        return FlockLocker()
    if sys.platform == "win32":
        import ctypes

        msvcrt = importlib.import_module("msvcrt")
        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        return LockFileExLocker(kernel32, msvcrt.get_osfhandle, ctypes.get_last_error)  # type: ignore[attr-defined]
    raise UvLockError(f"uv's cache lock cannot be taken on this platform ({sys.platform}): neither flock nor LockFileEx")


# --------------------------------------------------------------------------------------------------
# Opening .lock


class _Root:
    """The cache root: its descriptor (every call relative to it, no path looked up again), or only its path where
    there are no descriptor-relative calls (Windows)."""

    def __init__(self, fd: Optional[int], path: str) -> None:
        self.fd = fd
        self.path = path

    def _where(self, name: str) -> str:
        return name if self.fd is not None else os.path.join(self.path, name)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self._where(name), dir_fd=self.fd, follow_symlinks=False)

    def open(self, name: str, flags: int, mode: int = 0o600) -> int:
        return os.open(self._where(name), flags, mode, dir_fd=self.fd)

    def link(self, source: str, target: str) -> None:
        os.link(self._where(source), self._where(target), src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)

    def unlink(self, name: str) -> None:
        os.unlink(self._where(name), dir_fd=self.fd)

    def removed(self) -> bool:
        """Whether the root folder is gone (a descriptor of a deleted folder has no links left)."""
        try:
            return (os.fstat(self.fd).st_nlink == 0) if self.fd is not None else not os.path.isdir(self.path)
        except OSError:
            return False

    def owner(self) -> Optional[tuple[int, int]]:
        """(uid, gid) of the root folder."""
        try:
            info = os.fstat(self.fd) if self.fd is not None else os.stat(self.path)
        except OSError:
            return None
        return info.st_uid, info.st_gid


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a fifo"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _refuse_unless_regular(mode: int, path: str) -> None:
    if stat.S_ISREG(mode):
        return
    raise LockFileRefused(
        f"uv's cache lock {path} is {_kind(mode)}, not a regular file: it is neither followed nor opened, and the cache "
        "is left alone; remove it (uv creates a new one) or use another cache folder",
        path=path,
    )


def _open_existing(root: _Root, path: str, flags: int) -> Optional[int]:
    """A descriptor of the regular file ``.lock``; None when there is none."""
    try:
        before = root.lstat(LOCK_NAME)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UvLockError(f"cannot read uv's cache lock {path}: {error.strerror or error}", path=path) from None
    _refuse_unless_regular(before.st_mode, path)
    try:
        fd = root.open(LOCK_NAME, flags | _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:  # became a link since the check
            _refuse_unless_regular(stat.S_IFLNK, path)
        raise UvLockError(f"cannot open uv's cache lock {path}: {error.strerror or error}", path=path) from None
    try:
        _refuse_unless_regular(os.fstat(fd).st_mode, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _settle(fd: int, root: _Root) -> None:
    """The new lock file's mode (0666 whatever the umask, as uv sets it) and, when root creates it in another user's
    cache, that user's ownership (the file uv run by that user would have made)."""
    if hasattr(os, "fchmod"):
        os.fchmod(fd, LOCK_MODE)
    owner = root.owner()
    if owner is not None and hasattr(os, "geteuid") and os.geteuid() == 0 and owner[0] != 0:
        os.fchown(fd, owner[0], owner[1])


def _cannot_create(root: _Root, path: str, error: OSError) -> UvLockError:
    if error.errno == errno.ENOENT and root.removed():
        return CacheRemoved(
            f"the cache folder {root.path} was removed (by another uv's clean) while its lock was awaited: nothing left to lock", path=root.path
        )
    return UvLockError(f"cannot create uv's cache lock {path}: {error.strerror or error}", path=path)


def _create(root: _Root, path: str) -> Optional[int]:
    """Create ``.lock`` as uv does; a descriptor of it, or None when a racing uv created one first (open that)."""
    if not hasattr(os, "fchmod"):  # Windows: uv opens it with create, no temporary file
        try:
            return root.open(LOCK_NAME, _CREATE_FLAGS, LOCK_MODE)
        except FileExistsError:
            return None
        except OSError as error:
            raise _cannot_create(root, path, error) from None
    temp = ""
    fd = -1
    for attempt in range(100):
        del attempt
        temp = ".tmp" + "".join(secrets.choice(_TEMP_ALPHABET) for letter in range(6))  # tempfile's NamedTempFile name
        try:
            fd = root.open(temp, _CREATE_FLAGS, 0o600)
            break
        except FileExistsError:
            continue
        except OSError as error:
            raise _cannot_create(root, path, error) from None
    else:
        raise UvLockError(f"cannot create uv's cache lock {path}: no free temporary name", path=path)
    fallback = False
    try:
        _settle(fd, root)
        try:
            root.link(temp, LOCK_NAME)  # never replaces: a racing uv's .lock stays, and is opened instead
        except FileExistsError:
            os.close(fd)
            fd = -1
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOSYS, errno.EMLINK, errno.EXDEV):
                raise _cannot_create(root, path, error) from None
            fallback = True  # a file system without hard links: create in place, as uv does without renameat2
            os.close(fd)
            fd = -1
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
    finally:
        try:
            root.unlink(temp)
        except OSError:
            pass
    if not fallback:
        return fd if fd >= 0 else None
    try:
        fd = root.open(LOCK_NAME, _CREATE_FLAGS, LOCK_MODE)
    except FileExistsError:
        return None
    except OSError as error:
        raise _cannot_create(root, path, error) from None
    try:
        _settle(fd, root)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_lock(root: _Root, path: str) -> tuple[int, bool]:
    """(descriptor of ``.lock`` opened for reading and writing, whether it was created now)."""
    for attempt in range(MAX_ATTEMPTS):
        del attempt
        fd = _open_existing(root, path, os.O_RDWR)
        if fd is not None:
            return fd, False
        fd = _create(root, path)
        if fd is not None:
            return fd, True
    raise UvLockError(f"cannot open uv's cache lock {path}: it keeps appearing and disappearing", path=path)


def _same_file(fd: int, root: _Root) -> bool:
    """Whether the locked file is still the one named ``.lock`` (an old uv may have deleted and recreated it)."""
    try:
        named = root.lstat(LOCK_NAME)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


# --------------------------------------------------------------------------------------------------
# The lock


class CacheLock:
    """uv's exclusive cache lock, as ``uv cache clean`` / ``uv cache prune`` take it; a context manager.

    ``root_fd`` is the cache root opened by descriptor (``_core.cache_root.open_cache_root``); None only where there
    are no descriptor-relative calls (Windows), when ``root`` is used as a path. ``root`` names the cache in messages.
    Busy: with ``force`` the work goes on without the lock (``forced``); else ``on_wait`` hears uv's waiting line once
    and the lock is tried every POLL_SECONDS for ``timeout`` seconds, then LockTimedOut. ``force`` also goes on when
    ``.lock`` cannot be opened, created or locked (as uv does), never when it is a link, a folder or not a file
    (LockFileRefused), nor when the cache folder was deleted meanwhile (CacheRemoved: nothing is left to remove).
    ``create=False`` (a dry run, which must change nothing) locks ``.lock`` only when it exists, opened read-only; without
    one it goes on unlocked (neither ``held`` nor ``forced``: no uv holds a lock file that does not exist).
    """

    def __init__(
        self,
        root_fd: Optional[int],
        root: str,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        force: bool = False,
        on_wait: Optional[Callable[[str], None]] = None,
        locker: Any = None,
        create: bool = True,
    ) -> None:
        self.root = root
        self.create = create
        self.path = os.path.join(root, LOCK_NAME)
        self.timeout = timeout
        self.force = force
        self.on_wait = on_wait
        self.locker = locker if locker is not None else platform_locker()
        self._root = _Root(root_fd, root)
        self._fd: Optional[int] = None
        self.held = False
        self.forced = False
        self.waited = False
        self.created = False
        self.attempts = 0
        self.reason: Optional[str] = None

    # ---- acquiring

    def _try(self, fd: int) -> bool:
        try:
            return bool(self.locker.try_lock(fd, exclusive=True))
        except OSError as error:
            raise UvLockError(f"cannot lock uv's cache lock {self.path}: {error.strerror or error}", path=self.path) from None

    def _unlocked(self, reason: str) -> CacheLock:
        self.forced = True
        self.reason = reason
        return self

    def acquire(self) -> CacheLock:
        """Take the lock (or, with ``force``, go on without it when it is busy or unusable); returns self."""
        if self.held or self.forced:
            raise RuntimeError("this CacheLock was already acquired")
        deadline: Optional[float] = None
        for attempt in range(MAX_ATTEMPTS):
            del attempt
            self.attempts += 1
            try:
                if self.create:
                    fd, created = _open_lock(self._root, self.path)
                else:
                    existing = _open_existing(self._root, self.path, os.O_RDONLY)
                    if existing is None:
                        self.reason = f"{self.path} does not exist: no uv holds it, and none was created (create: false)"
                        return self
                    fd, created = existing, False
            except (LockFileRefused, CacheRemoved):
                raise
            except UvLockError as error:
                if self.force:
                    return self._unlocked(f"{error.msg}; force: true went on without uv's cache lock")
                raise
            self.created = self.created or created
            try:
                try:
                    got = self._try(fd)
                except UvLockError as error:
                    if self.force:
                        os.close(fd)
                        return self._unlocked(f"{error.msg}; force: true went on without uv's cache lock")
                    raise
                if not got and self.force:
                    os.close(fd)
                    return self._unlocked(f"another uv process is using the cache ({self.path} is locked); force: true went on without the lock")
                if not got and deadline is None:
                    self.waited = True
                    deadline = time.monotonic() + self.timeout
                    if self.on_wait is not None:
                        self.on_wait(WAIT_MESSAGE)
                while not got:
                    remaining = (deadline if deadline is not None else time.monotonic()) - time.monotonic()
                    if remaining <= 0:
                        raise LockTimedOut(
                            f"Timeout ({self.timeout}s) when waiting for lock on `{self.root}` at `{self.path}`, is another uv process "
                            f"running? Set {TIMEOUT_OPTION} or {TIMEOUT_VARIABLE} to wait longer, or force: true.",
                            path=self.path,
                        )
                    time.sleep(min(POLL_SECONDS, remaining))
                    got = self._try(fd)
                if _same_file(fd, self._root):
                    self._fd = fd
                    self.held = True
                    return self
                self.locker.unlock(fd)  # a lock on a file no longer named .lock guards nothing: take it again
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
        raise UvLockError(f"uv's cache lock {self.path} was replaced {MAX_ATTEMPTS} times while it was being taken: not locked", path=self.path)

    def release(self) -> None:
        """Unlock and close (the lock is released even if a forked child still holds the descriptor)."""
        fd, self._fd = self._fd, None
        self.held = False
        if fd is None:
            return
        try:
            self.locker.unlock(fd)
        except OSError:
            pass  # closing releases it too
        finally:
            os.close(fd)

    def __enter__(self) -> CacheLock:
        return self.acquire()

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException], traceback: Optional[TracebackType]) -> None:
        self.release()

    def as_dict(self) -> dict[str, Any]:
        """What the result says of the lock: held, or gone on without it (forced, and why), waited, created."""
        return {
            "path": self.path,
            "held": self.held,
            "forced": self.forced,
            "waited": self.waited,
            "created": self.created,
            "timeout": self.timeout,
            "reason": self.reason,
        }


def in_use(root_fd: Optional[int], root: str = "", *, locker: Any = None) -> bool:
    """Whether a uv process holds the cache lock now (every uv command using the cache holds it shared).

    Tries the exclusive lock without waiting on ``.lock`` opened read-only, and releases it at once; creates nothing.
    A missing ``.lock`` is False. A ``.lock`` that is a link, a folder or not a file raises LockFileRefused.
    """
    path = os.path.join(root, LOCK_NAME) if root else LOCK_NAME
    lock_root = _Root(root_fd, root)
    locks = locker if locker is not None else platform_locker()
    fd = _open_existing(lock_root, path, os.O_RDONLY)
    if fd is None:
        return False
    try:
        try:
            free = bool(locks.try_lock(fd, exclusive=True))
        except OSError as error:
            raise UvLockError(f"cannot test uv's cache lock {path}: {error.strerror or error}", path=path) from None
        if free:
            locks.unlock(fd)
        return not free
    finally:
        os.close(fd)
