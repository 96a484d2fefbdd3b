# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the integration tests' uv cache in one process.

Reads JSON on stdin: ``root`` (the cache folder, made empty first); ``files`` (``path`` below the root, ``content``);
``links`` (``path`` below the root, ``target`` below the root: a relative symbolic link, as uv 0.13 writes its archive
links). Prints what it made, as JSON: files, links, folders (the root included), bytes (the files' contents and the
links' own lengths, as lstat gives them).
"""

from __future__ import annotations

import json
import os
import shutil
import sys


def main() -> None:
    spec = json.load(sys.stdin)
    root = spec["root"]
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root, mode=0o755)
    made = {"files": 0, "links": 0, "bytes": 0}
    for item in spec["files"]:
        path = os.path.join(root, item["path"])
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(item["content"])
        made["files"] += 1
        made["bytes"] += os.lstat(path).st_size
    for item in spec["links"]:
        path = os.path.join(root, item["path"])
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        os.symlink(os.path.relpath(os.path.join(root, item["target"]), os.path.dirname(path)), path)
        made["links"] += 1
        made["bytes"] += os.lstat(path).st_size
    made["folders"] = sum(1 for _folder in os.walk(root))
    print(json.dumps(made))


if __name__ == "__main__":
    main()
