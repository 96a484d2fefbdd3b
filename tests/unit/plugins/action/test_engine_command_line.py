# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command lines that run the engine, built by the real shell plugins and read back.

PowerShell's quoting is read back by pwsh_tokens (conftest.py), which follows PowerShell's rule for
single-quoted strings (a doubled quote, of any of its five quote characters, is one) and refuses a bare
word that PowerShell would read as something else; the POSIX line is read back by shlex.
"""

from __future__ import annotations

import random
import shlex

import pytest
from ansible.plugins.shell.powershell import ShellModule as PowerShell

from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_action

from .conftest import connection_for, decode_command, make_action, pwsh_tokens

TRICKY_FOLDERS = [
    "C:\\Users\\alice\\AppData\\Local\\Temp\\ansible-tmp-1-2",
    "C:\\Users\\O'Brien Smith\\AppData\\Local\\Temp\\ansible-tmp-1-2",
    "C:\\Users\\Jos\u00e9 \u2019Q\u2019\\AppData\\Local\\Temp\\ansible-tmp-1-2",
    "C:\\Users\\a;b&c|d$(e)`f%g%!h^\\Temp\\ansible-tmp-1-2",
    "\\\\server\\share\\with space\\ansible-tmp-1-2",
]
TRICKY_PYTHONS = [
    ["py", "-3"],
    ["python"],
    ["C:\\Program Files\\Python 3.12\\python.exe"],
    ["D:\\O'Neil's tools\\python.exe"],
    ["C:\\Python312\\python.exe"],
]


def python_statements(script):
    """(test, argv) of each Python the script tries, read back with PowerShell's quoting rules."""
    found = []
    for line in script.splitlines():
        if line.startswith("if (") and line.endswith("; exit $LASTEXITCODE }"):
            test, statement = line[len("if (") : -len("; exit $LASTEXITCODE }")].split(") { ", 1)
            argv = pwsh_tokens(statement)
            found.append((pwsh_tokens(test), argv[1:] if argv[0] == "&" else argv))
    return found


@pytest.mark.parametrize("shell_name", ["powershell", "cmd"])
@pytest.mark.parametrize("folder", TRICKY_FOLDERS)
def test_windows_command_line_reads_back_exactly(shell_name, folder):
    connection = connection_for("ssh", shell_name)
    action = make_action("pip_cache_info", {}, connection, environment=[{"PIP_CACHE_DIR": "D:\\it's\u2019 $env:X `n", "A B": "x"}])
    shell = connection._shell
    launcher = shell.join_path(folder, _engine_action.LAUNCHER)
    arguments = shell.join_path(folder, _engine_action.ARGUMENTS)
    pythons = [list(python) for python in TRICKY_PYTHONS]
    command = action.engine_command(pythons, launcher, arguments, windows=True)
    # The shell plugin's own encoding: PowerShell with -EncodedCommand, base64 that neither cmd.exe nor a shell can misread.
    script = decode_command(command)
    assert command == _engine_action.encode_pwsh(shell, script)
    assert [part.lower() for part in shlex.split(command)[:-2]] == ["powershell", "-noprofile", "-noninteractive", "-executionpolicy", "unrestricted"]
    assert all(char.isalnum() or char in "+/=" for char in shlex.split(command)[-1])
    statements = python_statements(script)
    assert [argv for _test, argv in statements] == [[*python, "-I", launcher, arguments] for python in pythons]
    assert [test[2] for test, _argv in statements] == [python[0] for python in pythons]
    assert [test[0] for test, _argv in statements] == ["Get-Command", "Get-Command", "Test-Path", "Test-Path", "Test-Path"]
    environment = [
        pwsh_tokens(line[len("[Environment]::SetEnvironmentVariable(") : -1].replace(", ", " ", 1)) for line in script.splitlines() if "SetEnvironment" in line
    ]
    assert environment == [["PIP_CACHE_DIR", "D:\\it's\u2019 $env:X `n"], ["A B", "x"]]
    assert script.splitlines()[-1] == "exit 127"


def test_statements_are_the_shell_plugins_own():
    """Each Python statement is what the powershell plugin's join builds for that command (ansible-core 2.19+)."""
    shell = connection_for("psrp", "powershell")._shell
    if "join" not in vars(PowerShell):
        pytest.skip("this ansible-core's powershell plugin has no join of its own")
    for python in TRICKY_PYTHONS:
        argv = [*python, "-I", TRICKY_FOLDERS[1] + "\\l.py", TRICKY_FOLDERS[3] + "\\a.json"]
        assert _engine_action.pwsh_statement(shell, argv) == shell.join(argv)
        assert shell.join(argv) in _engine_action.windows_script(shell, [python], argv[-2], argv[-1], {})


def random_strings(count):
    alphabet = "aZ09 -_.\\/:[]~!%^'\"$`;&|(){}<>@#,\u2018\u2019\u201a\u201b\u00e9\u4e2d\t"
    chooser = random.Random(4321)
    return ["".join(chooser.choice(alphabet) for _index in range(chooser.randint(0, 12))) for _count in range(count)]


def test_fallback_quoting_equals_the_shell_plugins(monkeypatch):
    """Cores whose powershell plugin has no join of its own (2.17 to 2.19) get the same statements from the collection's own quoting."""
    shell = connection_for("psrp", "powershell")._shell
    samples = [*random_strings(400), *TRICKY_FOLDERS, "", "plain", "C:\\a\\b.py"]
    if "quote" in vars(PowerShell):
        assert [_engine_action.quote_pwsh(value) for value in samples] == [shell.quote(value) for value in samples]
    for value in samples:
        assert pwsh_tokens(_engine_action.quote_pwsh_forced(value)) == [value]
        assert pwsh_tokens(_engine_action.quote_pwsh(value)) == [value]
    joined = {
        tuple(argv): _engine_action.pwsh_statement(shell, argv) for argv in ([*python, "-I", folder] for python in TRICKY_PYTHONS for folder in TRICKY_FOLDERS)
    }
    if "join" in vars(PowerShell):
        monkeypatch.delattr(PowerShell, "join")
    assert "join" not in vars(PowerShell)
    for argv, statement in joined.items():
        assert _engine_action.pwsh_statement(shell, list(argv)) == statement


def test_fallback_encoding_asks_the_shell_plugin_for_a_plain_script():
    """Cores without _encode_pwsh_script_as_command: the shell's _encode_script, without its strict mode and rc epilogue."""
    calls = []

    class OldShell:
        def _encode_script(self, script, as_list=False, strict_mode=True, preserve_rc=True):
            calls.append((script, strict_mode, preserve_rc))
            return "powershell -EncodedCommand X"

    assert _engine_action.encode_pwsh(OldShell(), "exit 0") == "powershell -EncodedCommand X"
    assert calls == [("exit 0", False, False)]


@pytest.mark.parametrize("folder", ["/home/alice/.ansible/tmp/ansible-tmp-1", '/tmp/it\'s a "dir" $(x) `y`/ansible-tmp-2'])
def test_posix_command_line_reads_back_exactly(folder):
    connection = connection_for("local", "sh")
    action = make_action("pip_cache_info", {}, connection, environment=[{"PIP_CACHE_DIR": "/srv/it's here"}])
    shell = connection._shell
    launcher = shell.join_path(folder, _engine_action.LAUNCHER)
    arguments = shell.join_path(folder, _engine_action.ARGUMENTS)
    command = action.engine_command([["/opt/my python/bin/python3"]], launcher, arguments, windows=False)
    assert shlex.split(command) == ["PIP_CACHE_DIR=/srv/it's here", "/opt/my python/bin/python3", "-I", launcher, arguments]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("py -3.12", ["py", "-3.12"]),
        ("PY.EXE  -3 ", ["PY.EXE", "-3"]),
        ("py", ["py"]),
        ("C:\\Program Files\\Python 3.12\\python.exe", ["C:\\Program Files\\Python 3.12\\python.exe"]),
        ("  python  ", ["python"]),
        ("/usr/bin/env python3", ["/usr/bin/env python3"]),
    ],
)
def test_interpreter_command(value, expected):
    assert _engine_action.interpreter_command(value) == expected


def test_the_result_is_the_last_json_line_and_a_failure_says_why():
    assert _engine_action.last_json_line('noise\r\n{"changed": false, "x": 1}\r\n{broken\r\n') == '{"changed": false, "x": 1}'
    assert _engine_action.last_json_line("Traceback ...\n") is None
    broken = _engine_action.engine_failure(1, "Traceback ...\n", "boom")
    assert broken["failed"] is True and broken["module_stderr"] == "boom" and "exit code 1" in broken["msg"]
    assert "Microsoft Store" in _engine_action.engine_failure(9009, "", "")["msg"]
    assert _engine_action.engine_failure(127, "", "x\nfleet.cache: no Python found on this host (tried py -3)\r\n")["msg"] == (
        "fleet.cache: no Python found on this host (tried py -3)"
    )
