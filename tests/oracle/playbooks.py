# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the collection's playbooks and role with ansible-playbook from the controller venv, the collection taken
from this checkout, and read the outcome (each host's PLAY RECAP counts, the output)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pytest
from adhoc import adhoc_command
from engine import REPO_ROOT

VENV_BIN = REPO_ROOT / ".venv" / "bin"
_RECAP = re.compile(r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)", re.M)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def recap(self) -> dict[str, dict[str, int]]:
        """Per host: ok, changed, unreachable, failed, from the PLAY RECAP."""
        return {
            match.group("host"): {key: int(match.group(key)) for key in ("ok", "changed", "unreachable", "failed")} for match in _RECAP.finditer(self.stdout)
        }

    def changed(self, host: str) -> int:
        return self.recap[host]["changed"]

    def explain(self) -> str:
        return f"exit {self.returncode}\n--- stdout (end)\n{self.stdout[-6000:]}\n--- stderr (end)\n{self.stderr[-3000:]}"


def collections_path(tmp: Path) -> Path:
    """An ansible_collections tree in ``tmp`` whose fleet/cache is this checkout."""
    root = tmp / "collections"
    (root / "ansible_collections" / "fleet").mkdir(parents=True, exist_ok=True)
    link = root / "ansible_collections" / "fleet" / "cache"
    if not link.exists():
        link.symlink_to(REPO_ROOT)
    return root


def ansible_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A clean environment for ansible: no PIP_* variable of this host, the checkout as the collection."""
    if not (VENV_BIN / "ansible-playbook").exists():
        pytest.skip("the controller venv (.venv) is not set up; run hack/setup.sh")
    env = {
        "PATH": f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path(tmp)),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-remote"),
    }
    env.update(extra)
    return env


def local_host(**host_vars: Any) -> dict[str, Any]:
    """The variables of a host reached with a local connection and the venv's python."""
    return {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python"), **host_vars}


def write_inventory(path: Path, groups: dict[str, dict[str, dict[str, Any]]]) -> Path:
    """A YAML inventory (written as JSON) of groups of hosts with their variables."""
    path = path.with_suffix(".yml")
    path.write_text(json.dumps({"all": {"children": {group: {"hosts": hosts} for group, hosts in groups.items()}}}, indent=1))
    return path


def playbook(
    target: str | Path,
    inventory: Path,
    tmp: Path,
    *,
    extra_vars: Optional[dict[str, Any]] = None,
    args: tuple[str, ...] = (),
    timeout: float = 300,
    env: Optional[dict[str, str]] = None,
) -> Run:
    """ansible-playbook TARGET (a file, or a collection playbook such as fleet.cache.report)."""
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(target), *args]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    proc = subprocess.run(cmd, env=env or ansible_env(tmp), capture_output=True, text=True, timeout=timeout, check=False, cwd=tmp)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path`` as pip and the engine count them: st_size of files, a link to a file as 0 bytes."""
    total = files = 0
    for directory, _dirnames, filenames in os.walk(path):
        for name in filenames:
            full = os.path.join(directory, name)
            files += 1
            total += 0 if os.path.islink(full) else os.lstat(full).st_size
    return total, files


def fake_cache(root: Path, *, seed: int, downloads: int, wheels: int, size: int, now: float) -> None:
    """A cache in pip's layout: ``downloads`` http-v2 entries (metadata + body) and ``wheels`` built wheels
    (wheel + origin.json), sizes around ``size`` bytes, one entry a day older than the previous."""
    rng = random.Random(seed)
    for number in range(downloads):
        digest = hashlib.sha224(f"{seed}-download-{number}".encode()).hexdigest()
        folder = root / "http-v2" / digest[0] / digest[1] / digest[2] / digest[3] / digest[4]
        folder.mkdir(parents=True, exist_ok=True)
        body = folder / f"{digest}.body"
        body.write_bytes(rng.randbytes(rng.randint(size // 2, size * 3 // 2)))
        (folder / digest).write_bytes(b"cc=4," + rng.randbytes(40))
        for path in (body, folder / digest):
            stamp = now - (number * 2 + 1) * 86400
            os.utime(path, (stamp, stamp))
    for number in range(wheels):
        digest = hashlib.sha224(f"{seed}-wheel-{number}".encode()).hexdigest()
        folder = root / "wheels" / digest[:2] / digest[2:4] / digest[4:6] / digest[6:]
        folder.mkdir(parents=True, exist_ok=True)
        wheel = folder / f"proj{number}-1.{seed}-py3-none-any.whl"
        wheel.write_bytes(rng.randbytes(rng.randint(size // 2, size * 3 // 2)))
        (folder / "origin.json").write_text('{"url": "https://example.invalid/x"}')
        for path in (wheel, folder / "origin.json"):
            stamp = now - (number * 2 + 2) * 86400
            os.utime(path, (stamp, stamp))


def adhoc(module: str, args: dict[str, Any], tmp: Path, *, check: bool = False) -> dict[str, Any]:
    """One module run ad hoc against localhost; its result."""
    cmd = adhoc_command(module, json.dumps(args), check=check)
    proc = subprocess.run(cmd, env=ansible_env(tmp, ANSIBLE_CALLBACK_RESULT_FORMAT="json"), capture_output=True, text=True, timeout=120, check=False, cwd=tmp)
    head, sep, body = proc.stdout.partition(" => ")
    assert sep and head.startswith("localhost |"), proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(body)
    return result


TRUSTED_PARENT = Path("/var/lib/fleet-cache-tests")


@contextlib.contextmanager
def trusted_folder(prefix: str) -> Iterator[Path]:
    """A new folder only root can change, from / down, wherever the checkout is: the role installs its engine and runs
    the scheduled job's interpreter only from such a folder."""
    if os.geteuid() != 0:
        pytest.skip("the scheduled job's files are root's: needs root")
    if not TRUSTED_PARENT.parent.is_dir():
        pytest.skip(f"no {TRUSTED_PARENT.parent} to make a folder only root can change in")
    while True:
        TRUSTED_PARENT.mkdir(mode=0o755, exist_ok=True)
        try:
            folder = Path(tempfile.mkdtemp(prefix=prefix, dir=TRUSTED_PARENT))
            break
        except FileNotFoundError:  # another test session (make test runs two) removed the parent as it emptied it
            continue
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            TRUSTED_PARENT.rmdir()


@contextlib.contextmanager
def local_users(count: int, prefix: str) -> Iterator[tuple[Path, list[str]]]:
    """``count`` new local accounts (root and useradd needed, else the test is skipped), their homes in a new folder
    every user can traverse: (that folder, their names). The accounts and the folder are removed afterwards."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd to create local users")
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    names = [f"fc{uuid.uuid4().hex[:8]}" for _number in range(count)]
    try:
        for name in names:
            subprocess.run(["useradd", "--create-home", "--home-dir", str(base / name), "--shell", "/bin/sh", name], check=True, capture_output=True)
        yield base, names
    finally:
        for name in names:
            subprocess.run(["userdel", name], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
