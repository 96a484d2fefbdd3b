# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action plugins with real connection and shell plugins, and a Windows host that answers in place of one.

``FakeWindowsHost`` stands behind a real winrm, psrp or ssh connection plugin whose shell is the real
``powershell`` or ``cmd`` plugin: files put to ``C:\\...`` land in a folder here, and the commands
(-EncodedCommand PowerShell, as the shell plugin built them) are decoded and carried out: a temporary
folder made or removed, and the engine's script read statement by statement, its arguments unquoted
by PowerShell's rules, and the Python it names run here with the files that were sent.
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.plugins import loader as plugin_loader
from ansible.plugins.loader import action_loader, connection_loader, shell_loader
from ansible.template import Templar

from ansible_collections.fleet.cache.tests.unit.plugins.conftest import patch_module_args

# One reader of PowerShell's quoting and of the engine script for the unit tests and the oracle's stand-in Windows host.
from ansible_collections.fleet.cache.tests.unit.plugins.windows_fakes.fake_connection import pwsh_tokens, script_steps

WINDOWS_TEMP = "C:\\Users\\O'Brien Smith\\AppData\\Local\\Temp"
# (connection, shell): every way Ansible reaches a Windows host.
WINDOWS_CONNECTIONS = [("winrm", "cmd"), ("psrp", "powershell"), ("ssh", "powershell"), ("ssh", "cmd")]


def decode_command(cmd):
    """The PowerShell script inside ``powershell ... -EncodedCommand B64`` (quoted for cmd.exe or not)."""
    parts = shlex.split(cmd.replace("^", ""))
    assert parts[0].lower() in ("powershell", "pwsh"), cmd
    assert "-EncodedCommand" in parts, cmd
    return base64.b64decode(parts[parts.index("-EncodedCommand") + 1]).decode("utf-16-le")


@dataclass
class FakeWindowsHost:
    """Answers a Windows connection's put_file and exec_command from a folder standing for C:\\."""

    root: str
    commands: dict = field(default_factory=dict)  # command name or path -> the local interpreter that stands for it
    environ: dict = field(default_factory=dict)
    scripts: list = field(default_factory=list)  # every decoded script, in order
    python_runs: list = field(default_factory=list)  # (argv as PowerShell passed it, environment set by the script)
    store_alias: bool = False  # python on PATH is the Microsoft Store placeholder (exit 9009)

    def local(self, path):
        drive, rest = path[0], path[3:]
        assert path[1:3] == ":\\", path
        return os.path.join(self.root, drive, *[part for part in rest.split("\\") if part and part != "."])

    def put_file(self, in_path, out_path):
        target = self.local(out_path)
        assert os.path.isdir(os.path.dirname(target)), f"put_file into a folder that does not exist: {out_path}"
        shutil.copyfile(in_path, target)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        script = decode_command(cmd)
        self.scripts.append(script)
        payload = (in_data or b"").decode("utf-8", "replace")
        if "powershell_mkdtemp.ps1" in payload or "New-Item -Type Directory" in script:  # pipelined or not
            made = re.search(r'"Name": "(ansible-tmp-[^"]+)"', payload) or re.search(r"-Name '?(ansible-tmp-[^'\s]+)", script)
            path = WINDOWS_TEMP + "\\" + made.group(1)
            os.makedirs(self.local(path))
            return 0, (path + "\r\n").encode(), b""
        removal = re.search(r"^Remove-Item (.*?) -Force -Recurse;?$", script, re.MULTILINE)
        if removal:
            shutil.rmtree(self.local(pwsh_tokens(removal.group(1))[0].rstrip(".\\")))
            return 0, b"", b""
        return self.run_engine_script(script)

    def run_engine_script(self, script):
        env = {}
        for kind, first, second in script_steps(script):
            if kind == "set":
                env[first] = second
            elif kind == "try":
                assert first[0] == "Get-Command" or first[:2] == ["Test-Path", "-LiteralPath"], first
                if first[2] in self.commands:
                    return self.run_python(second, env)
            else:
                return 127, b"", (first + "\r\n").encode()
        raise AssertionError(f"the script ran nothing:\n{script}")

    def run_python(self, argv, env):
        if argv[0] == "&":
            argv = argv[1:]
        self.python_runs.append((argv, dict(env)))
        if self.store_alias and argv[0] == "python":
            return 9009, b"", b"Python was not found; run without arguments to install from the Microsoft Store\r\n"
        args = argv[1:]
        if argv[0].lower() in ("py", "py.exe") and args and args[0].startswith("-3"):
            args = args[1:]  # the launcher's version flag
        local_args = [self.local(arg) if re.match(r"^[A-Za-z]:\\", arg) else arg for arg in args]
        proc = subprocess.run([self.commands[argv[0]], *local_args], env=dict(os.environ, **self.environ, **env), capture_output=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr


class StubTask:
    """The members of a Task that ActionBase reads."""

    def __init__(self, action, args, *, check_mode=False, diff=False, environment=None, async_val=0, delegate_to=None):
        self.action = action
        self.args = dict(args)
        self.check_mode = check_mode
        self.diff = diff
        self.environment = environment or []
        self.async_val = async_val
        self.delegate_to = delegate_to
        self.collections = []
        self.no_log = False


def make_action(module, args, connection, **task_options):
    """The collection's action plugin for ``module``, as the task executor makes it."""
    loader = DataLoader()
    task = StubTask(f"fleet.cache.{module}", args, **task_options)
    return action_loader.get(
        f"fleet.cache.{module}",
        task=task,
        connection=connection,
        play_context=connection._play_context,
        loader=loader,
        templar=Templar(loader=loader),
        shared_loader_obj=plugin_loader,
    )


def connection_for(name, shell_name):
    """A real connection plugin with a real shell plugin, options loaded."""
    shell = shell_loader.get(shell_name)
    shell.set_options()
    connection = connection_loader.get(name, PlayContext(), None, shell=shell)
    return connection


@pytest.fixture
def windows_host(tmp_path):
    host = FakeWindowsHost(root=str(tmp_path / "windows"))
    os.makedirs(host.local(WINDOWS_TEMP))
    host.commands = {"py": sys.executable, "python": sys.executable}
    return host


def attach(pair, host):
    """A real Windows connection plugin, ``pair`` = (connection, shell), whose host is ``host``."""
    connection = connection_for(*pair)
    connection.exec_command = host.exec_command
    connection.put_file = host.put_file
    return connection


def spread(cases):
    """Each case with one of the Windows connections in turn: every kind of case and every connection, not their product."""
    return [
        pytest.param(
            case, WINDOWS_CONNECTIONS[index % len(WINDOWS_CONNECTIONS)], id=f"{'-'.join(WINDOWS_CONNECTIONS[index % len(WINDOWS_CONNECTIONS)])}-{index}"
        )
        for index, case in enumerate(cases)
    ]


@pytest.fixture(params=WINDOWS_CONNECTIONS, ids="-".join)
def windows_connection(request, windows_host):
    """A real Windows connection plugin (each kind in turn) whose host is ``windows_host``."""
    return attach(request.param, windows_host)


@pytest.fixture
def psrp_connection(windows_host):
    """One Windows connection, for tests about what happens on the host rather than how it is reached."""
    return attach(("psrp", "powershell"), windows_host)


def strip_volatile(result):
    """What may differ between two runs of the same task: Ansible's own bookkeeping keys."""
    return {key: value for key, value in result.items() if key not in ("invocation", "_ansible_no_log", "warnings", "deprecations")}


def _message(warning):
    if isinstance(warning, str):
        return warning
    if isinstance(warning, dict):
        return warning.get("msg") or (warning.get("event") or {}).get("msg")
    return getattr(getattr(warning, "event", None), "msg", None) or str(warning)  # ansible-core 2.19+: a WarningSummary


def warnings_of(result):
    """The warnings' texts, whatever form this ansible-core gives them in a result."""
    return [_message(warning) for warning in result.get("warnings") or []]


class ModuleRunner:
    """A module's main() in this process, as the POSIX path runs it; what it printed read the way _execute_module reads it."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, module, args, *, check_mode=False, diff=False):
        from importlib import import_module

        code = import_module(f"ansible_collections.fleet.cache.plugins.modules.{module}")
        self.capsys.readouterr()
        with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)), pytest.raises(SystemExit) as stopped:
            code.main()
        out = self.capsys.readouterr().out
        return make_action(module, {}, connection_for("local", "sh")).module_result(int(stopped.value.code or 0), out, "")


@pytest.fixture
def module_result(capsys, no_pip_config):
    return ModuleRunner(capsys)
