# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The pip_config task: set or remove one key of pip's configuration, per scope and user.

``manage`` takes the module's validated parameters (a plain dict), a callback for each warning, and check_mode and
diff; it returns the module's result and raises a CacheError (naming its option) for a failure. Standard library only.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import stat
import time
from typing import Any, Callable, Optional

from .._core.errors import CacheError, ConfigError, InvalidValue
from .._core.privilege import Identity, identity_of, run_as
from .._pip.config_edit import BOOLEAN_KEYS, Edit, atomic_write, check_value, remove_key, set_value, split_name
from .._pip.config_read import CONFIG_MAX_BYTES, LoadedConfig, config_files, default_reader, load_config, strtobool
from .._pip.host import HostContext
from .._pip.resolve import resolve
from .._pip.targets import accounts, common_argument_spec, context_for, interpreter_prefixes, needs_root


def _read(path: str, *, option: Optional[str] = None) -> Optional[str]:
    """A configuration file's text exactly as stored (line endings kept); None when it does not exist.

    Only a regular file is read (a FIFO or device is refused without blocking), at most CONFIG_MAX_BYTES.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CacheError(f"cannot read this configuration file: {error.strerror or type(error).__name__}", option=option, path=path) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CacheError("cannot read this configuration file: not a regular file", option=option, path=path)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(CONFIG_MAX_BYTES + 1)
        if len(data) > CONFIG_MAX_BYTES:
            raise CacheError(f"cannot read this configuration file: larger than {CONFIG_MAX_BYTES} bytes", option=option, path=path)
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CacheError("cannot read this configuration file: it is not UTF-8 text", option=option, path=path) from None
    except OSError as error:
        raise CacheError(f"cannot read this configuration file: {error.strerror or type(error).__name__}", option=option, path=path) from None
    finally:
        os.close(fd)


_URL_CREDENTIALS = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/\s@]+@")


def mask_credentials(text: str) -> str:
    """The text with the user and password of every URL (an index URL's token) masked, for the diff a task shows."""
    return _URL_CREDENTIALS.sub(r"\1********@", text)


def _scope_files(context: HostContext, scope: str) -> list[str]:
    if scope == "site":
        if not context.sys_prefix:
            raise InvalidValue("scope=site needs venv or python", option="venv")
        return [context.path.join(context.sys_prefix, context.config_basename)]
    # Ask for the files as if PIP_CONFIG_FILE were unset: the scope's own files.
    plain = dict(context.environ)
    plain.pop("PIP_CONFIG_FILE", None)
    view = HostContext(
        platform=context.platform,
        environ=plain,
        home=context.home,
        uid=context.uid,
        gids=context.gids,
        sys_prefix=context.sys_prefix,
        base_prefix=context.base_prefix,
        cwd=context.cwd,
        windows_folders=context.windows_folders,
        live=context.live,
    )
    return [item.path for item in config_files(view) if item.variant == scope]


def _effective(config: LoadedConfig, section: str, key: str) -> tuple[Optional[str], Optional[str]]:
    """What `pip config get section.key` prints (files only, the last file wins), and from which file."""
    value: Optional[str] = None
    origin: Optional[str] = None
    for source, values in config.values:
        if source != "environment" and f"{section}.{key}" in values:
            value, origin = values[f"{section}.{key}"], source
    return value, origin


def _planned_exists(planned: dict[str, str]) -> Callable[[str], bool]:
    def exists(name: str) -> bool:
        return name in planned or os.path.exists(name)

    return exists


def _planned_reader(planned: dict[str, str]) -> Callable[[str], Optional[str]]:
    def reader(name: str) -> Optional[str]:
        return planned[name] if name in planned else default_reader(name)

    return reader


def _make_folders(directory: str, owner: Optional[tuple[Any, Any]]) -> None:
    """Create ``directory`` and its missing parents; each folder created for a user's file is that user's."""
    missing: list[str] = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for folder in reversed(missing):
        os.mkdir(folder, 0o755)
        if owner is not None:
            os.chown(folder, owner[0], owner[1])


def backup_name(path: str, *, pid: int, now: float, windows: bool) -> str:
    """Where a backup of ``path`` goes, named as AnsibleModule.backup_local names it; on Windows without ':', which
    would name an alternate data stream."""
    stamp = time.strftime("%Y-%m-%d@%H-%M-%S~" if windows else "%Y-%m-%d@%H:%M:%S~", time.localtime(now))
    return f"{path}.{pid}.{stamp}"


def _backup(path: str, *, own: bool) -> str:
    """A dated copy of ``path`` beside it, with its modes and times. A user's own file (``own``, copied with that
    user's privileges) is copied as it is, a link as a link; this process's file as AnsibleModule.backup_local copies
    it: its content, and, by root, with the owner of the file it names."""
    made = backup_name(path, pid=os.getpid(), now=time.time(), windows=os.name == "nt")
    if own:
        shutil.copy2(path, made, follow_symlinks=False)
        return made
    shutil.copy2(path, made)
    if hasattr(os, "chown"):
        source, copy = os.stat(path), os.stat(made)
        if (source.st_uid, source.st_gid) != (copy.st_uid, copy.st_gid):
            try:
                os.chown(made, source.st_uid, source.st_gid)
            except PermissionError:
                pass  # not root: the copy stays this process's
    return made


def _write_file(path: str, text: str, *, existed: bool, backup: bool, option: str, own: bool) -> Optional[str]:
    """Write one configuration file (by a temporary file in its folder, then a rename); the backup's path if one was
    made. Runs with the privileges of the file's user (see manage): the folders and the file it creates are theirs.
    A file system that refuses (read-only, full, no such folder) is a failure naming the file and the cause, and the
    file as it was stays in place."""
    made: Optional[str] = None
    try:
        if not existed:
            _make_folders(os.path.dirname(path), None)
        elif backup:
            made = _backup(path, own=own)
        atomic_write(path, text)
    except OSError as error:
        reason = error.strerror or str(error)
        where = f" ({error.filename})" if error.filename and error.filename != path else ""
        raise CacheError(f"cannot write the configuration file {path}: {reason}{where}; it is unchanged", option=option, path=path) from None
    return made


def _variable(context: HostContext, key: str) -> Optional[str]:
    """The PIP_* variable that sets this key for every command, when there is one with a value."""
    name = "PIP_" + key.upper().replace("-", "_")
    return name if context.getenv(name) else None


def manage(params: dict[str, Any], warn: Callable[[str], None], *, check_mode: bool = False, diff: bool = False) -> dict[str, Any]:
    """The pip_config module: ``params`` as its argument spec validated them (``module_spec``)."""
    section, key = split_name(params["name"])
    state = params["state"]
    value = params["value"]
    if state == "present":
        if value is None:
            raise InvalidValue("state=present needs a value", option="value")
        if key in BOOLEAN_KEYS:
            check_value(key, value)
            if key == "no-cache-dir" and not strtobool(value):
                warn("pip reads any boolean in no-cache-dir as 'disable the cache'; value=false removes the key instead")
                state = "absent"
            else:
                value = "true" if strtobool(value) else "false"
        else:
            check_value(key, value)
    prefixes = (params["venv"], params["venv"]) if params["venv"] else interpreter_prefixes(params.get("python"))
    environment = {str(k): str(v) for k, v in (params.get("environment") or {}).items()}
    scope = params["scope"]
    option = "path" if params["path"] else "scope"
    targets = accounts(params.get("user")) if scope == "user" else accounts(None)
    changed_files: list[str] = []
    backups: list[str] = []
    diffs: list[dict[str, str]] = []
    users: list[dict[str, Any]] = []
    seen: set[str] = set()
    failed: list[str] = []
    writes: list[tuple[Optional[Identity], str, str, bool]] = []  # written once every user's plan passed pip's own checks
    for account in targets:
        refusal = needs_root(account)
        if refusal is not None:
            if params.get("user") != "all":
                raise InvalidValue(refusal, option="user")
            warn(f"{account.name}: {refusal}; this user's configuration is left alone, the others go on")
            users.append({"user": account.name, "failed": True, "error": refusal, "file": None})
            failed.append(account.name)
            continue
        context = context_for(account, environment=environment, prefixes=prefixes)
        # A user's files are read and written with that user's privileges: a link they made reaches only what they can.
        identity = None if account.current else identity_of(account.name, account.uid, account.gid)
        try:
            planned = run_as(
                identity, functools.partial(_plan, context, account.name, params=params, section=section, key=key, state=state, value=value, scope=scope)
            )
        except CacheError as error:
            if params.get("user") != "all":
                raise
            # One user's unreadable or hostile configuration is that user's entry; the others' files are written.
            warn(f"{account.name}: {error}; this user's configuration is left alone, the others go on")
            users.append({"user": account.name, "failed": True, "error": str(error), "file": None})
            failed.append(account.name)
            continue
        for warning in planned["warnings"]:
            warn(warning)
        for path, text, before, existed in planned["edits"]:
            if path in seen:
                continue
            seen.add(path)
            changed_files.append(path)
            diffs.append({"before_header": path, "after_header": path, "before": mask_credentials(before), "after": mask_credentials(text)})
            writes.append((identity, path, text, existed))
        users.append(planned["user"])
    if not check_mode:
        for identity, path, text, existed in writes:
            backup = bool(params["backup"]) and existed
            write = functools.partial(_write_file, path, text, existed=existed, backup=backup, option=option, own=identity is not None)
            made = run_as(identity, write)
            if made:
                backups.append(made)
    result: dict[str, Any] = {"changed": bool(changed_files), "files": changed_files, "users": users, "file": users[0]["file"] if users else None}
    if failed:
        result["failed_users"] = failed
        if len(failed) == len(users):
            raise CacheError(f"no user's configuration could be read: {users[0]['error']}", option="user", details={"users": users, "failed_users": failed})
    if len(users) == 1:
        result.update({name: users[0][name] for name in ("value", "origin", "cache_dir", "disabled")})
    if backups:
        result["backup_files"] = backups
    if diff:
        result["diff"] = diffs
    return result


def _edit(path: str, edit: Callable[[], Edit]) -> Edit:
    """One file's edit; a file pip cannot parse is named by its path (the parser only sees its text)."""
    try:
        return edit()
    except ConfigError as error:
        raise ConfigError(error.msg, option=error.option, path=path) from None


def _plan(context: HostContext, user: str, *, params: dict[str, Any], section: str, key: str, state: str, value: Optional[str], scope: str) -> dict[str, Any]:
    """One user's edits and what pip reads once they are made, as plain data (what the process acting as them sends)."""
    warnings: list[str] = []
    candidates = [params["path"]] if params["path"] else _scope_files(context, scope)
    texts = {path: _read(path, option="path" if params["path"] else None) for path in candidates}
    if state == "present":
        chosen = candidates[-1]
        if params["prefer"] == "existing":
            chosen = next((path for path in reversed(candidates) if texts[path] is not None), candidates[-1])
        plan = {chosen: _edit(chosen, functools.partial(set_value, texts[chosen] or "", section, key, value or ""))}
    else:
        chosen = candidates[-1]
        plan = {path: _edit(path, functools.partial(remove_key, text, section, key)) for path, text in texts.items() if text is not None}
    edits = [[path, edit.text, texts.get(path) or "", texts.get(path) is not None] for path, edit in plan.items() if edit.changed]
    # What pip reads once the plan is on disk (in check mode too): planned texts stand in for the files.
    planned = {path: edit.text for path, edit in plan.items()}
    view = dataclasses.replace(context, exists=_planned_exists(planned))
    config = load_config(view, reader=_planned_reader(planned))
    effective, origin = _effective(config, section, key)
    resolution = resolve(view, config=config)
    wrote = state == "present" and value is not None
    if wrote and (effective != value or (origin not in (chosen, None))):
        if origin is None and chosen not in [item.path for item in config.files]:
            read = ", ".join(item.path for item in config.files) or "none"
            warnings.append(f"{user}: pip does not read {chosen}: the files it reads for this user are {read}")
        else:
            warnings.append(f"{user}: pip reads {params['name']} = {effective!r} from {origin}, which has more weight than {chosen}")
    if state == "absent" and effective is not None:
        warnings.append(f"{user}: {params['name']} is still set to {effective!r} by {origin}, outside the files of this scope")
    variable = _variable(context, key)
    if variable:
        warnings.append(f"{user}: the environment variable {variable} overrides {key} in every configuration file")
    return {
        "edits": edits,
        "warnings": warnings,
        "user": {"user": user, "file": chosen, "value": effective, "origin": origin, "cache_dir": resolution.cache_dir, "disabled": resolution.disabled},
    }


def module_spec() -> dict[str, Any]:
    """AnsibleModule's keyword arguments for pip_config: the options every module takes, its own, and their constraints."""
    argument_spec = common_argument_spec()
    argument_spec.update(
        name={"type": "str", "required": True},
        value={"type": "str"},
        state={"type": "str", "default": "present", "choices": ["present", "absent"]},
        scope={"type": "str", "default": "user", "choices": ["global", "user", "site"]},
        prefer={"type": "str", "default": "weight", "choices": ["weight", "existing"]},
        path={"type": "path"},
        venv={"type": "path"},
        backup={"type": "bool", "default": False},
    )
    constraints: dict[str, Any] = {"required_if": [("state", "present", ("value",))]}
    return dict(argument_spec=argument_spec, **constraints)


TASK = manage
"""The entry point's call: (params, warn, *, check_mode, diff) -> the module's result."""
