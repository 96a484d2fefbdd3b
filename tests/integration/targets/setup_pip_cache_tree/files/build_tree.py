# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the integration tests' cache in one process (a task per file took most of the targets' time).

Reads JSON on stdin: ``root``; ``folders`` (made with mode 0755, parents too); ``files`` under ``root/cache``
(``path``, ``content``, optional ``mtime`` as %Y%m%d%H%M local time, the access time kept); ``decoys`` under
``root/decoy`` (content ``decoy NAME`` and a newline); ``links`` (``src`` under ``root/decoy``, ``dest`` under
``root/cache``). Prints what it made, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time


def _folder(root: str, relative: str) -> None:
    path = root
    for part in relative.split("/"):
        path = os.path.join(path, part)
        if not os.path.isdir(path):
            os.mkdir(path)
        os.chmod(path, 0o755)


def _write(path: str, content: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(content)
    os.chmod(path, 0o644)


def main() -> None:
    spec = json.load(sys.stdin)
    root = spec["root"]
    os.makedirs(root, exist_ok=True)
    for relative in spec["folders"]:
        _folder(root, relative)
    for item in spec["files"]:
        path = os.path.join(root, "cache", item["path"])
        _write(path, item["content"])
        if item.get("mtime"):
            stamp = time.mktime(time.strptime(item["mtime"], "%Y%m%d%H%M"))
            os.utime(path, (os.stat(path).st_atime, stamp))
    for name in spec["decoys"]:
        _write(os.path.join(root, "decoy", name), f"decoy {name}\n")
    for link in spec["links"]:
        os.symlink(os.path.join(root, "decoy", link["src"]), os.path.join(root, "cache", link["dest"]))
    print(json.dumps({"files": len(spec["files"]), "decoys": len(spec["decoys"]), "links": len(spec["links"])}))


if __name__ == "__main__":
    main()
