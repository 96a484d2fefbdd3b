# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated fleet for runme.sh, and the checks of what the collection's playbooks did to it.

    fleet.py build WORK              twenty hosts reached with the local connection, each with its own HOME and a cache
                                     in pip's layout, and one host that cannot be reached: WORK/inventory.yml; localhost
                                     with the first host's HOME: WORK/local-inventory.yml
    fleet.py report WORK FOLDER TOP  the report in FOLDER says what is on disk (JSON, CSV, Markdown, the HTML page)
    fleet.py over WORK BUDGET MIN    at least MIN caches are over BUDGET bytes
    fleet.py within WORK BUDGET      no cache is over BUDGET bytes

Sizes are counted as pip and the engine count them: st_size of every file, a link as 0 bytes. Standard library only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from pathlib import Path

HOSTS = 20
GONE = "gone.fleet.test"


def homes(work: Path) -> dict[str, Path]:
    return {f"node{number:02d}.fleet.test": work / "homes" / f"node{number:02d}.fleet.test" for number in range(1, HOSTS + 1)}


def fill(cache: Path, number: int, now: float) -> None:
    """Downloads (http-v2 metadata + body) and built wheels (wheel + origin.json), a day older each, sizes by host."""
    size = 1500 * (1 + number % 7)
    entries = [("download", index) for index in range(2 + number % 5)] + [("wheel", index) for index in range(1 + number % 3)]
    for age, (kind, index) in enumerate(entries, 1):
        digest = hashlib.sha224(f"{number}-{kind}-{index}".encode()).hexdigest()
        if kind == "download":
            folder = cache.joinpath("http-v2", *digest[:5])
            paths = {folder / f"{digest}.body": size + index * 37, folder / digest: 45}
        else:
            folder = cache.joinpath("wheels", digest[:2], digest[2:4], digest[4:6], digest[6:])
            paths = {folder / f"proj{index}-1.{number}-py3-none-any.whl": size + index * 53, folder / "origin.json": 36}
        folder.mkdir(parents=True, exist_ok=True)
        for path, length in paths.items():
            path.write_bytes(hashlib.sha256(path.name.encode()).digest() * (length // 32) + b"x" * (length % 32))
            stamp = now - age * 86400
            os.utime(path, (stamp, stamp))
    (cache / "selfcheck").mkdir(parents=True, exist_ok=True)
    (cache / "selfcheck" / "state").write_text("{}")  # counted in the cache's size, never pruned


def build(work: Path) -> None:
    now = time.time()
    reachable = {}
    for number, (name, home) in enumerate(homes(work).items(), 1):
        fill(home / ".cache" / "pip", number, now)
        reachable[name] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "pip_cache_user": "root",
            "pip_cache_become": False,
            "pip_cache_environment": {"HOME": str(home), "XDG_CACHE_HOME": ""},
        }
    gone = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh", "ansible_ssh_common_args": "-o ConnectTimeout=2"}
    groups = {"reachable": {"hosts": reachable}, "unreachable": {"hosts": {GONE: gone}}}
    (work / "inventory.yml").write_text(json.dumps({"all": {"children": groups}}, indent=1))
    # localhost in an inventory of its own, as `make demo` writes it (the implicit localhost hides faults).
    local = dict(reachable["node01.fleet.test"])
    (work / "local-inventory.yml").write_text(json.dumps({"all": {"children": {"local": {"hosts": {"localhost": local}}}}}, indent=1))


def on_disk(work: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for name, home in homes(work).items():
        total = files = 0
        for directory, _dirnames, filenames in os.walk(home / ".cache" / "pip"):
            for filename in filenames:
                full = os.path.join(directory, filename)
                files += 1
                total += 0 if os.path.islink(full) else os.lstat(full).st_size
        found[name] = (total, files)
    return found


def check(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"fleet.py: {message}")


def report(work: Path, folder: Path, top: int) -> None:
    data = json.loads((folder / "report.json").read_text())
    disk = on_disk(work)
    rows = {row["host"]: row for row in data["caches"]}
    check(set(rows) == set(disk), f"hosts reported {sorted(rows)} != hosts on disk {sorted(disk)}")
    for name, (size, files) in disk.items():
        reported = (rows[name]["bytes"], rows[name]["files"])
        check(reported == (size, files), f"{name}: reported {reported[0]} B in {reported[1]} files, disk {size} B in {files}")
        check(rows[name]["users"] == ["root"], f"{name}: users {rows[name]['users']}")
        check(rows[name]["cache_dir"] == str(homes(work)[name] / ".cache" / "pip"), f"{name}: cache_dir {rows[name]['cache_dir']}")
    check(data["totals"]["bytes"] == sum(pair[0] for pair in disk.values()), "total bytes differ from the disk's")
    check(data["totals"]["files"] == sum(pair[1] for pair in disk.values()), "total files differ from the disk's")
    sizes = [row["bytes"] for row in data["caches"]]
    check(sizes == sorted(sizes, reverse=True), "caches not largest first")
    check(data["totals"]["bytes"] == sum(row["bytes"] for row in data["top"]) + data["rest"]["bytes"], "top + rest != total")
    check(len(data["top"]) == top, f"{len(data['top'])} rows in the top list, asked for {top}")
    check([item["host"] for item in data["missing"]] == [GONE], f"missing hosts: {data['missing']}")
    with (folder / "report.csv").open() as handle:
        csv_bytes = sum(int(row["bytes"]) for row in csv.DictReader(handle) if row["state"] == "cache")
    check(csv_bytes == data["totals"]["bytes"], f"CSV total {csv_bytes} != {data['totals']['bytes']}")
    markdown = (folder / "report.md").read_text()
    check(f"## The {top} biggest caches" in markdown and "*the rest*" in markdown and GONE in markdown, "report.md lacks its sections")
    page = (folder / "index.html").read_text()
    check('id="pip-cache-chart"' in page and GONE in page, "index.html lacks the chart or the missing host")


def main(argv: list[str]) -> int:
    command, work = argv[1], Path(argv[2])
    if command == "build":
        build(work)
    elif command == "report":
        report(work, Path(argv[3]), int(argv[4]))
    elif command == "over":
        over = [name for name, pair in on_disk(work).items() if pair[0] > int(argv[3])]
        check(len(over) >= int(argv[4]), f"only {len(over)} caches over {argv[3]} B: the fleet must start over budget")
    elif command == "within":
        over = {name: pair[0] for name, pair in on_disk(work).items() if pair[0] > int(argv[3])}
        check(not over, f"caches over {argv[3]} B after enforce: {over}")
    else:
        raise SystemExit(f"fleet.py: unknown command {command!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
