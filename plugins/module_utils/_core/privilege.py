# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Acting for another user with that user's privileges: work run in a child process holding their uid, gid and groups.

Root runs in every user's home. Whatever it does there by path (reading a configuration file, following the
links pip follows, scanning and removing a cache, writing ``pip.conf``) is done by a forked child that first takes
the user's identity, exactly as pip run by that user would act: a link or a swapped folder then reaches only what
the user could reach anyway. The child sends back plain data (JSON) through a pipe and exits; an engine error
raised in it comes back as the same typed error; any other failure comes back as a ``CacheError`` that names the
user and the kind of failure, never a file's contents. After the identity change the kernel makes the child
non-dumpable, so the user cannot trace it. Where there is no ``fork`` (Windows) or the process is not root, the
work runs in this process: it already has no more rights than the user it runs as. Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import CacheDisabled, CacheError, ConfigError, InvalidValue, UnsafeCacheDir

_ERRORS: dict[str, type[CacheError]] = {cls.__name__: cls for cls in (CacheError, CacheDisabled, ConfigError, InvalidValue, UnsafeCacheDir)}


@dataclass(frozen=True)
class Identity:
    """Whose privileges a piece of work runs with."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


def is_root() -> bool:
    """True when this process could act as any user (POSIX root)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def switches(identity: Optional[Identity]) -> bool:
    """True when work for ``identity`` runs in a child that takes that identity (root acting for another user)."""
    return identity is not None and identity.uid != 0 and is_root() and hasattr(os, "fork") and hasattr(os, "setgroups")


def identity_of(name: str, uid: Optional[int], gid: Optional[int]) -> Optional[Identity]:
    """The identity of a local account (its groups from the group database), None where there are no uids."""
    if uid is None or gid is None:
        return None
    groups: tuple[int, ...] = (gid,)
    if hasattr(os, "getgrouplist"):
        try:
            groups = tuple(os.getgrouplist(name, gid))
        except OSError:
            pass
    return Identity(name, uid, gid, groups)


def _error_payload(error: BaseException, identity: Identity) -> dict[str, Any]:
    if isinstance(error, CacheError):
        return {"kind": type(error).__name__, "msg": error.msg, "option": error.option, "path": error.path}
    # Anything else is reported by kind only: an arbitrary exception's text may carry what a file holds.
    if isinstance(error, OSError) and error.strerror:
        reason = error.strerror
    else:
        reason = type(error).__name__
    return {"kind": "CacheError", "msg": f"the work done as {identity.name} failed: {reason}", "option": None, "path": None}


def _child(identity: Identity, work: Callable[[], Any], write_fd: int) -> None:  # pragma: no cover - runs in the child
    code = 1
    try:
        try:
            os.setgroups(list(identity.groups) or [identity.gid])
            os.setgid(identity.gid)
            os.setuid(identity.uid)
            if os.getuid() != identity.uid or os.geteuid() != identity.uid or os.getegid() != identity.gid:
                raise OSError(1, "the user's identity could not be taken")
            try:
                os.setuid(0)  # must fail now: the switch is for good
            except OSError:
                pass
            else:
                raise OSError(1, "root privileges could be taken back")
            os.chdir("/")
            payload: dict[str, Any] = {"ok": work()}
        except BaseException as error:  # every failure goes back to the parent as data
            payload = {"error": _error_payload(error, identity)}
        data = json.dumps(payload, ensure_ascii=True).encode("ascii")
        view = memoryview(data)
        while view:
            view = view[os.write(write_fd, view) :]
        code = 0
    finally:
        os._exit(code)


def run_as(identity: Optional[Identity], work: Callable[[], Any]) -> Any:
    """``work()`` with ``identity``'s privileges; its result must be JSON data (tuples come back as lists).

    Runs in this process when no switch is needed (see ``switches``). An engine error raised by ``work`` is raised
    again here with its type, option and path.
    """
    if identity is None or not switches(identity):
        return work()
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as error:
        os.close(read_fd)
        os.close(write_fd)
        raise CacheError(f"cannot start a process to act as {identity.name}: {error.strerror}") from None
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        _child(identity, work, write_fd)
    os.close(write_fd)
    chunks: list[bytes] = []
    try:
        while True:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        try:
            name = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            name = str(os.WTERMSIG(status))
        raise CacheError(f"the process acting as {identity.name} was ended by signal {name}")
    try:
        payload = json.loads(b"".join(chunks).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise CacheError(f"the process acting as {identity.name} ended without a result") from None
    if not isinstance(payload, dict):
        raise CacheError(f"the process acting as {identity.name} ended without a result")
    if "error" in payload:
        found = payload["error"]
        cls = _ERRORS.get(str(found.get("kind")), CacheError)
        raise cls(str(found.get("msg")), option=found.get("option"), path=found.get("path"))
    return payload.get("ok")
