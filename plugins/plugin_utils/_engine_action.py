# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The action plugins of the pip cache modules: one implementation for every host.

- POSIX connection: the module runs as any Python module does (``_execute_module``).
- Windows connection (the ``powershell`` or ``cmd`` shell plugin, over WinRM, PSRP or SSH): Python
  modules cannot run there, so the arguments are validated here with the module's own argument
  spec, the engine (plugins/module_utils with its packages, as a zip) and a small launcher go to the
  host's temporary folder (both built by _engine_bundle, which the pip_cache_policy role installs from
  too), and the host's Python runs them through a PowerShell command line that the connection's shell
  plugin builds and encodes. The launcher calls the same entry point as the
  modules (_entry.run), so the result has the module's shape.

The host variable ``fleet_cache_transport: engine`` sends a POSIX host the Windows way (same
transfer and entry point, a POSIX command line): that is how the transport is tested where no
Windows host is at hand.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.plugins.shell.powershell import ShellModule as PowerShell
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.fleet.cache.plugins.module_utils import _entry as engine_entry
from ansible_collections.fleet.cache.plugins.plugin_utils._engine_bundle import ENGINE_ARCHIVE, engine_archive, engine_files, launcher_source

__all__ = ["ENGINE_ARCHIVE", "EngineAction", "engine_archive", "engine_files"]

display = Display()

COLLECTION = "fleet.cache"
LAUNCHER = "fleet_cache_launcher.py"
ARGUMENTS = "fleet_cache_args.json"
TRANSPORT_VARIABLE = "fleet_cache_transport"
TRANSPORTS = ("auto", "engine")

# Without python_interpreter or ansible_python_interpreter: the py launcher (the newest Python 3 installed,
# whatever PATH says), else python from PATH.
WINDOWS_PYTHONS = (("py", "-3"), ("python",))
POSIX_PYTHONS = (("python3",),)
NO_PYTHON_EXIT = 127
STORE_ALIAS_EXIT = 9009  # the Microsoft Store's python.exe placeholder, when no Python is installed

_PWSH_SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")
_PWSH_BARE_EXTRA = frozenset("-\\.[]/_~!%^:")  # with letters and digits: what PowerShell takes unquoted


def interpreter_command(value: str) -> list[str]:
    """A Python command from an option or a variable: ``py`` with the launcher's flags (``py -3.12``) is split;
    anything else is one executable, a path that may hold spaces."""
    text = value.strip()
    first, sep, rest = text.partition(" ")
    if sep and first.lower() in ("py", "py.exe") and rest.strip():
        return [first, *rest.split()]
    return [text]


def quote_pwsh(value: str) -> str:
    """A PowerShell argument, quoted as newer powershell shell plugins quote it (their rule, for older cores without it)."""
    if value and all(char.isalnum() or char in _PWSH_BARE_EXTRA for char in value):
        return value
    escaped = "".join(char * 2 if char in _PWSH_SINGLE_QUOTES else char for char in value)
    return f"'{escaped}'"


def pwsh_statement(shell: Any, argv: list[str]) -> str:
    """A PowerShell statement running ``argv``, quoted by the powershell shell plugin (the cmd plugin's parent)."""
    if "join" in vars(PowerShell):  # newer ansible-core: the plugin's own PowerShell quoting (2.17 to 2.19 have none)
        return str(PowerShell.join(shell, argv))
    head = quote_pwsh(argv[0])
    statement = f"& {head}" if head != argv[0] else head
    return " ".join([statement, *(quote_pwsh(arg) for arg in argv[1:])])


def encode_pwsh(shell: Any, script: str) -> str:
    """The command line that runs ``script``: powershell -EncodedCommand ..., built and quoted by the shell plugin."""
    encode = getattr(shell, "_encode_pwsh_script_as_command", None)
    if encode is not None:
        return str(encode(script))
    return str(shell._encode_script(script, strict_mode=False, preserve_rc=False))  # ansible-core 2.17 to 2.19


def windows_script(shell: Any, pythons: list[list[str]], launcher: str, arguments: str, environment: dict[str, str]) -> str:
    """The PowerShell that runs the launcher with the first Python found; rc 127 with a message when none is."""
    lines = ["try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding } catch {}"]
    for name, value in environment.items():
        lines.append(f"[Environment]::SetEnvironmentVariable({quote_pwsh_forced(str(name))}, {quote_pwsh_forced(str(value))})")
    for python in pythons:
        executable = python[0]
        if "\\" in executable or "/" in executable:
            test = f"Test-Path -LiteralPath {quote_pwsh_forced(executable)} -PathType Leaf"
        else:
            test = f"Get-Command -Name {quote_pwsh_forced(executable)} -CommandType Application -ErrorAction SilentlyContinue"
        statement = pwsh_statement(shell, [*python, "-I", launcher, arguments])
        lines.append(f"if ({test}) {{ {statement}; exit $LASTEXITCODE }}")
    tried = ", ".join(" ".join(python) for python in pythons)
    message = f"fleet.cache: no Python found on this host (tried {tried}); install Python 3.9+ or set python_interpreter"
    lines.append(f"[Console]::Error.WriteLine({quote_pwsh_forced(message)})")
    lines.append(f"exit {NO_PYTHON_EXIT}")
    return "\n".join(lines)


def quote_pwsh_forced(value: str) -> str:
    """A PowerShell string literal (always quoted), for names and values that are not arguments."""
    escaped = "".join(char * 2 if char in _PWSH_SINGLE_QUOTES else char for char in value)
    return f"'{escaped}'"


def last_json_line(stdout: str) -> Optional[str]:
    """The launcher's result: the last line of its output that is a JSON object."""
    for line in reversed(stdout.splitlines()):
        text = line.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if isinstance(data, dict):
                return text
    return None


def engine_failure(rc: int, stdout: str, stderr: str) -> dict[str, Any]:
    """A result for a run that printed none: why, in words, with what the host printed."""
    if rc == NO_PYTHON_EXIT and "no Python found" in stderr:
        msg = stderr.strip().splitlines()[-1]
    elif rc == STORE_ALIAS_EXIT:
        msg = "python on this host's PATH is the Microsoft Store's placeholder, not a Python: install Python 3.9+ or set python_interpreter"
    else:
        msg = f"the engine gave no result on this host (exit code {rc}); see module_stdout and module_stderr"
    return {"failed": True, "msg": msg, "rc": rc, "module_stdout": stdout, "module_stderr": stderr}


class EngineAction(ActionBase):
    """The action of one pip cache module; subclasses name it in MODULE."""

    MODULE = ""
    TRANSFERS_FILES = False

    def run(self, tmp: Optional[str] = None, task_vars: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        self._supports_check_mode = True
        self._supports_async = True
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        task_vars = task_vars or {}
        windows = self.windows_host()
        transport = str(self._host_var(task_vars, TRANSPORT_VARIABLE) or "auto")
        if transport not in TRANSPORTS:
            raise AnsibleActionFail(f"{TRANSPORT_VARIABLE} must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
        if not windows and transport == "auto":
            wrap_async = bool(self._task.async_val)
            result = dict(merge_hash(result, self._execute_module(module_name=f"{COLLECTION}.{self.MODULE}", task_vars=task_vars, wrap_async=wrap_async)))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        return dict(merge_hash(result, self.run_engine(task_vars, windows=windows)))

    def windows_host(self) -> bool:
        """Whether the connection's shell is a Windows one (powershell, or cmd over SSH)."""
        shell = self._connection._shell
        return bool(getattr(shell, "_IS_WINDOWS", False)) or getattr(shell, "SHELL_FAMILY", "") in ("powershell", "cmd")

    def _host_var(self, task_vars: dict[str, Any], name: str) -> Any:
        """A variable of the host the task runs on (the delegated host's with delegate_to), templated."""
        host_vars = task_vars
        if self._task.delegate_to:
            host_vars = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to) or {}
        value = host_vars.get(name)
        return self._templar.template(value) if value is not None else None

    def validated_params(self) -> dict[str, Any]:
        """The task's arguments validated with the module's own spec, as AnsibleModule would on the host.

        type=path options stay text here: ``~`` and variables are the host's, expanded there by the entry point.
        """
        spec = engine_entry.module_spec(self.MODULE)
        argument_spec = {name: dict(option, type="str") if option.get("type") == "path" else option for name, option in spec["argument_spec"].items()}
        validation, _args = self.validate_argument_spec(
            argument_spec=argument_spec,
            mutually_exclusive=spec.get("mutually_exclusive"),
            required_if=spec.get("required_if"),
        )
        return dict(validation.validated_parameters)

    def pythons(self, params: dict[str, Any], task_vars: dict[str, Any], *, windows: bool) -> list[list[str]]:
        """The Python commands to try, in order: python_interpreter, ansible_python_interpreter, then the defaults.

        On Windows an ansible_python_interpreter that is a POSIX path or ``auto*`` is a fleet-wide setting
        meant for other hosts: it is passed over.
        """
        if params.get("python_interpreter"):
            return [interpreter_command(str(params["python_interpreter"]))]
        configured = self._host_var(task_vars, "ansible_python_interpreter")
        if configured:
            text = str(configured).strip()
            if text.startswith("auto") or (windows and text.startswith("/")):
                display.vvv(f"fleet.cache: ansible_python_interpreter={text} is not a command for this host; trying the defaults")
            else:
                return [interpreter_command(text)]
        return [list(python) for python in (WINDOWS_PYTHONS if windows else POSIX_PYTHONS)]

    def engine_command(self, pythons: list[list[str]], launcher: str, arguments: str, *, windows: bool) -> str:
        """The command line that runs the launcher on the host, built by the connection's shell plugin."""
        shell = self._connection._shell
        if windows:
            environment: dict[str, Any] = {}
            self._compute_environment_string(environment)  # the shell's env prefix is empty: the script sets them
            return encode_pwsh(shell, windows_script(shell, pythons, launcher, arguments, {str(k): str(v) for k, v in environment.items()}))
        command = " ".join(shell.quote(part) for part in [*pythons[0], "-I", launcher, arguments])
        environment_string = self._compute_environment_string()
        return f"{environment_string} {command}" if environment_string else command

    def run_engine(self, task_vars: dict[str, Any], *, windows: bool) -> dict[str, Any]:
        """Send the engine and the launcher, run them with the host's Python, and return the module's result."""
        if self._task.async_val:
            raise AnsibleActionFail(f"{COLLECTION}.{self.MODULE} cannot run with async where it sends its engine (Windows hosts)")
        if windows and self._connection.become:
            raise AnsibleActionFail(
                f"{COLLECTION}.{self.MODULE} runs as the connecting user on a Windows host and cannot use become: "
                "set become: false for this task, and user: NAME or user: all to act on other accounts' caches (as an administrator)"
            )
        params = self.validated_params()
        pythons = self.pythons(params, task_vars, windows=windows)
        shell = self._connection._shell
        tmpdir = shell.tmpdir or self._make_tmp_path()
        archive = shell.join_path(tmpdir, ENGINE_ARCHIVE)
        launcher = shell.join_path(tmpdir, LAUNCHER)
        arguments = shell.join_path(tmpdir, ARGUMENTS)
        # The arguments as the task wrote them too: a list given for a path is refused there, naming the option, as the
        # module does on POSIX hosts (validation has already made ["a"] the text "['a']").
        given = {name: value for name, value in (self._task.args or {}).items() if name in params}
        request = {"module": self.MODULE, "params": params, "given": given, "check_mode": bool(self._task.check_mode), "diff": bool(self._task.diff)}
        try:
            self._transfer_data(archive, engine_archive())
            self._transfer_data(launcher, launcher_source())
            self._transfer_data(arguments, json.dumps(request, default=str))
            self._fixup_perms2([tmpdir, archive, launcher, arguments], self._get_remote_user())
            command = self.engine_command(pythons, launcher, arguments, windows=windows)
            res = self._low_level_execute_command(command, sudoable=not windows)
        finally:
            self._remove_tmp_path(tmpdir)
        return self.module_result(int(res.get("rc") or 0), res.get("stdout", ""), res.get("stderr", ""))

    def module_result(self, rc: int, stdout: str, stderr: str) -> dict[str, Any]:
        """The launcher's JSON made into a result by this ansible-core's own parsing of a module's output, as _execute_module does."""
        line = last_json_line(stdout)
        if line is None:
            return engine_failure(rc, stdout, stderr)
        res = {"rc": rc, "stdout": line, "stdout_lines": [line], "stderr": stderr, "stderr_lines": stderr.splitlines()}
        if len(inspect.signature(self._parse_returned_data).parameters) >= 2:  # ansible-core 2.19+: a serialization profile
            parsed = self._parse_returned_data(res, "legacy")
        else:
            parsed = self._parse_returned_data(res)
        if isinstance(parsed, dict):  # ansible-core < 2.21
            from ansible.vars.clean import remove_internal_keys

            remove_internal_keys(parsed)
            return dict(parsed)
        parsed.remove_internal_keys()
        return dict(parsed.as_result_dict(for_round_trip=True))
