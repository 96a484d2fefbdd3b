# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A connection plugin for tests: a Windows host that answers from a folder of this host.

The integration target playbooks_windows (windows.py) copies this file into a test collection as the connection plugins
``fleet_test.windows.winrm`` (its shell the real ``powershell`` plugin, as WinRM's is) and
``fleet_test.windows.ssh`` (the shell from ``ansible_shell_type``, as SSH's is). Files put to
``C:\\...`` land in ``$FLEET_FAKE_WINDOWS_ROOT/C/...``. Every command is what the shell plugin
built, ``powershell ... -EncodedCommand BASE64``: it is decoded, logged to ``$FLEET_FAKE_WINDOWS_LOG``
(one JSON object a line) and carried out - a temporary folder made or removed, or the engine's
script read statement by statement (arguments unquoted by PowerShell's rules) and the Python it
names run here, from ``$FLEET_FAKE_WINDOWS_COMMANDS`` (a JSON object: command name -> interpreter).
A command line of any other shape fails the task: nothing runs that the test did not foresee.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

from ansible.plugins.connection import ConnectionBase

WINDOWS_TEMP = "C:\\Users\\ansible\\AppData\\Local\\Temp"
PWSH_QUOTES = "'\u2018\u2019\u201a\u201b"


def pwsh_tokens(text: str) -> list[str]:
    """One PowerShell statement's arguments: '...' strings (a doubled quote is one quote) and bare words."""
    tokens = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in PWSH_QUOTES:
            value = []
            index += 1
            while True:
                if index >= len(text):
                    raise ValueError(f"unterminated string in {text!r}")
                if text[index] in PWSH_QUOTES:
                    if index + 1 < len(text) and text[index + 1] in PWSH_QUOTES:
                        value.append(text[index])
                        index += 2
                        continue
                    index += 1
                    break
                value.append(text[index])
                index += 1
            tokens.append("".join(value))
            continue
        end = index
        while end < len(text) and not text[end].isspace():
            if (text[end] in PWSH_QUOTES or text[end] in '"$`;(){}|&<>@#,') and not (end == index and text[end] == "&"):
                raise ValueError(f"a bare word holds {text[end]!r} in {text!r}: it needed quoting")
            end += 1
        tokens.append(text[index:end])
        index = end
    return tokens


def script_steps(script: str) -> Iterator[tuple[str, Any, Any]]:
    """The engine script's statements, in order, as PowerShell tokens: ("set", name, value) for an environment variable,
    ("try", test, command) for an interpreter tried (``if (test) { command; exit $LASTEXITCODE }``) and ("fail", message,
    None) for the message written when none was found. Other lines are passed over."""
    set_variable, write_error = "[Environment]::SetEnvironmentVariable(", "[Console]::Error.WriteLine("
    for line in script.splitlines():
        if line.startswith(set_variable):
            name, value = pwsh_tokens(line[len(set_variable) : -1].replace(", ", " ", 1))
            yield "set", name, value
            continue
        match = re.fullmatch(r"if \((.*)\) \{ (.*); exit \$LASTEXITCODE \}", line)
        if match:
            yield "try", pwsh_tokens(match.group(1)), pwsh_tokens(match.group(2))
        elif line.startswith(write_error):
            yield "fail", pwsh_tokens(line[len(write_error) : -1])[0], None


def local_path(root: str, path: str) -> str:
    """Where a Windows path (``X:\\...``) of the stand-in host is on this host."""
    if not re.match(r"^[A-Za-z]:\\", path):
        raise ValueError(f"not an absolute Windows path: {path!r}")
    return os.path.join(root, path[0].upper(), *[part for part in path[3:].split("\\") if part and part != "."])


def host_args(root: str, args: list[str]) -> list[str]:
    """Arguments with the host's absolute paths (alone, or after ``--option=``) made local."""
    out = []
    for arg in args:
        match = re.match(r"^(--[\w-]+=)?([A-Za-z]:\\.*)$", arg)
        out.append((match.group(1) or "") + local_path(root, match.group(2)) if match else arg)
    return out


def decode_command(cmd: str) -> str:
    """The PowerShell script inside ``powershell ... -EncodedCommand B64``."""
    parts = shlex.split(cmd.replace("^", ""))
    if parts[0].lower() not in ("powershell", "pwsh") or "-EncodedCommand" not in parts:
        raise ValueError(f"not an encoded PowerShell command line: {cmd!r}")
    return base64.b64decode(parts[parts.index("-EncodedCommand") + 1]).decode("utf-16-le")


class Connection(ConnectionBase):
    """The stand-in Windows host."""

    transport = "fleet_test.windows.winrm"
    has_pipelining = False
    allow_executable = False
    _shell_type = "powershell"
    module_implementation_preferences = (".ps1", ".exe", "")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = os.environ["FLEET_FAKE_WINDOWS_ROOT"]
        self.log = os.environ["FLEET_FAKE_WINDOWS_LOG"]
        self.commands = json.loads(os.environ["FLEET_FAKE_WINDOWS_COMMANDS"])

    def _record(self, **entry):
        with open(self.log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(dict(entry, connection=self.transport, become=bool(self.become))) + "\n")

    def _connect(self):
        self._connected = True
        return self

    def close(self):
        self._connected = False

    def put_file(self, in_path, out_path):
        super().put_file(in_path, out_path)
        target = local_path(self.root, out_path)
        if not os.path.isdir(os.path.dirname(target)):
            raise OSError(f"put_file into a folder that does not exist: {out_path}")
        shutil.copyfile(in_path, target)
        self._record(kind="put_file", path=out_path)

    def fetch_file(self, in_path, out_path):
        super().fetch_file(in_path, out_path)
        shutil.copyfile(local_path(self.root, in_path), out_path)

    def exec_command(self, cmd, in_data=None, sudoable=True):
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        script = decode_command(cmd)
        payload = (in_data or b"").decode("utf-8", "replace") if isinstance(in_data, bytes) else str(in_data or "")
        if "powershell_mkdtemp.ps1" in payload or "New-Item -Type Directory" in script:
            made = re.search(r'"Name": "(ansible-tmp-[^"]+)"', payload) or re.search(r"-Name '?(ansible-tmp-[^'\s]+)", script)
            path = WINDOWS_TEMP + "\\" + made.group(1)
            os.makedirs(local_path(self.root, path))
            self._record(kind="mkdtemp", path=path, script=script)
            return 0, (path + "\r\n").encode(), b""
        removal = re.search(r"^Remove-Item (.*?) -Force -Recurse;?$", script, re.MULTILINE)
        if removal:
            path = pwsh_tokens(removal.group(1))[0].rstrip(".\\")
            shutil.rmtree(local_path(self.root, path))
            self._record(kind="remove", path=path, script=script)
            return 0, b"", b""
        return self._run_script(script)

    def _run_script(self, script):
        env = {}
        tried = []
        for kind, first, second in script_steps(script):
            if kind == "set":
                env[first] = second
            elif kind == "try":
                tried.append(first[2])
                if first[2] in self.commands:
                    return self._run_python(script, second, env, tried)
            else:
                self._record(kind="engine", script=script, tried=tried, argv=None, env=env, rc=127)
                return 127, b"", (first + "\r\n").encode()
        raise ValueError(f"the stand-in Windows host does not know this script:\n{script}")

    def _run_python(self, script, argv, env, tried):
        if argv[0] == "&":
            argv = argv[1:]
        args = argv[1:]
        if argv[0].lower() in ("py", "py.exe") and args and args[0].startswith("-3"):
            args = args[1:]  # the py launcher's version flag
        local_args = host_args(self.root, args)
        with open(local_args[-1], encoding="utf-8") as handle:  # the request: module, params, check_mode, diff
            request = json.load(handle)
        proc = subprocess.run([self.commands[argv[0]], *local_args], env=dict(os.environ, **env), capture_output=True, check=False)
        self._record(kind="engine", script=script, tried=tried, argv=argv, env=env, request=request, rc=proc.returncode)
        return proc.returncode, proc.stdout, proc.stderr


class SshConnection(Connection):
    """SSH to a Windows host: the shell is whatever ansible_shell_type names (powershell or cmd)."""

    transport = "fleet_test.windows.ssh"
    _shell_type = None
