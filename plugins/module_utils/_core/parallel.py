# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Helper processes for shares of a scan or a removal, each failure redone by the caller.

A scan or a removal is bound by system calls, which Python threads serialise behind the interpreter lock (two
threads measured slower than one), while a forked process runs them on another CPU. A helper runs one function,
sends plain values (``marshal``: numbers, strings, tuples, lists, dicts) back through a pipe and exits; it never
returns into the caller's code. A read-only helper sends one result (``start``, ``finish``): whatever goes wrong
in it (an exception, a signal, a result that cannot be read) comes back as ``None``, and the caller does that share
itself. A helper that changes the disk sends one record per unit of work as it finishes it (``start_stream``,
``records``): the caller takes the records that came and redoes the units that have none.
Standard library only; on systems without ``os.fork`` (Windows) there are no helpers.
"""

from __future__ import annotations

import functools
import marshal
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Callable, Optional

MAX_HELPERS = 3
"""At most this many helper processes, however many CPUs the host has: the disk and the kernel's caches are shared."""


@dataclass
class Helper:
    """A started helper: its process id and the pipe its result comes through."""

    pid: int
    fd: int


@dataclass
class Outcome:
    """What a finished helper sent: its result (None when it failed) and its peak memory (KiB, when known)."""

    result: Any
    peak_kib: Optional[int]


def available_helpers(limit: int = MAX_HELPERS) -> int:
    """How many helpers this process may start: one per CPU it may run on beyond its own, 0 where it cannot fork.

    No helpers either when the process runs threads: a child forked from a threaded process inherits locks other
    threads may hold.
    """
    if not hasattr(os, "fork") or limit <= 0:
        return 0
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    except OSError:
        cpus = os.cpu_count() or 1
    return max(0, min(limit, cpus - 1))


def _peak_kib() -> Optional[int]:
    try:
        import resource  # POSIX only, as os.fork is
    except ImportError:  # pragma: no cover - every system with os.fork has it
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak // 1024) if sys.platform == "darwin" else int(peak)  # macOS counts bytes, Linux KiB


def _fork_with_pipe() -> Optional[tuple[int, int, int]]:
    """A pipe, then a fork: (pid, read end, write end), pid 0 in the child; None when either cannot be made."""
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    return pid, read_fd, write_fd


def start(work: Callable[[], Any]) -> Optional[Helper]:
    """Fork a helper that runs ``work()`` and sends back its result; None when no process could be started."""
    forked = _fork_with_pipe()
    if forked is None:
        return None
    pid, read_fd, write_fd = forked
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = 1
        try:
            os.close(read_fd)
            payload = marshal.dumps((work(), _peak_kib()))
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view) :]
            code = 0
        except BaseException:  # nothing in a helper may reach the caller's code; the caller redoes its share
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    return Helper(pid, read_fd)


def finish(helper: Helper) -> Outcome:
    """Wait for a helper: what it sent, or an outcome whose result is None when it failed in any way."""
    chunks: list[bytes] = []
    complete = True
    try:
        while True:
            chunk = os.read(helper.fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        complete = False
    finally:
        os.close(helper.fd)
    try:
        _pid, status = os.waitpid(helper.pid, 0)
        exited_well = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    except ChildProcessError:  # SIGCHLD ignored: the child was reaped for us; its result decides
        exited_well = True
    if not (complete and exited_well and chunks):
        return Outcome(None, None)
    try:
        result, peak = marshal.loads(b"".join(chunks))
    except (EOFError, ValueError, TypeError):
        return Outcome(None, None)
    return Outcome(result, peak if isinstance(peak, int) else None)


def stop(helper: Helper) -> None:
    """End a helper whose result is no longer wanted, and reap it."""
    try:
        os.kill(helper.pid, signal.SIGKILL)
    except OSError:  # it has already exited
        pass
    finish(helper)


# Helpers that send as they go -----------------------------------------------------------------------
# A helper whose work changes the disk (a removal) sends one record per finished unit of work, at once: when it
# fails part-way, the caller takes the records that came and redoes only the units that have none.


@dataclass
class Stream:
    """A started helper that sends records as it goes: its process id, its pipe, and the bytes read so far."""

    pid: int
    fd: int
    data: bytearray


def start_stream(work: Callable[[Callable[[Any], None]], None]) -> Optional[Stream]:
    """Fork a helper that runs ``work(send)``; each ``send(value)`` writes one record (plain values) at once.
    None when no process could be started."""
    forked = _fork_with_pipe()
    if forked is None:
        return None
    pid, read_fd, write_fd = forked
    if pid == 0:  # pragma: no cover - runs in the child, which coverage does not follow
        code = 1
        try:
            os.close(read_fd)
            work(functools.partial(_send, write_fd))
            code = 0
        except BaseException:  # nothing in a helper may reach the caller's code; the caller redoes what has no record
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    return Stream(pid, read_fd, bytearray())


def _send(fd: int, value: Any) -> None:  # pragma: no cover - runs in the child
    payload = marshal.dumps(value)
    view = memoryview(len(payload).to_bytes(4, "big") + payload)
    while view:
        view = view[os.write(fd, view) :]


def drain(stream: Stream) -> None:
    """Read what the helper sent so far, without waiting (its pipe never fills while the caller works)."""
    while True:
        try:
            chunk = os.read(stream.fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # read again, and for good, by ``records``
        if not chunk:
            return
        stream.data += chunk


def records(stream: Stream) -> list[Any]:
    """Wait for the helper to end, then every whole record it sent, in order. A record cut short or that cannot
    be read ends the list: what came after it is not taken."""
    os.set_blocking(stream.fd, True)
    try:
        while True:
            chunk = os.read(stream.fd, 1 << 20)
            if not chunk:
                break
            stream.data += chunk
    except OSError:
        pass
    finally:
        os.close(stream.fd)
    try:
        os.waitpid(stream.pid, 0)
    except ChildProcessError:  # SIGCHLD ignored: the child was reaped for us
        pass
    found: list[Any] = []
    data, offset = bytes(stream.data), 0
    while offset + 4 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        end = offset + 4 + size
        if end > len(data):
            break
        try:
            found.append(marshal.loads(data[offset + 4 : end]))
        except (EOFError, ValueError, TypeError):
            break
        offset = end
    return found


def stop_stream(stream: Stream) -> None:
    """End a helper whose records are no longer wanted, and reap it."""
    try:
        os.kill(stream.pid, signal.SIGKILL)
    except OSError:  # it has already exited
        pass
    records(stream)
