# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one of the collection's modules ad hoc against localhost, the collection taken from this checkout."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from engine import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"


def adhoc_command(module: str, args: str, *, check: bool = False, diff: bool = False, extra_vars: dict[str, str] | None = None) -> list[str]:
    """The command line of one ad hoc module run against localhost, with the controller venv's Python on the host."""
    return [
        str(VENV_BIN / "ansible"),
        "localhost",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={VENV_BIN / 'python'}",
        *[part for name, value in (extra_vars or {}).items() for part in ("-e", f"{name}={value}")],
        "-m",
        module,
        "-a",
        args,
        *(["--check"] if check else []),
        *(["--diff"] if diff else []),
    ]


def run_module(
    module: str, args: str, tmp: Path, *, check: bool = False, diff: bool = False, extra_vars: dict[str, str] | None = None, **extra_env: str
) -> dict[str, object]:
    """The module's result; ``extra_env`` is the environment of ansible and so of the module ({collections} is replaced);
    ``extra_vars`` are given with -e."""
    if not (VENV_BIN / "ansible").exists():
        pytest.skip("the controller venv (.venv) is not set up; run hack/setup.sh")
    collections = tmp / "collections"
    (collections / "ansible_collections" / "fleet").mkdir(parents=True, exist_ok=True)
    link = collections / "ansible_collections" / "fleet" / "cache"
    if not link.exists():
        link.symlink_to(REPO_ROOT)
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
        "ANSIBLE_NOCOLOR": "1",
        "LANG": "C.UTF-8",
    }
    env.update({key: value.replace("{collections}", str(collections)) for key, value in extra_env.items()})
    proc = subprocess.run(
        adhoc_command(module, args, check=check, diff=diff, extra_vars=extra_vars),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # The ad hoc output is "localhost | SUCCESS => {json}", after the diff text when --diff is given.
    start = proc.stdout.find("localhost | ")
    _head, sep, body = proc.stdout[max(start, 0) :].partition(" => ")
    assert start >= 0 and sep, proc.stdout + proc.stderr
    result: dict[str, object] = json.loads(body)
    result["diff_text"] = proc.stdout[:start]  # what --diff printed; the callback leaves "diff" out of the JSON
    result["stderr_text"] = proc.stderr  # warnings are printed there, not in the JSON
    return result
