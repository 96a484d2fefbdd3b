# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find the real Python interpreters on this machine (PATH and pyenv's versions folder).

pyenv shims exit 127 for versions that are not activated, so every candidate is run once
and only interpreters that answer are kept, by their real path. Standard library only:
the setup script runs this with whatever python3 it finds first.

Usage:
    pythons.py                   # one line per interpreter: "X.Y <path>", newest first
    pythons.py --min 3.12        # the newest interpreter >= 3.12 (exit 1 if none)
    pythons.py --version 3.9     # the interpreter for exactly 3.9 (exit 1 if none)
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys

PROBE = "import sys; print('%d.%d %d' % (sys.version_info[0], sys.version_info[1], sys.version_info[2]))"


def _candidates() -> list[str]:
    names = ["python3"] + [f"python3.{minor}" for minor in range(6, 20)]
    found: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for path in sorted(glob.glob(os.path.join(pyenv_root, "versions", "*", "bin", "python3"))):
        found.append(path)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if "shims" in directory.split(os.sep):
            continue
        for name in names:
            path = shutil.which(name, path=directory)
            if path:
                found.append(path)
    found.append(sys.executable)
    return found


def interpreters() -> dict[tuple[int, int], str]:
    """Map (major, minor) to a working interpreter's real path; the newest patch release wins."""
    best: dict[tuple[int, int], tuple[int, str]] = {}
    seen: set[str] = set()
    for candidate in _candidates():
        real = os.path.realpath(candidate)
        if real in seen or not os.access(real, os.X_OK):
            continue
        seen.add(real)
        try:
            out = subprocess.run([real, "-I", "-c", PROBE], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode != 0:
            continue
        try:
            minor_text, patch_text = out.stdout.split()
            major, minor = (int(part) for part in minor_text.split("."))
            patch = int(patch_text)
        except ValueError:
            continue
        key = (major, minor)
        if key not in best or patch > best[key][0]:
            best[key] = (patch, real)
    return {key: value[1] for key, value in best.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--min", help="print the newest interpreter at or above this X.Y")
    group.add_argument("--version", help="print the interpreter for exactly this X.Y")
    args = parser.parse_args()
    found = interpreters()
    if args.min or args.version:
        wanted = tuple(int(part) for part in (args.min or args.version).split("."))
        matches = sorted((key for key in found if (key >= wanted if args.min else key == wanted)), reverse=True)
        if not matches:
            return 1
        print(found[matches[0]])
        return 0
    for key in sorted(found, reverse=True):
        print(f"{key[0]}.{key[1]} {found[key]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
