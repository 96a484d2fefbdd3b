# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The engine's one entry point: run a module's task with its parameters and return the module's result.

``run(module_name, params, check_mode, diff, warn=...)`` checks the parameters, calls the module's task (in
``_tasks``, which takes the parameters, a warning callback, check_mode and diff) and returns its result as a dict,
a typed error (``_core.errors``) turned into the module's failure:

- the Python modules (POSIX hosts) call it with their AnsibleModule's params and warn, which validated ``params``,
  and end with ``finish``;
- on Windows hosts the action plugins validate ``params`` on the controller with the same
  argument specs (``module_spec``), send these files with a small launcher, and the host's Python
  calls ``main`` with a JSON file; the warnings are then part of the result.

Standard library only, relative imports only: the same files run inside the collection and as a
package of their own beside the launcher.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback
from types import ModuleType
from typing import Any, Callable, Optional

from ._core.errors import CacheError, InvalidValue

MODULES = ("pip_cache_info", "pip_cache", "pip_config", "uv_cache_info", "uv_cache")

Task = Callable[..., dict[str, Any]]  # (params, warn, *, check_mode, diff) -> the module's result


def task_module(module_name: str) -> ModuleType:
    """The module's file in ``_tasks`` (its task as ``TASK``, and ``module_spec``), imported by name when first used: a
    module imports (and Ansible ships with it) only its own task's files, which its file in plugins/modules names."""
    if module_name not in MODULES:
        raise ValueError(f"unknown module {module_name!r}; one of {', '.join(MODULES)}")
    return importlib.import_module(f"._tasks.{module_name}", __package__)


def task_of(module_name: str) -> Task:
    task: Task = task_module(module_name).TASK
    return task


def module_spec(module_name: str) -> dict[str, Any]:
    """AnsibleModule's keyword arguments for a module: argument_spec and the constraints between options (each task
    owns its module's)."""
    spec: dict[str, Any] = task_module(module_name).module_spec()
    return spec


def failure(error: CacheError) -> dict[str, Any]:
    """An engine error as the module's failure: one message naming the option, the path and the cause, and the
    error's details (every user's entry when none could be handled)."""
    result: dict[str, Any] = {"failed": True, "msg": str(error)}
    if error.option:
        result["option"] = error.option
    if error.path:
        result["failed_path"] = error.path  # not "path": AnsibleModule would add that file's attributes
    result.update(error.details)
    return result


def _nul_in(value: Any) -> Optional[str]:
    """Where a NUL character hides in an option's value ("" for the value itself), None when nowhere."""
    if isinstance(value, str):
        return "" if "\x00" in value else None
    if isinstance(value, (list, tuple)):
        for number, element in enumerate(value):
            if _nul_in(element) is not None:
                return f" (item {number + 1})"
    if isinstance(value, dict):
        for key, element in value.items():
            if _nul_in(key) is not None or _nul_in(element) is not None:
                return f" (in {str(key)!r})"
    return None


def check_given(module_name: str, given: Any) -> None:
    """Refuse a list or a mapping given for an option that takes one text (a path, a name, a value), naming the option:
    Ansible's type=str turns ``["a"]`` into the text ``['a']``, which would then be used as a path. ``given`` holds the
    task's arguments as it wrote them (before AnsibleModule converted them); None when they are not known."""
    if not isinstance(given, dict):
        return
    spec = module_spec(module_name)["argument_spec"]
    for name in sorted(given):
        option = spec.get(name)
        value = given[name]
        if option is not None and option.get("type", "str") in ("str", "path") and isinstance(value, (list, tuple, dict)):
            wanted = "a path" if option.get("type") == "path" or name == "cache_dir" else "one text"
            raise InvalidValue(f"expected {wanted}, got a {'mapping' if isinstance(value, dict) else 'list'}", option=name)


def _escape_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, bytes):
        return value.replace(b"\x00", b"\\x00")
    return value


def module_class(base: Any) -> Any:
    """``base`` (AnsibleModule) writing a NUL character to syslog or the journal as ``\\x00``: both refuse the
    character, and AnsibleModule, which logs each invocation before the module runs, would end the run with its own
    "Failed to log to syslog (embedded null character)" where ``run`` refuses the value naming its option."""

    class CacheModule(base):
        def log(self, msg: Any, log_args: Optional[dict[str, Any]] = None) -> None:
            escaped = None if log_args is None else {key: _escape_nul(value) for key, value in log_args.items()}
            super().log(_escape_nul(msg), escaped)

    return CacheModule


def check_params(params: dict[str, Any]) -> None:
    """Refuse values no path, user name, variable or interpreter can hold, naming the option: a NUL character
    would otherwise reach the operating system (lstat, getpwnam, open) and end the run with an exception."""
    for name in sorted(params):
        where = _nul_in(params[name])
        if where is not None:
            raise InvalidValue(f"the value must not contain a NUL character{where}", option=name)


def printable(value: Any) -> Any:
    """``value`` with every text valid UTF-8, so that Ansible accepts the result: a file name that is not UTF-8 reaches
    the engine with surrogates for its odd bytes (surrogateescape); in results each such byte is written ``\\xNN``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            pass
        try:
            raw = value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate that no byte stands for
            raw = value.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {printable(key): printable(element) for key, element in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(element) for element in value]
    return value


def run(
    module_name: str,
    params: dict[str, Any],
    check_mode: bool = False,
    diff: bool = False,
    *,
    warn: Optional[Callable[[str], None]] = None,
    given: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """Run one module's task and return its result (``failed`` and ``msg`` on failure).

    Each warning goes to ``warn`` (the AnsibleModule's); without it, the warnings are the result's ``warnings``.
    ``given`` is the task's arguments as written, before AnsibleModule converted them (see ``check_given``). Every
    text of the result and of the warnings is valid UTF-8 (see ``printable``).
    """
    task = task_of(module_name)
    warnings: list[str] = []
    say = warnings.append if warn is None else warn

    def warning(text: str) -> None:
        say(printable(str(text)))

    try:
        check_given(module_name, given)
        check_params(params)
        result = task(params, warning, check_mode=check_mode, diff=diff)
    except CacheError as error:
        result = failure(error)
    if warnings:
        result["warnings"] = warnings
    return dict(printable(result))


def finish(module: Any, result: dict[str, Any]) -> None:
    """End a Python module with ``run``'s result: exit_json, or fail_json for a failure."""
    for warning in result.pop("warnings", []):
        module.warn(warning)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


def module_main(task: ModuleType, ansible_module: Any, load_params: Callable[[], Any]) -> None:
    """A Python module's main(): ``ansible_module`` (AnsibleModule) built from the spec of ``task`` (the module's file
    in ``_tasks``, which the module imports so that Ansible ships it), the task run with its validated params and
    module.warn, and the module ended by ``finish``. ``load_params`` (Ansible's ``_load_params``) gives the arguments
    as the task wrote them, before AnsibleModule converts them."""
    module_name = task.__name__.rpartition(".")[2]  # run() imports the same file again by this name
    given = load_params()
    module = module_class(ansible_module)(**module_spec(module_name), supports_check_mode=True)
    finish(module, run(module_name, module.params, module.check_mode, module._diff, warn=module.warn, given=given))


def _expand_paths(params: dict[str, Any], module_name: str) -> dict[str, Any]:
    """What AnsibleModule does to type=path options on the host: ~ and variables expanded there, not on the controller."""
    spec = module_spec(module_name)["argument_spec"]
    expanded = dict(params)
    for name, option in spec.items():
        if option.get("type") == "path" and isinstance(expanded.get(name), str):
            expanded[name] = os.path.expanduser(os.path.expandvars(expanded[name]))
    return expanded


def main(argv: Optional[list[str]] = None) -> int:
    """The launcher's entry: ``ARGS_JSON`` names a file holding module, params (validated), given (the task's arguments as
    written), check_mode and diff; prints the result as JSON."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if len(args) != 1:
            raise ValueError("usage: launcher ARGS_JSON")
        with open(args[0], encoding="utf-8") as handle:
            request = json.load(handle)
        module_name = request["module"]
        if module_name not in MODULES:
            raise ValueError(f"unknown module {module_name!r}")
        params = _expand_paths(request["params"], module_name)
        result = run(module_name, params, bool(request.get("check_mode")), bool(request.get("diff")), given=request.get("given"))
    except Exception as error:  # the controller gets a result, never a bare traceback
        result = {"failed": True, "msg": f"the engine failed on this host: {type(error).__name__}: {error}", "exception": traceback.format_exc()}
    # ASCII JSON on one line: whatever the console's code page, the controller reads it back.
    sys.stdout.write(json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 1 if result.get("failed") else 0
