# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The users a uv module acts for, the cache each one's uv uses, and which uv that is.

Which uv decides the cache's layout (each uv version reads its own bucket versions, ``layout.py``): the O(uv_version)
option; else the uv the user runs (O(uv), else ``uv`` on the user's PATH or where uv's installers put it), asked for
its version with the user's own privileges; else the newest uv this engine knows. Standard library only.
"""

from __future__ import annotations

import functools
import os
import signal
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .._core.accounts import Account, accounts, host_fields, host_platform, identity_for, needs_root
from .._core.errors import CacheError, InvalidValue
from .._core.host import expand_for
from .._core.privilege import Identity, run_as
from .host import UvHost
from .layout import NEWEST_KNOWN, parse_uv_version, version_option
from .resolve import UvResolution, resolve

VERSION_TIMEOUT = 15  # seconds for ``uv --version``: a uv that does not answer by then is not asked again


def uv_argument_spec() -> dict[str, Any]:
    """Options every uv cache module takes, so module_defaults can set them once (group/fleet.cache.uv)."""
    return {
        # Not type=path: ~ and $VARS are expanded for each user the run acts for (as for pip's modules).
        "cache_dir": {"type": "str"},
        "user": {"type": "str"},
        "environment": {"type": "dict", "default": {}},
        "project": {"type": "str"},
        "uv": {"type": "str"},
        "uv_version": {"type": "str"},
        "python_interpreter": {"type": "str"},
    }


@dataclass
class UvProgram:
    """The uv whose layout counts for one user: where it is (None when none was found or asked), its version, and why."""

    path: Optional[str]
    version: tuple[int, ...]
    source: str  # "uv_version option", "uv option", "found", "newest known"
    warning: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "version": ".".join(str(part) for part in self.version), "source": self.source}

    def to_data(self) -> dict[str, Any]:
        return {"path": self.path, "version": list(self.version), "source": self.source, "warning": self.warning}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> UvProgram:
        return cls(data["path"], tuple(int(part) for part in data["version"]), data["source"], data.get("warning"))


@dataclass
class UvTarget:
    """One account, what its uv sees, the cache it uses and its uv; ``failure`` says why it could not be resolved."""

    account: Account
    host: UvHost
    resolution: Optional[UvResolution]
    program: Optional[UvProgram]
    failure: Optional[str] = None

    @property
    def identity(self) -> Optional[Identity]:
        return identity_for(self.account)


def candidates(host: UvHost, uv: Optional[str]) -> list[str]:
    """Where this user's uv may be, in the order it is looked for: O(uv) as given (a path, or a name on PATH), else
    ``uv`` on the user's PATH, then where uv's installers put it (``$XDG_BIN_HOME``, ``~/.local/bin``, ``~/.cargo/bin``)."""
    path = host.path
    windows = host.platform == "win32"
    name = uv or ("uv.exe" if windows else "uv")
    separators = ("\\", "/") if windows else ("/",)
    if any(mark in name for mark in separators):
        # A path: a relative one from the folder uv's user works in (the home), as their shell would take it.
        return [name if path.isabs(name) else str(path.join(host.cwd, name))]
    found = [path.join(folder, name) for folder in (host.getenv("PATH") or "").split(";" if windows else ":") if folder and path.isabs(folder)]
    if uv is None:
        home = host.getenv("USERPROFILE" if windows else "HOME") or host.home or ""
        bin_home = host.getenv("XDG_BIN_HOME") or ""
        if bin_home and path.isabs(bin_home):
            found.append(path.join(bin_home, name))
        if home and path.isabs(home):
            found.extend(path.join(home, folder, "bin", name) for folder in (".local", ".cargo"))
    return found


def not_runnable(candidate: str) -> Optional[str]:
    """Why ``candidate`` cannot be run as uv by this process's user (None when it can): missing, a folder, not a
    file, not executable."""
    try:
        info = os.stat(candidate)
    except OSError as error:
        return f"no uv at {candidate}" if isinstance(error, FileNotFoundError) else f"cannot reach {candidate}: {error.strerror or error}"
    if stat.S_ISDIR(info.st_mode):
        return f"{candidate} is a folder, not the uv program"
    if not stat.S_ISREG(info.st_mode):
        return f"{candidate} is not a regular file, not the uv program"
    if not os.access(candidate, os.X_OK):
        return f"{candidate} is not executable by this user"
    return None


def runnable(candidate: str) -> bool:
    return not_runnable(candidate) is None


def _stop(proc: subprocess.Popen[str]) -> None:
    """End a program that did not answer, and whatever it started in its session (a wrapper script's children)."""
    killpg = getattr(os, "killpg", None)
    try:
        if killpg is not None:
            killpg(proc.pid, getattr(signal, "SIGKILL", 9))
        else:
            proc.kill()
    except OSError:
        pass
    proc.wait()


def ask_version(program: str, environ: Mapping[str, str]) -> tuple[Optional[tuple[int, ...]], Optional[str]]:
    """``uv --version`` of ``program``: (version, None) or (None, why not). Runs with the caller's privileges; a program
    that does not answer within VERSION_TIMEOUT is stopped, with what it started."""
    try:
        # The engine runs where no AnsibleModule does (Windows, the scheduled job): plain subprocess, no shell. Its own
        # session (POSIX), so that a wrapper that hangs is stopped with its children.
        proc = subprocess.Popen(  # pylint: disable=ansible-bad-function
            [program, "--version"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=dict(environ),
            start_new_session=True,
        )
    except OSError as error:
        return None, f"cannot run {program}: {error.strerror or error}"
    try:
        stdout, _stderr = proc.communicate(timeout=VERSION_TIMEOUT)
    except subprocess.TimeoutExpired:
        _stop(proc)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return None, f"{program} --version did not answer in {VERSION_TIMEOUT} s"
    if proc.returncode != 0:
        return None, f"{program} --version exited with {proc.returncode}"
    version = parse_uv_version(stdout)
    if version is None:
        return None, f"{program} --version did not answer like uv"
    return version, None


def find_program(host: UvHost, uv: Optional[str]) -> dict[str, Any]:
    """The uv this user runs and its version, as plain data (``UvProgram.to_data``); what runs as that user."""
    found = candidates(host, uv)
    for candidate in found:
        if not runnable(candidate):
            continue
        version, why = ask_version(candidate, host.environ)
        if version is not None:
            return UvProgram(candidate, version, "uv option" if uv else "found").to_data()
        if uv:
            raise InvalidValue(why or f"{uv} is not uv", option="uv", path=candidate)
        return UvProgram(None, NEWEST_KNOWN, "newest known", f"{why}; the layout of the newest uv known here ({version_text(NEWEST_KNOWN)}) counts").to_data()
    if uv:
        if "/" in uv or "\\" in uv:
            raise InvalidValue(not_runnable(found[0]) or f"no uv at {found[0]}", option="uv", path=found[0])
        raise InvalidValue(f"no {uv} on the PATH of this user", option="uv", path=uv)
    return UvProgram(None, NEWEST_KNOWN, "newest known").to_data()


def version_text(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def resolve_as_user(
    host: UvHost, *, cache_dir: Optional[str], project: Optional[str], uv: Optional[str], uv_version: Optional[tuple[int, ...]]
) -> dict[str, Any]:
    """Resolve one user's uv cache and find their uv, as plain data: what runs in the process acting as them."""
    if uv_version is not None:
        program = UvProgram(None, uv_version, "uv_version option").to_data()
    else:
        program = find_program(host, uv)
    version = tuple(program["version"])
    resolution = resolve(host, cache_dir=cache_dir, project=project, in_cwd=False, version=version)
    return {"resolution": resolution.to_data(), "program": program}


def targets(params: Mapping[str, Any]) -> list[UvTarget]:
    """Resolve the uv cache of every account ``params`` asks for. With ``user: all`` an account that cannot be resolved
    gets a target with ``failure`` set and the others go on; for one account the error is raised."""
    for name in ("cache_dir", "uv", "uv_version", "project"):
        if params.get(name) == "":  # an empty value is no value for uv (`--cache-dir ''` is refused): omitted is meant
            raise InvalidValue("is empty: omit the option or give a value", option=name)
    uv_version = tuple(version_option(params["uv_version"])) if params.get("uv_version") else None
    environment = {str(key): str(value) for key, value in (params.get("environment") or {}).items()}
    every = params.get("user") == "all"
    platform = host_platform()
    result: list[UvTarget] = []
    for account in accounts(params.get("user")):
        fields = host_fields(account, environment=environment, platform=platform)
        fields["cwd"] = account.home  # uv's working folder: the project's when one is given (resolve), else the home
        host = UvHost(**fields)
        target = UvTarget(account, host, None, None)
        refusal = needs_root(account, "uv")
        if refusal is not None:
            if not every:
                raise InvalidValue(refusal, option="user")
            target.failure = refusal
            result.append(target)
            continue
        cache_dir = expand_for(host, params["cache_dir"]) if params.get("cache_dir") else None
        project = expand_for(host, params["project"]) if params.get("project") else None
        uv = expand_for(host, params["uv"]) if params.get("uv") else None
        work = functools.partial(resolve_as_user, host, cache_dir=cache_dir, project=project, uv=uv, uv_version=uv_version)
        try:
            data = run_as(target.identity, work)
        except CacheError as error:
            if not every:
                raise
            target.failure = str(error)
            result.append(target)
            continue
        target.resolution = UvResolution.from_data(data["resolution"])
        target.program = UvProgram.from_data(data["program"])
        result.append(target)
    return result
