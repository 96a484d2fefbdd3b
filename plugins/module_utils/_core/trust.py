# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""Whether root may run the scheduled job's code, and whether the installed engine is the role's.

The job that the pip_cache_policy role schedules runs as root. It may run only an interpreter and engine files
that belong to root (or to the account the job runs as, when that is not root) and that nobody else can write, on
a path whose every folder from ``/`` is the same: then only root can change what the job runs, and nothing checked
here can be swapped after the check. A sticky folder owned by root (``/tmp``) counts as root's: others may add
entries there, but only root can rename or remove the root-owned entry the path goes through. A link is followed
only after its own folder was found trusted, and its target is checked the same way (a venv's ``python`` is a
link to the base interpreter: both count).

The engine is one archive beside the launcher (``fleet_cache_engine.zip``, imported by zipimport); the launcher
records its SHA-256 when the role installs it, and the job runs only that archive: one edited, swapped or replaced
by a link is refused like one that others can write.

Self-contained, standard library only, nothing imported from the engine: the role's launcher carries this file's
code and runs ``job_problems`` before it imports the engine beside it, and the role runs ``role_check`` on the
host (``python -I -S -B -``, this file on standard input) before it installs the engine or writes the job.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import stat
import sys
from typing import Any, Callable, Optional

ENGINE_PACKAGE = "fleet_cache_engine"
ENGINE_ARCHIVE = ENGINE_PACKAGE + ".zip"
FILE_MODE = 0o644
FOLDER_MODE = 0o755
_MAX_LINKS = 40


class UntrustedPath(Exception):
    """A path on the way to what the job runs that someone other than root could change (``path`` and why)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path} {reason}")
        self.path = path
        self.reason = reason


def job_owners() -> frozenset[int]:
    """Whose files the job may run: root's, and its own account's (the same when the job runs as root)."""
    return frozenset({0, os.geteuid()})


def _account(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _faults(info: os.stat_result, owners: frozenset[int]) -> list[str]:
    """Why an entry is not trusted (empty: it is): its owner, or a group or other write bit (not on a sticky folder)."""
    faults = []
    if info.st_uid not in owners:
        allowed = " or ".join(["root", *(_account(uid) for uid in sorted(owners) if uid != 0)])
        faults.append(f"is owned by {_account(info.st_uid)}, not by {allowed}")
    if stat.S_ISLNK(info.st_mode):
        return faults  # a link's own mode means nothing: its folder and its target are what count
    if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_ISVTX:
        # Sticky (/tmp): whoever may write here can add entries, but not rename or remove another owner's, and the
        # next component of the path must itself be root's.
        return faults
    writers = [who for who, bit in (("its group", stat.S_IWGRP), ("others", stat.S_IWOTH)) if info.st_mode & bit]
    if writers:
        faults.append("is writable by " + " and ".join(writers))
    return faults


def _lstat(path: str) -> os.stat_result:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        raise UntrustedPath(path, "does not exist") from None
    except OSError as error:
        raise UntrustedPath(path, f"cannot be examined ({error.strerror or error})") from None


def _check(path: str, info: os.stat_result, owners: frozenset[int]) -> None:
    faults = _faults(info, owners)
    if faults:
        raise UntrustedPath(path, ", and ".join(faults))


def _walk(path: str, owners: frozenset[int], links: list[int]) -> str:
    """Resolve ``path`` one component at a time from ``/``, checking each one (links: their target too)."""
    current = "/"
    _check(current, _lstat(current), owners)
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            current = os.path.dirname(current)  # already checked on the way down
            continue
        candidate = os.path.join(current, name)
        info = _lstat(candidate)
        _check(candidate, info, owners)
        if stat.S_ISLNK(info.st_mode):
            links[0] += 1
            if links[0] > _MAX_LINKS:
                raise UntrustedPath(candidate, "leads through too many symbolic links")
            try:
                target = os.readlink(candidate)
            except OSError as error:
                raise UntrustedPath(candidate, f"cannot be read ({error.strerror or error})") from None
            current = _walk(os.path.join(current, target), owners, links)
        else:
            current = candidate
    return current


def resolve_trusted(path: str, *, owners: Optional[frozenset[int]] = None) -> str:
    """The real path of ``path``, once ``/``, every folder below it, every link on the way and each link's target
    were found to belong to ``owners`` (default ``job_owners()``) with no group or other write bit (but on a sticky
    folder, where only root can rename root's entries). Raises ``UntrustedPath`` naming the first that is not."""
    if not path or not path.startswith("/"):
        raise UntrustedPath(path or "''", "is not an absolute path")
    return _walk(path, job_owners() if owners is None else owners, [0])


def check_file(path: str, *, owners: Optional[frozenset[int]] = None) -> str:
    """``resolve_trusted`` for a regular file (what it resolves to); raises ``UntrustedPath``."""
    real = resolve_trusted(path, owners=owners)
    if not stat.S_ISREG(os.lstat(real).st_mode):
        raise UntrustedPath(real if real == path else f"{real} (where {path} leads)", "is not a regular file")
    return real


def check_interpreter(path: str, *, owners: Optional[frozenset[int]] = None) -> str:
    """``check_file`` for a Python interpreter, and the ``pyvenv.cfg`` it reads at start-up (which names the
    standard library a venv's interpreter loads) when there is one beside it or one folder up."""
    real = check_file(path, owners=owners)
    folder = os.path.dirname(path)
    for candidate in (os.path.join(folder, "pyvenv.cfg"), os.path.join(os.path.dirname(folder), "pyvenv.cfg")):
        if os.path.lexists(candidate):
            check_file(candidate, owners=owners)
    return real


def check_archive(path: str, digest: str, *, owners: Optional[frozenset[int]] = None) -> None:
    """``check_file`` for the engine's archive, which must also be no link, in a folder that is no link, and hold the
    content whose SHA-256 is ``digest`` (read through a descriptor that follows no link)."""
    owners = job_owners() if owners is None else owners
    for entry in (os.path.dirname(path), path):
        if stat.S_ISLNK(_lstat(entry).st_mode):
            raise UntrustedPath(entry, "is a symbolic link (the role installs the engine's folder and archive themselves)")
    check_file(path, owners=owners)
    found = _sha256(path)
    if found != digest:
        raise UntrustedPath(path, f"is not the engine the role installed (SHA-256 {found or 'unreadable'}, the launcher expects {digest})")


def check_tree_top(folder: str, *, owners: Optional[frozenset[int]] = None) -> None:
    """``resolve_trusted`` for a folder (its content is not listed: the standard library is too big for that)."""
    real = resolve_trusted(folder, owners=owners)
    if not stat.S_ISDIR(os.lstat(real).st_mode):
        raise UntrustedPath(real, "is not a folder")


def _problem(label: str, path: str, error: UntrustedPath) -> str:
    if error.path == path:
        return f"{label} {error}"
    return f"{label} {path}: {error}"


def job_problems(
    launcher: str, *, digest: str, python: Optional[str] = None, stdlib: Optional[str] = None, owners: Optional[frozenset[int]] = None
) -> list[str]:
    """Why the job must not run (empty: it may): the interpreter that runs it (default ``sys.executable``), the
    standard library it loaded (default: where ``hashlib`` came from), the launcher, and the engine's archive beside
    the launcher, whose SHA-256 must be ``digest``."""
    owners = job_owners() if owners is None else owners
    problems: list[str] = []
    archive = os.path.join(os.path.dirname(launcher), ENGINE_ARCHIVE)
    checks: tuple[tuple[str, str, Callable[..., Any]], ...] = (
        ("the interpreter", sys.executable if python is None else python, check_interpreter),
        ("the standard library", os.path.dirname(hashlib.__file__ or "") if stdlib is None else stdlib, check_tree_top),
        ("the launcher", launcher, check_file),
        ("the engine", archive, functools.partial(check_archive, digest=digest)),
    )
    for label, path, check in checks:
        try:
            check(path, owners=owners)
        except UntrustedPath as error:
            problems.append(_problem(label, path, error))
    return problems


def _sha256(path: str) -> Optional[str]:
    """The SHA-256 of a regular file, opened without following a link or blocking on a FIFO swapped in."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def engine_plan(engine_dir: str, expected: dict[str, str], *, owner: int = 0) -> dict[str, Any]:
    """What makes ``engine_dir`` hold exactly ``expected`` (a relative path -> its SHA-256), each file ``owner``'s
    (root's) with mode 0644 and each folder with mode 0755. Returns ``remove`` (anything else in those folders, and
    entries of the wrong kind), ``folders`` (to create or fix, parents first, ``.`` for ``engine_dir`` itself),
    ``write`` (files missing or differing in content, owner or mode), ``present`` (the files that are right) and
    ``problems`` (``engine_dir`` itself is no folder). No link is followed: a link is an entry to remove."""
    folders = {os.path.dirname(relative) for relative in expected} - {""}
    plan: dict[str, Any] = {"remove": [], "folders": [], "write": [], "present": [], "problems": []}
    try:
        top = os.lstat(engine_dir)
    except FileNotFoundError:
        top = None
    if top is not None and not stat.S_ISDIR(top.st_mode):
        plan["problems"].append(f"the engine's folder {engine_dir} is not a folder (a file or a symbolic link)")
        return plan
    fix = {"."} if top is None or top.st_uid != owner or stat.S_IMODE(top.st_mode) != FOLDER_MODE else set()
    found: set[str] = set()
    pending = [""] if top is not None else []
    while pending:
        relative_folder = pending.pop(0)
        for name in sorted(os.listdir(os.path.join(engine_dir, relative_folder))):
            relative = os.path.join(relative_folder, name) if relative_folder else name
            path = os.path.join(engine_dir, relative)
            info = os.lstat(path)
            if relative in folders and stat.S_ISDIR(info.st_mode):
                found.add(relative)
                pending.append(relative)
                if info.st_uid != owner or stat.S_IMODE(info.st_mode) != FOLDER_MODE:
                    fix.add(relative)
            elif relative in expected and stat.S_ISREG(info.st_mode):
                right = info.st_uid == owner and stat.S_IMODE(info.st_mode) == FILE_MODE and _sha256(path) == expected[relative]
                plan["present" if right else "write"].append(relative)
            else:
                plan["remove"].append(relative)
    fix |= folders - found
    plan["folders"] = sorted(fix, key=lambda relative: (relative != ".", relative.count("/"), relative))
    plan["write"] += sorted(set(expected) - set(plan["present"]) - set(plan["write"]))
    return plan


def _nearest_existing(path: str) -> str:
    while not os.path.lexists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


def role_check(argv: list[str]) -> int:
    """For the role, on the host, before it installs the engine or writes the job (``argv[0]``: JSON with
    ``python``, ``python_variable``, ``engine_dir`` and ``expected``). Prints JSON: ``problems`` (each naming the
    variable or folder, the path and why) and the engine's ``engine_plan``."""
    request = json.loads(argv[0])
    python, variable, engine_dir = request["python"], request["python_variable"], request["engine_dir"]
    problems: list[str] = []
    try:
        check_interpreter(python)
    except UntrustedPath as error:
        problems.append(
            f"{variable}: the scheduled job would run {python} as root, but {error}; give an interpreter that only root can"
            " change (owned by root, with no group or other write bit on it or on any folder above it)"
        )
    where = _nearest_existing(os.path.dirname(engine_dir.rstrip("/")) or "/")
    try:
        resolve_trusted(where)
    except UntrustedPath as error:
        problems.append(f"the engine's folder {engine_dir}: {error}, so someone other than root could change the engine")
    plan: dict[str, Any] = {"remove": [], "folders": [], "write": [], "present": [], "problems": []}
    if not problems:
        try:
            plan = engine_plan(engine_dir, request["expected"])
        except OSError as error:
            problems.append(f"the engine's folder {engine_dir}: cannot be read ({error.strerror or error})")
    sys.stdout.write(json.dumps(dict(plan, problems=problems + plan["problems"]), sort_keys=True) + "\n")
    return 0
