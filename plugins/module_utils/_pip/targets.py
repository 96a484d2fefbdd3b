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
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from .._core.accounts import Account, accounts, homes, host_fields, host_platform, identity_for, needs_root, root_only_path, run_program, windows_accounts
from .._core.accounts import acting_identity as identity_acting
from .._core.errors import CacheError, InvalidValue
from .._core.host import expand_for
from .._core.privilege import Identity, run_as
from .host import HostContext
from .resolve import Resolution, resolve

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
    return HostContext(sys_prefix=prefixes[0], base_prefix=prefixes[1], **host_fields(account, environment=environment, platform=host_platform()))


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
        return identity_for(self.account)


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


def acting_identity(target: Target, directory: str) -> Optional[Identity]:
    """Whose privileges scan and remove ``directory`` for ``target``: the user's own, except for a cache that only
    root can reach (a shared folder set in /etc/pip.conf), which root handles itself, by descriptor."""
    return identity_acting(target.identity, directory)


__all__ = [
    "Account",
    "Target",
    "accounts",
    "acting_identity",
    "common_argument_spec",
    "context_for",
    "homes",
    "host_platform",
    "needs_root",
    "root_only_path",
    "run_program",
    "targets",
    "windows_accounts",
]
