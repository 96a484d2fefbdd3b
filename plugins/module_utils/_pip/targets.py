# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The users a run acts for and the pip context (host, configuration, cache) each one sees.

What the pip cache modules share: one option builder, the users a run acts for, and the host
context each user's pip would see.
"""

from __future__ import annotations

import functools
import json
import ntpath
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .._core.errors import CacheError, InvalidValue
from .._core.privilege import Identity, identity_of, is_root, run_as, switches
from .host import HostContext
from .resolve import Resolution, resolve

try:
    import pwd
except ImportError:  # Windows
    pwd = None  # type: ignore[assignment]

COMMAND_CHOICES = ["cache", "install", "download", "wheel"]


def common_argument_spec() -> dict[str, Any]:
    """Options every pip cache module takes, so module_defaults can set them once."""
    return {
        # Not type=path: Ansible would expand ~ and $VARS on the host for the user the module runs as (root's home for
        # every user); expand_for expands them for each user the run acts for, as that user's shell would.
        "cache_dir": {"type": "str"},
        "user": {"type": "str"},
        "python": {"type": "path"},
        "environment": {"type": "dict", "default": {}},
        "command": {"type": "str", "default": "cache", "choices": COMMAND_CHOICES},
        "python_interpreter": {"type": "str"},
    }


def host_platform() -> str:
    if sys.platform.startswith("win"):
        return "win32"
    if sys.platform == "darwin":
        return "darwin"
    return "linux"


@dataclass
class Account:
    """A local user whose pip cache a run acts on."""

    name: str
    uid: Optional[int]
    gid: Optional[int]
    home: str
    current: bool
    folders: Optional[dict[str, str]] = field(default=None, compare=False)  # Windows: another account's known folders

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.name, "uid": self.uid, "home": self.home}


def _login_uid_min() -> int:
    try:
        with open("/etc/login.defs", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "UID_MIN" and parts[1].isdigit():
                    return int(parts[1])
    except OSError:
        pass
    return 500 if sys.platform == "darwin" else 1000


def _account(entry: Any, current_uid: int) -> Account:
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir, entry.pw_uid == current_uid)


def accounts(user: Optional[str]) -> list[Account]:
    """The accounts ``user`` names: the current user, one name, or ``all`` (root and every login user with a home)."""
    if pwd is None:
        return windows_accounts(user, environ=os.environ)
    current_uid = os.geteuid()
    if user is None:
        try:
            return [_account(pwd.getpwuid(current_uid), current_uid)]
        except KeyError:
            return [Account(str(current_uid), current_uid, os.getegid(), os.path.expanduser("~"), True)]
    if user == "all":
        uid_min = _login_uid_min()
        found: list[Account] = []
        seen: set[str] = set()
        for entry in sorted(pwd.getpwall(), key=lambda item: item.pw_uid):
            if entry.pw_name in seen:
                continue
            if entry.pw_uid == 0 or (entry.pw_uid >= uid_min and entry.pw_uid != 65534 and os.path.isdir(entry.pw_dir) and entry.pw_dir != "/"):
                seen.add(entry.pw_name)
                found.append(_account(entry, current_uid))
        if not any(account.current for account in found):  # a service account not root: its own cache is one of all
            found.extend(accounts(None))
        return found
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise InvalidValue(f"no local user named {user!r} on this host", option="user") from None
    return [_account(entry, current_uid)]


def windows_accounts(
    user: Optional[str],
    *,
    environ: Mapping[str, str],
    registry: Any = None,
    isdir: Callable[[str], bool] = os.path.isdir,
    common_appdata: Optional[str] = None,
) -> list[Account]:
    """The accounts ``user`` names on Windows: the current user, or others from the registry's profile list.

    ``all`` is every profile whose folder exists (SYSTEM, local, domain and Entra ID users); another account's
    folders come from its registry hive when it is loaded, else from its profile's default layout.
    """
    from .._core.windows import find_profile, known_folder, profile_folders, profiles

    home = environ.get("USERPROFILE") or os.path.expanduser("~")
    name = environ.get("USERNAME") or ntpath.basename(home)
    current = Account(name, None, None, home, True)
    if user is None or user.casefold() == name.casefold():
        return [current]
    try:
        listed = profiles(registry=registry)
    except OSError as error:
        raise InvalidValue(f"cannot read the profile list from the registry: {error}", option="user") from None
    shared = common_appdata if common_appdata is not None else known_folder("COMMON_APPDATA")

    def other(profile: Any) -> Account:
        return Account(profile.name, None, None, profile.path, False, profile_folders(profile, common_appdata=shared, registry=registry))

    if user != "all":
        found = find_profile(user, listed)
        if found is None or not isdir(found.path):
            raise InvalidValue(f"no user profile named {user!r} on this host (names are profile folder names)", option="user")
        return [other(found)]
    result: list[Account] = []
    for profile in listed:
        if ntpath.normcase(profile.path) == ntpath.normcase(home):
            result.append(current)
        elif isdir(profile.path):
            result.append(other(profile))
    if current not in result:
        result.insert(0, current)
    return result


def homes() -> list[str]:
    """Home folders a removal refuses to treat as a cache: every account's, and this process's."""
    found: list[str] = []
    if pwd is not None:
        found.extend(entry.pw_dir for entry in pwd.getpwall() if entry.pw_dir not in ("/", ""))
    elif sys.platform.startswith("win"):
        from .._core.windows import profiles

        try:
            found.extend(profile.path for profile in profiles())
        except OSError:
            pass
    found.extend(os.environ.get(name, "") for name in ("HOME", "USERPROFILE"))
    return [path for path in found if path]


def check_interpreter(python: str) -> str:
    """The program ``python`` names (a path, or a name looked up in PATH), refused with a message naming the option
    when it is no executable file: running it would only say that a command could not be executed."""
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    found = python if any(mark in python for mark in separators) else shutil.which(python)
    if not found or not os.path.exists(found):
        raise InvalidValue(f"no interpreter at {python}", option="python", path=python)
    if not os.path.isfile(found):
        raise InvalidValue(f"{python} is not a file, so not an interpreter", option="python", path=python)
    if not os.access(found, os.X_OK):
        raise InvalidValue(f"{python} is not executable, so not an interpreter", option="python", path=python)
    return found


def run_program(args: list[str]) -> tuple[int, str, str]:
    """Run a program without a shell and wait for it: (exit code, output, errors); 127 and the reason when it cannot start."""
    try:
        # The same on every host, with or without Ansible: the engine runs where no AnsibleModule does (Windows, the job).
        proc = subprocess.run(  # pylint: disable=ansible-bad-function
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", check=False
        )
    except OSError as error:
        return 127, "", str(error)
    return proc.returncode, proc.stdout, proc.stderr


def interpreter_prefixes(python: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(sys.prefix, sys.base_prefix) of the interpreter whose pip is asked about."""
    if not python:
        return sys.prefix, getattr(sys, "base_prefix", sys.prefix)
    check_interpreter(python)
    script = "import json, sys; print(json.dumps([sys.prefix, getattr(sys, 'base_prefix', sys.prefix)]))"
    rc, out, err = run_program([python, "-c", script])
    if rc != 0:
        raise InvalidValue(f"cannot run {python}: {err.strip() or out.strip() or f'exit code {rc}'}", option="python", path=python)
    try:
        prefix, base = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise InvalidValue(f"{python} did not answer like a Python interpreter", option="python", path=python) from None
    return str(prefix), str(base)


def context_for(account: Account, *, environment: dict[str, str], prefixes: tuple[Optional[str], Optional[str]]) -> HostContext:
    """What that user's pip would see. Another user's shell variables are unknown: only ``environment`` is added."""
    platform = host_platform()
    if account.current:
        environ = dict(os.environ)
        environ.update(environment)
        cwd = os.getcwd() if os.path.isdir(os.getcwd()) else account.home
    elif platform == "win32":
        environ = {"USERPROFILE": account.home, "USERNAME": account.name}
        environ.update({name: value for name, value in os.environ.items() if name.upper() in ("SYSTEMDRIVE", "SYSTEMROOT", "PATH", "PATHEXT")})
        environ.update(environment)
        cwd = account.home
    else:
        environ = {"HOME": account.home, "USER": account.name, "LOGNAME": account.name, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        environ.update(environment)
        cwd = account.home
    gids: tuple[int, ...] = ()
    if account.uid is not None and account.gid is not None and hasattr(os, "getgrouplist"):
        try:
            gids = tuple(os.getgrouplist(account.name, account.gid))
        except OSError:
            gids = (account.gid,)
    folders: dict[str, str] = {}
    if platform == "win32":
        from .._core.windows import known_folders

        folders = dict(account.folders) if account.folders is not None else known_folders()
    return HostContext(
        platform=platform,
        environ=environ,
        home=account.home,
        uid=account.uid,
        gids=gids,
        sys_prefix=prefixes[0],
        base_prefix=prefixes[1],
        cwd=cwd,
        windows_folders=folders,
        live=True,
    )


_POSIX_VARIABLE_RE = re.compile(r"\$(\w+|\{[^}]*\})", re.ASCII)
_WINDOWS_VARIABLE_RE = re.compile(r"\$(\w+|\{[^}]*\})|%(\w+)%", re.ASCII)


def expand_for(context: HostContext, value: str) -> str:
    """A path option as the user ``context`` stands for would write it in a shell: ``$NAME`` and ``${NAME}`` (and
    ``%NAME%`` on Windows) from that user's environment, then ``~`` as that user's home (``~name`` as that account's);
    a variable that is not set is left as it is, as os.path.expandvars leaves it."""

    def variable(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        name = name[1:-1] if name.startswith("{") else name
        found = context.getenv(name)
        return match.group(0) if found is None else found

    pattern = _WINDOWS_VARIABLE_RE if context.platform == "win32" else _POSIX_VARIABLE_RE
    expanded = pattern.sub(variable, value) if ("$" in value or "%" in value) else value
    if context.platform != "win32" and expanded.startswith("~") and not expanded.startswith("~/") and expanded != "~" and pwd is not None:
        name, sep, rest = expanded[1:].partition("/")
        try:
            return pwd.getpwnam(name).pw_dir.rstrip("/") + sep + rest
        except KeyError:
            return expanded
    return context.expanduser(expanded)


def needs_root(account: Account) -> Optional[str]:
    """Why this process cannot act for ``account`` (None when it can): another POSIX user's configuration and cache
    are read with that user's own privileges, which only root can take. Reading them as this user instead would
    report what this user may see (pip's ownership check failing, files missing) as if it were that user's cache."""
    if pwd is None or account.current or account.uid is None or is_root() or account.uid == os.geteuid():
        return None
    try:
        me = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        me = str(os.geteuid())
    return f"needs root: {account.name}'s pip configuration and cache are read with that user's privileges, which only root takes (this run is {me})"


@dataclass
class Target:
    """One account and the cache its pip uses; ``failure`` says why it could not be resolved (``user: all`` only)."""

    account: Account
    context: HostContext
    resolution: Optional[Resolution]
    other_commands: dict[str, Resolution]
    failure: Optional[str] = None

    @property
    def identity(self) -> Optional[Identity]:
        """Whose privileges act on this account's files: None for the account this process runs as."""
        if self.account.current:
            return None
        return identity_of(self.account.name, self.account.uid, self.account.gid)


def failure_text(error: CacheError) -> str:
    """An engine error as one line for a user's entry."""
    return str(error)


def _resolve_as_user(target_context: HostContext, *, command: str, cache_dir: Optional[str], others: list[str]) -> dict[str, Any]:
    """Resolve one user's cache (and the other commands') as plain data: what runs in the process acting as them."""
    resolution = resolve(target_context, command=command, cache_dir=cache_dir)
    return {"resolution": resolution.to_data(), "others": {name: resolve(target_context, command=name).to_data() for name in others}}


def targets(params: Mapping[str, Any], *, resolve_commands: bool = True) -> list[Target]:
    """Resolve the cache of every account ``params`` asks for (user, cache_dir, python, environment, command);
    ``cache_dir`` acts as pip's --cache-dir for all.

    Each account's configuration is read with that account's privileges (see _core/privilege.py). With ``user: all``
    an account whose configuration pip would reject gets a Target with ``failure`` set, and the others go on; for a
    single account the error is raised.
    """
    prefixes = interpreter_prefixes(params.get("python"))
    result: list[Target] = []
    environment = {str(key): str(value) for key, value in (params.get("environment") or {}).items()}
    command = params.get("command") or "cache"
    cache_dir = params.get("cache_dir")
    others = [other for other in ("cache", "install") if other != command] if resolve_commands and cache_dir is None else []
    every = params.get("user") == "all"
    for account in accounts(params.get("user")):
        context = context_for(account, environment=environment, prefixes=prefixes)
        target = Target(account, context, None, {})
        refusal = needs_root(account)
        if refusal is not None:
            if not every:
                raise InvalidValue(refusal, option="user")
            target.failure = refusal  # this user's entry says so; the caches this process may read are reported
            result.append(target)
            continue
        # ~ and variables in cache_dir are this user's, as in their shell (see expand_for)
        directory = expand_for(context, cache_dir) if cache_dir else cache_dir
        try:
            data = run_as(target.identity, functools.partial(_resolve_as_user, context, command=command, cache_dir=directory, others=others))
        except CacheError as error:
            if not every:
                raise
            target.failure = failure_text(error)
            result.append(target)
            continue
        target.resolution = Resolution.from_data(data["resolution"])
        target.other_commands = {name: Resolution.from_data(value) for name, value in data["others"].items()}
        result.append(target)
    return result


def root_only_path(path: str) -> bool:
    """True when ``path`` (or, if it does not exist yet, its nearest existing folder) is owned by root, and every
    folder above it is owned by root and writable by no one else (or sticky): no other user can swap it, or anything
    on the way to it, for a link. (What is inside a shared cache, which may be writable by all, is walked by descriptor.)"""
    if not hasattr(os, "geteuid"):
        return False
    current = os.path.abspath(path)
    while True:
        try:
            info = os.lstat(current)
            break
        except FileNotFoundError:
            parent = os.path.dirname(current)
            if parent == current:
                return False
            current = parent
        except OSError:
            return False
    deepest = True
    while True:
        # Above the cache, a folder others may write is safe only when sticky (/tmp): there nobody but root can
        # rename or remove the root-owned entry below it.
        shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX
        if stat.S_ISLNK(info.st_mode) or info.st_uid != 0 or (not deepest and shared):
            return False
        deepest = False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent
        try:
            info = os.lstat(current)
        except OSError:
            return False


def acting_identity(target: Target, directory: str) -> Optional[Identity]:
    """Whose privileges scan and remove ``directory`` for ``target``: the user's own, except for a cache that only
    root can reach (a shared folder set in /etc/pip.conf), which root handles itself, by descriptor."""
    identity = target.identity
    if identity is None or identity.uid == 0 or not switches(identity):
        return None
    if root_only_path(directory):
        return None
    return identity
