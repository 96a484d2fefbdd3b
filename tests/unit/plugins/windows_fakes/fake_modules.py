# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-ins for the ansible.windows modules the pip_cache_policy role uses, and for a Windows host's facts.

The integration target playbooks_windows (windows.py) copies this file into test collections: ``ansible.windows.win_stat``, ``win_file``,
``win_copy``, ``win_command`` and ``win_powershell`` become action plugins that log each call (module,
arguments, check mode, become) to ``$FLEET_FAKE_WINDOWS_LOG`` and do what the module would do to the
stand-in host's folder (``$FLEET_FAKE_WINDOWS_ROOT``, where ``C:\\...`` is ``C/...``), following each module's
documented behaviour: win_stat's sha1 checksum, win_command skipped in check mode (it has no check mode),
win_powershell run for the role's Scheduled Task script only, whose state is kept as one JSON file a task.
``fleet_test.windows.facts`` returns what ``setup`` gathers on a Windows Server (the parts the role reads).
Like the PowerShell modules, every one of them fails when become (a POSIX method) is in force.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

from ansible.plugins.action import ActionBase

from .fake_connection import host_args, local_path  # both files are copied into the test collection's plugin_utils

SCHEDULED_TASK_DESCRIPTION = "fleet.cache pip_cache_policy: {Execute} {Arguments} ({When})"


def _sha1(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha1(handle.read()).hexdigest()


class FakeWindowsModule(ActionBase):
    """Logs the call, refuses become, and leaves the work to ``act``."""

    NAME = ""

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        root = os.environ["FLEET_FAKE_WINDOWS_ROOT"]
        with open(os.environ["FLEET_FAKE_WINDOWS_LOG"], "a", encoding="utf-8") as handle:
            entry = {"kind": "module", "module": self.NAME, "args": args, "check_mode": bool(self._task.check_mode), "become": bool(self._play_context.become)}
            handle.write(json.dumps(entry, default=str) + "\n")
        if self._play_context.become:
            result.update(failed=True, msg=f"{self.NAME}: become method {self._play_context.become_method} is not supported on Windows")
            return result
        result.update(self.act(root, args, bool(self._task.check_mode)))
        return result

    def act(self, root, args, check_mode):
        raise NotImplementedError


class WinStat(FakeWindowsModule):
    NAME = "ansible.windows.win_stat"

    def act(self, root, args, check_mode):
        path = local_path(root, args["path"])
        if not os.path.exists(path):
            return {"changed": False, "stat": {"exists": False}}
        stat = {"exists": True, "isdir": os.path.isdir(path), "path": args["path"]}
        if not stat["isdir"] and args.get("get_checksum", True):
            stat["checksum"] = _sha1(path)
        return {"changed": False, "stat": stat}


class WinFile(FakeWindowsModule):
    NAME = "ansible.windows.win_file"

    def act(self, root, args, check_mode):
        path = local_path(root, args["path"])
        if args.get("state") == "absent":
            if not os.path.lexists(path):
                return {"changed": False}
            if check_mode:
                return {"changed": True}
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            return {"changed": True}
        if args.get("state") != "directory":
            return {"failed": True, "msg": f"the stand-in win_file knows state=directory and absent only, got {args.get('state')}"}
        if os.path.isdir(path):
            return {"changed": False}
        if not check_mode:
            os.makedirs(path)
        return {"changed": True}


class WinCopy(FakeWindowsModule):
    NAME = "ansible.windows.win_copy"

    def act(self, root, args, check_mode):
        dest = local_path(root, args["dest"])
        if "content" in args:
            data = str(args["content"]).encode("utf-8")
        else:
            with open(args["src"], "rb") as handle:
                data = handle.read()
        if not check_mode and not os.path.isdir(os.path.dirname(dest)):
            return {"failed": True, "msg": f"Destination directory {os.path.dirname(args['dest'])} does not exist"}
        if os.path.isfile(dest):
            with open(dest, "rb") as handle:
                if handle.read() == data:
                    return {"changed": False, "dest": args["dest"]}
        if not check_mode:
            with open(dest, "wb") as handle:
                handle.write(data)
        return {"changed": True, "dest": args["dest"], "checksum": hashlib.sha1(data).hexdigest()}


def run_on_host(root, argv):
    """Run a command of the stand-in host: its interpreter from $FLEET_FAKE_WINDOWS_COMMANDS, its paths made local."""
    commands = json.loads(os.environ["FLEET_FAKE_WINDOWS_COMMANDS"])
    if argv[0] not in commands:
        return {"failed": True, "rc": 2, "msg": f"The system cannot find the file specified: {argv[0]}"}
    proc = subprocess.run([commands[argv[0]], *host_args(root, argv[1:])], capture_output=True, text=True, check=False)
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "failed": proc.returncode != 0}


class WinCommand(FakeWindowsModule):
    NAME = "ansible.windows.win_command"

    def act(self, root, args, check_mode):
        if check_mode:
            return {"changed": False, "skipped": True, "msg": "This module does not support check mode."}
        result = run_on_host(root, [str(arg) for arg in args["argv"]])
        result.update(changed=True, cmd=args["argv"])
        if result["failed"]:
            result.setdefault("msg", "non-zero return code")
        return result


class WinPowerShell(FakeWindowsModule):
    """The role's Scheduled Task script only: Present registers (or keeps) the task, not Present unregisters it."""

    NAME = "ansible.windows.win_powershell"

    def act(self, root, args, check_mode):
        script = str(args.get("script", ""))
        if "Register-ScheduledTask" not in script or "[CmdletBinding(SupportsShouldProcess)]" not in script:
            return {"failed": True, "msg": "the stand-in win_powershell runs the role's Scheduled Task script only"}
        params = args["parameters"]
        folder = os.path.join(root, "ScheduledTasks")
        path = os.path.join(folder, params["Name"] + ".json")
        existing = None
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                existing = json.load(handle)
        present = params["Present"] in (True, "True", "true")
        if not present:
            if existing is None:
                return {"changed": False, "output": []}
            if not check_mode:
                os.remove(path)
            return {"changed": True, "output": []}
        description = SCHEDULED_TASK_DESCRIPTION.format(**params)
        if existing and existing["Description"] == description:
            return {"changed": False, "output": []}
        if not check_mode:  # -WhatIf: ShouldProcess says no
            os.makedirs(folder, exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                json.dump({"Execute": params["Execute"], "Arguments": params["Arguments"], "When": params["When"], "Description": description}, handle)
        return {"changed": True, "output": []}


class Facts(FakeWindowsModule):
    """What setup (gather_subset min) reports on a Windows Server, the keys the role reads."""

    NAME = "fleet_test.windows.facts"

    def act(self, root, args, check_mode):
        facts = {
            "ansible_system": "Win32NT",
            "ansible_os_family": "Windows",
            "ansible_distribution": "Microsoft Windows Server 2022 Datacenter",
            "ansible_os_name": "Microsoft Windows Server 2022 Datacenter",
            "ansible_user_id": "ansible",
        }
        return {"changed": False, "ansible_facts": facts}
