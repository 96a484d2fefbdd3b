# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench`: fleet.cache's engine and modules against pip and coreutils, on generated caches.

    .venv/bin/python bench/run.py                          # 100,000 and 1,000,000 files (what `make bench` runs)
    .venv/bin/python bench/run.py --sizes 100000 --runs 5  # make bench SIZES=100000 RUNS=5 (also DESTRUCTIVE_MAX, BENCH_ARGS)
    .venv/bin/python bench/run.py --smoke                  # a few hundred files, one run: proves the bench works

Caches are generated once into .bench/caches/ (see cachegen.py; keyed by generator version, size and seed) and
reused. Each comparison runs its sides alternately (A B A B ...) in the same run, each measurement a fresh child
process (wall time, peak RSS from os.wait4); the median is quoted. Destructive operations run on fresh copies of
the generated cache made with `cp -a` (not timed). Above --destructive-max files (default 100,000: a 1,000,000-file
copy and delete take minutes each on this kind of disk) they run as dry runs on the generated cache instead, which
walk and decide exactly as a real run does but unlink nothing; pass --destructive-max 1000000 for the real thing.
The largest-folder group (--only folder) measures peak memory with one folder holding N entries (files in one
http-v2 folder; wheel folders in one folder of wheels/), N twice the smallest size (200,000; --folder-entries),
against N files in pip's layout: a scan and a dry-run size prune of each.
The table and the same figures as JSON (under .bench/results/) are read against the goals printed below them.
Standard library only; the engine is imported the way tests/oracle/engine.py does (a temporary
ansible_collections tree pointing at this checkout), pip is the newest oracle pip (tests/oracle/piporacle.py).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime
import fcntl
import json
import os
import platform
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests" / "oracle"))

import cachegen  # noqa: E402  (bench/cachegen.py)
import engine  # noqa: E402  (tests/oracle/engine.py: the checkout's engine through a temporary ansible_collections tree)
import piporacle  # noqa: E402  (tests/oracle/piporacle.py: the oracle pips, isolated environments)
from measure import HELPER_PEAKS, BenchError, Series, copy_tree, loadavg, peak_method, pressure, remove_tree, run_measured, settle  # noqa: E402

DEFAULT_SIZES = (100_000, 1_000_000)
LARGE = 500_000  # sizes from here on get the large-size run count
SMOKE_FILES = 300
FLEET_NOTE = "the fleet rows run the report playbook (ansible-playbook fleet.cache.report, its files into a temporary folder) against the command module"
HALF_YEAR = 182 * 86400

# The engine's side of each operation: run as `python -I -c CODE ENGINE_ROOT CACHE ARG DRY`.
_PRELUDE = "import json, sys\nsys.path.insert(0, sys.argv[1])\ncache, arg, dry = sys.argv[2], sys.argv[3], sys.argv[4] == 'dry'\n"
_MU = "ansible_collections.fleet.cache.plugins.module_utils"
_OUTCOME = (
    "print(json.dumps({'files': outcome.files, 'extra_files': outcome.extra_files, 'dirs': outcome.dirs, 'entries': outcome.entries,"
    " 'bytes': outcome.bytes, 'errors': outcome.errors.count}))\n"
)
_HELPERS = f"sys.stderr.write({HELPER_PEAKS!r} + json.dumps(result.helper_peaks_kib) + '\\n')\n"
ENGINE_CODE = {
    "info": f"from {_MU}._pip.scan import scan\nresult = scan(cache)\nprint('\\n'.join(result.pip_info_lines()))\n" + _HELPERS,
    "list": (
        f"from {_MU}._pip.matching import NameMatcher\nfrom {_MU}._pip.scan import scan\n"
        "result = scan(cache, list_matcher=NameMatcher(glob='*'), list_limit=1000)\n"
        "print('\\n'.join(wheel.as_dict()['pip_line'] for wheel in result.wheels.items()))\n"
        "print(result.wheels.count)\n" + _HELPERS
    ),
    "remove-glob": (
        f"from {_MU}._pip.remove import Request, remove\nfrom {_MU}._pip.matching import NameMatcher\n"
        "outcome = remove(cache, Request(mode='absent', matcher=NameMatcher(glob=arg)), dry_run=dry)\n" + _OUTCOME
    ),
    "remove-name": (
        f"from {_MU}._pip.remove import Request, remove\nfrom {_MU}._pip.matching import NameMatcher\n"
        f"from {_MU}._pip.http import identify_for_removal\nfrom {_MU}._pip.version import parse_requirement\n"
        "request = Request(mode='absent', matcher=NameMatcher(requirements=[parse_requirement(arg)]), http_projects=True, identify=identify_for_removal)\n"
        "outcome = remove(cache, request, dry_run=dry)\n" + _OUTCOME
    ),
    "purge": (
        f"from {_MU}._pip.remove import Request, remove\nfrom {_MU}._pip.matching import NameMatcher\n"
        "outcome = remove(cache, Request(mode='purged', matcher=NameMatcher(glob='*')), dry_run=dry)\n" + _OUTCOME
    ),
    "prune-size": f"from {_MU}._pip.remove import Request, remove\noutcome = remove(cache, Request(mode='pruned', max_size=int(arg)), dry_run=dry)\n"
    + _OUTCOME,
    "prune-age": f"from {_MU}._pip.remove import Request, remove\noutcome = remove(cache, Request(mode='pruned', max_age=float(arg)), dry_run=dry)\n"
    + _OUTCOME,
}
ENGINE_CALLS = {
    "info": "scan(cache) + pip_info_lines()",
    "list": "scan(cache, list_matcher=NameMatcher(glob='*'), list_limit=1000)",
    "remove-glob": "remove(cache, Request('absent', matcher=NameMatcher(glob=NAME)))",
    "remove-name": "remove(cache, Request('absent', NameMatcher(requirements=[NAME]), http_projects=True, identify=identify_for_removal))",
    "purge": "remove(cache, Request('purged', matcher=NameMatcher(glob='*')))",
    "prune-size": "remove(cache, Request('pruned', max_size=half the cache))",
    "prune-age": "remove(cache, Request('pruned', max_age=half a year before the newest file))",
}
_PROFILED = (
    "import cProfile, pstats, sys\nbody, out = sys.argv.pop(), sys.argv.pop()\nprofile = cProfile.Profile()\nprofile.enable()\n"
    "exec(compile(body, '<engine-op>', 'exec'), {'__name__': '__bench__'})\nprofile.disable()\n"
    "with open(out, 'w', encoding='utf-8') as handle:\n"
    "    for order in ('tottime', 'cumulative'):\n"
    "        pstats.Stats(profile, stream=handle).strip_dirs().sort_stats(order).print_stats(25)\n"
)

# The operations of the table: what each row is, in table order.
OPERATIONS = {
    "info": "info: engine scan",
    "info-module": "info: ansible pip_cache_info",
    "ansible-startup": "ansible start-up: ansible -m ping",
    "list": "list: engine",
    "remove-glob": "remove NAME: engine, pip's glob",
    "remove-name": "remove NAME: engine, match=name+downloads",
    "purge": "purge: engine",
    "purge-dry": "purge: engine, dry run",
    "prune-size": "prune by size: engine",
    "prune-size-dry": "prune by size: engine, dry run",
    "prune-age": "prune by age: engine",
    "prune-age-dry": "prune by age: engine, dry run",
    "fleet": "fleet: report playbook",
    "folder-info": "largest folder: engine scan",
    "folder-prune": "largest folder: prune by size, dry run",
}
MEMORY_OPS = ("info", "list", "remove-glob", "remove-name", "purge", "purge-dry", "prune-size", "prune-size-dry", "prune-age", "prune-age-dry")
FOLDER_OPS = ("folder-info", "folder-prune")
FOLDER_LIMIT = 1.2  # peak memory with N entries in one folder, against N files in pip's layout
PIP_LAYOUT = "pip layout"
SMOKE_FOLDER_ENTRIES = 3000  # more than a walk holds of one folder (1024): the streamed path runs even in a smoke run


@dataclass
class Row:
    operation: str
    size: int | str
    ours: Series
    theirs: Series | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.theirs is None or self.ours.median is None or not self.theirs.median:
            return None
        return self.ours.median / self.theirs.median

    def as_dict(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "label": OPERATIONS[self.operation],
            "size": self.size,
            "ours": self.ours.as_dict(),
            "theirs": self.theirs.as_dict() if self.theirs else None,
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "note": self.note,
        }


@dataclass
class Context:
    args: argparse.Namespace
    store: Path
    scratch: Path
    engine_root: Path
    python: Path
    pip: piporacle.OraclePip
    ansible: Path
    collections: Path
    pip_env: dict[str, str]
    ansible_env: dict[str, str]
    rows: list[Row] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    caches: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str) -> None:
        print(text, flush=True)

    # Commands -------------------------------------------------------------------------------
    def engine_cmd(self, operation: str, cache: Path, arg: str = "", *, dry: bool = False) -> list[str]:
        return [str(self.python), "-I", "-c", _PRELUDE + ENGINE_CODE[operation], str(self.engine_root), str(cache), arg, "dry" if dry else "real"]

    def pip_cmd(self, *args: str) -> list[str]:
        return [str(self.pip.python), "-m", "pip", *args]

    def ansible_cmd(self, *args: str) -> list[str]:
        return [str(self.ansible), *args]

    def check(self, name: str, size: int | str, ok: bool, detail: str) -> None:
        self.checks.append({"check": name, "size": size, "ok": ok, "detail": detail})
        if not ok:
            self.say(f"  ! check failed: {name} at {size}: {detail}")


def _parse_runs(text: str | None, sizes: list[int]) -> dict[int, int]:
    runs = {size: (1 if size >= LARGE else 3) for size in sizes}
    if not text:
        return runs
    for part in text.split(","):
        if ":" in part:
            size, count = part.split(":", 1)
            runs[int(size)] = int(count)
        else:
            runs = dict.fromkeys(sizes, int(part))
    return runs


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="cache sizes in files, comma separated (default 100000,1000000)")
    parser.add_argument("--runs", default=None, help="runs per comparison: N for all sizes, or SIZE:N,... (default 3, 1 from 500,000 files)")
    parser.add_argument("--destructive-max", type=int, default=100_000, help="largest size whose purge/prune run for real on fresh copies (default 100000)")
    parser.add_argument("--destructive-runs", type=int, default=1, help="runs of the purge/prune comparisons, each side on its own fresh copy (default 1)")
    parser.add_argument("--fleet-hosts", type=int, default=50, help="simulated hosts in the fleet inventory (default 50)")
    parser.add_argument("--fleet-files", type=int, default=2000, help="files in each fleet host's cache (default 2000)")
    parser.add_argument("--forks", type=int, default=10, help="ansible forks for the fleet rows (default 10)")
    parser.add_argument(
        "--only",
        default="",
        help="groups to run, comma separated: info,list,remove,purge,prune,fleet,folder (default all; 'none' with --profile: profile only)",
    )
    parser.add_argument(
        "--folder-entries",
        type=int,
        default=None,
        help="the largest-folder group: entries in the one large folder, against as many files in pip's layout (default twice the smallest size: 200,000)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bench-dir", type=Path, default=REPO / ".bench", help="where caches and results live (default .bench)")
    parser.add_argument("--collections", type=Path, default=Path(os.environ.get("FLEET_CACHE_COLLECTIONS_PATH") or REPO / ".build" / "collections"))
    parser.add_argument(
        "--profile", action="store_true", help="also run each engine operation once under cProfile (read-only or dry run) and keep the top functions"
    )
    parser.add_argument(
        "--smoke", action="store_true", help=f"a {SMOKE_FILES}-file cache, one run, 3 fleet hosts: proves the bench runs, measures nothing worth quoting"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = str(SMOKE_FILES)
        args.runs = args.runs or "1"
        args.destructive_runs = 1
        args.fleet_hosts = min(args.fleet_hosts, 3)
        args.fleet_files = min(args.fleet_files, 100)
        args.destructive_max = max(args.destructive_max, SMOKE_FILES)
        args.folder_entries = args.folder_entries or SMOKE_FOLDER_ENTRIES
    args.size_list = sorted({int(size) for size in str(args.sizes).replace(" ", "").split(",") if size})
    args.run_counts = _parse_runs(args.runs, args.size_list)
    args.groups = {group for group in args.only.split(",") if group} or {"info", "list", "remove", "purge", "prune", "fleet", "folder"}
    args.folder_entries = args.folder_entries or 2 * min(args.size_list)
    return args


# --------------------------------------------------------------------------------------------------
# Environments


def _engine_root() -> Path:
    """The temporary tree tests/oracle/engine.py made (ansible_collections/fleet/cache -> this checkout)."""
    module_file = Path(engine.scan.__file__)
    root = next(parent.parent for parent in module_file.parents if parent.name == "ansible_collections")  # wherever the package sits
    if not (root / "ansible_collections" / "fleet" / "cache").is_symlink() or (root / "ansible_collections" / "fleet" / "cache").resolve() != REPO:
        raise BenchError(f"the engine was imported from {module_file}, not through a temporary tree pointing at {REPO}")
    if root.name.startswith("fleet-cache-engine-"):
        atexit.register(shutil.rmtree, root, True)
    return root


def _ansible_env(scratch: Path, collections: Path) -> dict[str, str]:
    env = piporacle.isolated_env(scratch / "ansible-env")
    config = scratch / "ansible.cfg"
    config.write_text("[defaults]\n", encoding="utf-8")
    env.update(
        ANSIBLE_CONFIG=str(config),
        ANSIBLE_COLLECTIONS_PATH=str(collections),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_LOCAL_TEMP=str(scratch / "ansible-local-tmp"),
        ANSIBLE_REMOTE_TEMP=str(scratch / "ansible-remote-tmp"),
    )
    return env


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    store.mkdir(parents=True, exist_ok=True)
    with open(store / ".lock", "w", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"bench: another bench run holds {store / '.lock'}; waiting for it", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --------------------------------------------------------------------------------------------------
# Running sides alternately


def alternate(ctx: Context, sides: list[tuple[str, Any]], runs: int, *, prepare: Any = None, finish: Any = None) -> dict[str, Series]:
    """Run every side once per run, in order (A B C A B C ...); ``sides`` are (key, (label, command-maker))."""
    series = {key: Series(label, "") for key, (label, _maker) in sides}
    for number in range(runs):
        for key, (_label, maker) in sides:
            target = prepare(key, number) if prepare else None
            cmd, env = maker(target)
            series[key].command = " ".join(cmd) if len(" ".join(cmd)) < 400 else " ".join(cmd[:3]) + " ..."
            settle()
            sample = run_measured(cmd, env=env)
            series[key].samples.append(sample)
            if finish:
                finish(key, number, target, sample)
    return series


# --------------------------------------------------------------------------------------------------
# Groups


def group_info(ctx: Context, size: int, cache: Path, runs: int) -> None:
    ctx.say(f"  info: engine, ansible module, pip cache info, du -sb ({runs} run(s))")
    sides = [
        ("engine", ("engine", lambda _t: (ctx.engine_cmd("info", cache), ctx.pip_env))),
        ("module", ("module", lambda _t: (ctx.ansible_cmd("localhost", "-m", "fleet.cache.pip_cache_info", "-a", f"cache_dir={cache}"), ctx.ansible_env))),
        ("pip", ("pip cache info", lambda _t: (ctx.pip_cmd("cache", "info", "--cache-dir", str(cache)), ctx.pip_env))),
        ("du", ("du -sb", lambda _t: (["du", "-sb", str(cache)], ctx.pip_env))),
        # What the module rows carry besides the scan: ansible's own start-up, the same inventory and connection.
        ("startup", ("ansible -m ping", lambda _t: (ctx.ansible_cmd("localhost", "-m", "ansible.builtin.ping"), ctx.ansible_env))),
    ]
    series = alternate(ctx, sides, runs)
    ours = series["engine"].samples[-1].stdout.strip().splitlines()
    theirs = series["pip"].samples[-1].stdout.strip().splitlines()
    ctx.check("info lines equal pip cache info's", size, ours == theirs, "equal" if ours == theirs else f"engine {ours} != pip {theirs}")
    ctx.check("module reports success", size, "SUCCESS" in series["module"].samples[-1].stdout, series["module"].samples[-1].stdout[:200])
    ctx.rows += [
        Row("info", size, series["engine"], series["pip"]),
        Row("info", size, series["engine"], series["du"]),
        Row("info-module", size, series["module"], series["pip"]),
        Row("info-module", size, series["module"], series["du"]),
        Row("ansible-startup", size, series["startup"]),
    ]


def group_list(ctx: Context, size: int, cache: Path, runs: int) -> None:
    ctx.say(f"  list: engine, pip cache list ({runs} run(s))")
    sides = [
        ("engine", ("engine", lambda _t: (ctx.engine_cmd("list", cache), ctx.pip_env))),
        ("pip", ("pip cache list", lambda _t: (ctx.pip_cmd("cache", "list", "--cache-dir", str(cache)), ctx.pip_env))),
    ]
    series = alternate(ctx, sides, runs)
    count = int(series["engine"].samples[-1].stdout.strip().splitlines()[-1])
    pip_count = sum(1 for line in series["pip"].samples[-1].stdout.splitlines() if line.startswith(" - "))
    ctx.check("list counts equal pip cache list's", size, count == pip_count, f"engine {count}, pip {pip_count}")
    ctx.rows.append(Row("list", size, series["engine"], series["pip"], note="engine keeps the first 1000 (the module's default limit) and counts all"))


def _restore(master: Path, work: Path, manifest: dict[str, Any]) -> int:
    """Copy back what a removal by name took from ``work`` (the target project's paths); returns how many."""
    restored = 0
    paths = manifest["target_paths"]
    relatives = list(paths["wheels"]) + list(paths["http"]) + [stem + suffix for stem in paths["http-v2"] for suffix in ("", ".body")]
    for relative in relatives:
        source, target = master / relative, work / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(source), str(target.parent) + "/"], check=True)
        restored += 1
    missing = [relative for relative in relatives if not (work / relative).exists()]
    if missing:
        raise BenchError(f"could not restore {missing[:3]} in {work}")
    return restored


def _working_copy(ctx: Context, master: Path) -> Path:
    """A persistent copy of the generated cache for removals by name, kept identical to it by restoring."""
    work = master.parent / "work"
    clean = master.parent / "work.clean"
    if work.exists() and not clean.exists():
        ctx.say("  discarding an unclean working copy")
        remove_tree(work)
    if not work.exists():
        ctx.say("  making the working copy for removals by name (cp -a, not timed; kept for later runs)")
        seconds = copy_tree(master, work)
        ctx.say(f"    {seconds:.0f} s")
        clean.write_text("", encoding="utf-8")
    return work


def group_remove(ctx: Context, size: int, master: Path, manifest: dict[str, Any], runs: int) -> None:
    ctx.say(f"  remove {cachegen.TARGET}: engine (pip's glob), pip cache remove, engine (match=name + downloads) ({runs} run(s))")
    work = _working_copy(ctx, master)
    clean = master.parent / "work.clean"
    clean.unlink()
    name = manifest["target"]
    sides = [
        ("engine", ("engine", lambda _t: (ctx.engine_cmd("remove-glob", work, name), ctx.pip_env))),
        ("pip", (f"pip cache remove {name}", lambda _t: (ctx.pip_cmd("cache", "remove", name, "--cache-dir", str(work)), ctx.pip_env))),
        ("name", ("engine, match=name", lambda _t: (ctx.engine_cmd("remove-name", work, name), ctx.pip_env))),
    ]
    removed: dict[str, list[str]] = {"engine": [], "pip": [], "name": []}

    def finish(key: str, _number: int, _target: Any, sample: Any) -> None:
        removed[key].append(sample.stdout.strip().splitlines()[0] if sample.stdout.strip() else "")
        _restore(master, work, manifest)

    series = alternate(ctx, sides, runs, finish=finish)
    clean.write_text("", encoding="utf-8")
    wheels = len(manifest["target_paths"]["wheels"])
    glob_removed = json.loads(removed["engine"][-1])
    engine_files, extra_files = glob_removed["files"], glob_removed.get("extra_files", 0)
    ctx.check(
        "remove by glob took the target's wheels (pip's count) and their origin.json (extra)",
        size,
        engine_files == wheels and extra_files == wheels,
        f"engine removed {engine_files} files + {extra_files} extra, {wheels} wheel folders; pip: {removed['pip'][-1]}",
    )
    expected_http = 2 * len(manifest["target_paths"]["http-v2"]) + len(manifest["target_paths"]["http"])
    by_name = json.loads(removed["name"][-1])
    name_files = by_name["files"] + by_name.get("extra_files", 0)
    ctx.check(
        "remove by name took wheels and downloads",
        size,
        name_files == 2 * wheels + expected_http,
        f"engine removed {name_files}, expected {2 * wheels + expected_http}",
    )
    ctx.rows.append(Row("remove-glob", size, series["engine"], series["pip"]))
    ctx.rows.append(Row("remove-name", size, series["name"], None, note="reads every HTTP entry to find the project's downloads (pip cannot)"))


def _fresh_copies(ctx: Context, master: Path, size: int) -> tuple[Any, Any]:
    made: dict[tuple[str, int], Path] = {}

    def prepare(key: str, number: int) -> Path:
        target = ctx.scratch / f"copy-{size}-{key}-{number}"
        remove_tree(target)
        copy_tree(master, target)
        # The copy (and the removal of the last one) leave gigabytes of dirty pages: written back now, they are
        # not charged to whichever side is timed next.
        os.sync()
        made[(key, number)] = target
        return target

    def finish(key: str, number: int, _target: Any, _sample: Any) -> None:
        remove_tree(made.pop((key, number)))

    return prepare, finish


def group_purge(ctx: Context, size: int, master: Path, manifest: dict[str, Any], runs: int) -> None:
    real = size <= ctx.args.destructive_max
    if real:
        ctx.say(f"  purge: engine, pip cache purge, rm -rf, each on a fresh cp -a copy ({runs} run(s))")
        prepare, finish = _fresh_copies(ctx, master, size)
        sides = [
            ("engine", ("engine", lambda target: (ctx.engine_cmd("purge", target), ctx.pip_env))),
            ("pip", ("pip cache purge", lambda target: (ctx.pip_cmd("cache", "purge", "--cache-dir", str(target)), ctx.pip_env))),
            ("rm", ("rm -rf", lambda target: (["rm", "-rf", str(target / "http-v2"), str(target / "http"), str(target / "wheels")], ctx.pip_env))),
        ]
        series = alternate(ctx, sides, runs, prepare=prepare, finish=finish)
        purged = json.loads(series["engine"].samples[-1].stdout)
        engine_files = purged["files"] + purged.get("extra_files", 0)
        pip_line = series["pip"].samples[-1].stdout.strip().splitlines()[0]
        expected = manifest["files"] - 1  # everything but selfcheck/
        ctx.check("purge removed every file but selfcheck/", size, engine_files == expected, f"engine {engine_files}, expected {expected}; pip: {pip_line}")
        pip_count = re.search(r"Files removed: (\d+)", pip_line)
        ctx.check(
            "purge reports pip's Files removed",
            size,
            pip_count is not None and purged["files"] == int(pip_count.group(1)),
            f"engine {purged['files']} (+ {purged.get('extra_files', 0)} extra); pip: {pip_line}",
        )
        ctx.rows.append(Row("purge", size, series["engine"], series["pip"]))
        ctx.rows.append(Row("purge", size, series["engine"], series["rm"]))
    ctx.say("  purge: engine, dry run on the generated cache (1 run)")
    series = alternate(ctx, [("engine", ("engine, dry run", lambda _t: (ctx.engine_cmd("purge", master, dry=True), ctx.pip_env)))], 1)
    ctx.rows.append(Row("purge-dry", size, series["engine"], None, note="walks and decides, unlinks nothing"))


def group_prune(ctx: Context, size: int, master: Path, manifest: dict[str, Any], runs: int) -> None:
    real = size <= ctx.args.destructive_max
    max_size = str(manifest["apparent_bytes"] // 2)
    max_age = str(time.time() - manifest["base_time"] + HALF_YEAR)
    for operation, arg, what in (("prune-size", max_size, "max_size = half the cache"), ("prune-age", max_age, "max_age = half a year")):
        if real:
            ctx.say(f"  {operation} ({what}): engine on a fresh cp -a copy ({runs} run(s))")
            prepare, finish = _fresh_copies(ctx, master, size)
            series = alternate(
                ctx,
                [("engine", ("engine", lambda target, arg=arg, operation=operation: (ctx.engine_cmd(operation, target, arg), ctx.pip_env)))],
                runs,
                prepare=prepare,
                finish=finish,
            )
            ctx.rows.append(Row(operation, size, series["engine"], None, note=f"{what}; pip has no prune"))
        ctx.say(f"  {operation}: engine, dry run on the generated cache (1 run)")
        series = alternate(
            ctx, [("engine", ("engine, dry run", lambda _t, arg=arg, operation=operation: (ctx.engine_cmd(operation, master, arg, dry=True), ctx.pip_env)))], 1
        )
        outcome = json.loads(series["engine"].samples[-1].stdout)
        ctx.rows.append(
            Row(f"{operation}-dry", size, series["engine"], None, note=f"{what}; would remove {outcome['files']:,} files, {outcome['bytes'] / 1e9:.2f} GB")
        )


def _fleet(ctx: Context) -> tuple[Path, list[Path]]:
    """The fleet's host homes, each with its own generated cache in HOME/.cache/pip (made once)."""
    hosts, files, seed = ctx.args.fleet_hosts, ctx.args.fleet_files, ctx.args.seed
    home = ctx.store / "fleet" / f"g{cachegen.GENERATOR_VERSION}-{hosts}x{files}-s{seed}"
    marker = home / "complete.json"
    caches = [home / f"h{number:02d}" / "home" / ".cache" / "pip" for number in range(1, hosts + 1)]
    if not marker.exists():
        remove_tree(home)
        ctx.say(f"  generating {hosts} host caches of {files:,} files (once)")
        for number, cache in enumerate(caches, start=1):
            cachegen.generate(cache, files, seed=seed * 1000 + number)
        marker.write_text(json.dumps({"hosts": hosts, "files": files}) + "\n", encoding="utf-8")
    return home, caches


def group_fleet(ctx: Context, runs: int) -> None:
    _home, caches = _fleet(ctx)
    hosts = len(caches)
    inventory = ctx.scratch / "fleet.yml"
    user = pwd.getpwuid(os.getuid()).pw_name
    inventory.write_text(
        json.dumps(
            {
                "fleet": {
                    "hosts": {
                        f"h{number:02d}": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": str(ctx.python),
                            "cache_dir": str(cache),
                            "pip_cache_user": user,
                            "pip_cache_become": False,
                            "pip_cache_environment": {"HOME": str(cache.parents[1]), "XDG_CACHE_HOME": ""},
                        }
                        for number, cache in enumerate(caches, start=1)
                    }
                }
            }
        )
        + "\n",
        encoding="utf-8",
    )
    forks = str(ctx.args.forks)
    ctx.say(f"  fleet: {hosts} local hosts, -f {forks}: report playbook vs command '{ctx.pip.version} pip cache info' ({runs} run(s))")
    folder = ctx.scratch / "fleet-report"
    playbook = [str(ctx.ansible.parent / "ansible-playbook"), "-i", str(inventory), "-f", forks, "fleet.cache.report", "-e", f"pip_cache_report_dir={folder}"]
    command = [
        "all",
        "-i",
        str(inventory),
        "-f",
        forks,
        "-m",
        "ansible.builtin.command",
        "-a",
        f"{ctx.pip.python} -m pip cache info --cache-dir {{{{ cache_dir }}}}",
    ]
    sides = [
        ("report", ("ansible-playbook fleet.cache.report", lambda _t: (playbook, ctx.ansible_env))),
        ("command", ("ansible all -m command -a 'pip cache info'", lambda _t: (ctx.ansible_cmd(*command), ctx.ansible_env))),
    ]
    series = alternate(ctx, sides, runs, prepare=lambda key, _number: remove_tree(folder) if key == "report" else None)
    recap = series["report"].samples[-1].stdout
    reported = json.loads((folder / "report.json").read_text(encoding="utf-8")) if (folder / "report.json").exists() else {}
    answered = len(reported.get("caches", []))
    ctx.check("fleet report: every host's cache in report.json", "fleet", answered == hosts and not reported.get("missing"), f"{answered} of {hosts}")
    counted = reported.get("totals", {}).get("files")
    ctx.check("fleet report: total files as generated", "fleet", counted == hosts * ctx.args.fleet_files, f"{counted} of {hosts * ctx.args.fleet_files}")
    files = {name for name in ("report.json", "report.csv", "report.md", "index.html") if (folder / name).exists()}
    ctx.check("fleet report: every report file written", "fleet", len(files) == 4, ", ".join(sorted(files)) or recap[-300:])
    successes = series["command"].samples[-1].stdout.count("| SUCCESS") + series["command"].samples[-1].stdout.count("| CHANGED")
    ctx.check("fleet command: every host answered", "fleet", successes == hosts, f"{successes} of {hosts}")
    ctx.rows.append(Row("fleet", f"{hosts} hosts x {ctx.args.fleet_files:,}", series["report"], series["command"], note=FLEET_NOTE))


def group_folder(ctx: Context, runs: int) -> None:
    """Peak memory with one folder holding N entries, against N files in pip's layout: a walk must not hold a folder."""
    entries = ctx.args.folder_entries
    store = ctx.store / "caches"
    layout, layout_manifest = cachegen.ensure_cache(store, entries, seed=ctx.args.seed, say=ctx.say)
    caches = [(PIP_LAYOUT, layout, layout_manifest)]
    for kind in cachegen.ONE_FOLDER_KINDS:
        cache, manifest = cachegen.ensure_one_folder(store, entries, kind, seed=ctx.args.seed, say=ctx.say)
        caches.append((f"one folder: {kind}", cache, manifest))
    ctx.caches[f"folder-{entries}"] = {label: manifest for label, _cache, manifest in caches}
    ctx.say(f"largest folder: {entries:,} entries in one folder against {entries:,} files in pip's layout ({runs} run(s))")
    sides: list[tuple[str, Any]] = []
    for label, cache, manifest in caches:
        half = str(manifest["apparent_bytes"] // 2)
        scan_cmd, prune_cmd = ctx.engine_cmd("info", cache), ctx.engine_cmd("prune-size", cache, half, dry=True)
        sides.append((f"info {label}", (f"scan, {label}", lambda _t, cmd=scan_cmd: (cmd, ctx.pip_env))))
        sides.append((f"prune {label}", (f"prune dry run, {label}", lambda _t, cmd=prune_cmd: (cmd, ctx.pip_env))))
    series = alternate(ctx, sides, runs)
    for label, _cache, manifest in caches:
        lines = series[f"info {label}"].samples[-1].stdout.splitlines()
        kind = manifest.get("kind")
        if kind is not None:
            expected = f"Number of HTTP files: {entries}" if kind == "files" else f"Number of locally built wheels: {entries}"
            ctx.check(f"largest folder: the scan counts every entry ({kind})", entries, expected in lines, expected if expected in lines else str(lines))
        pruned = json.loads(series[f"prune {label}"].samples[-1].stdout)
        ctx.check(
            f"largest folder: the dry-run prune takes about half ({label})",
            entries,
            0.4 * manifest["apparent_bytes"] <= pruned["bytes"] <= 0.7 * manifest["apparent_bytes"],
            f"{pruned['bytes']:,} of {manifest['apparent_bytes']:,} bytes",
        )
        size = f"{entries:,} {label}"
        ctx.rows.append(Row("folder-info", size, series[f"info {label}"], None, note=manifest.get("layout", "pip's layout")))
        ctx.rows.append(Row("folder-prune", size, series[f"prune {label}"], None, note="max_size = half the cache"))


def folder_ratios(rows: list[Row]) -> list[dict[str, Any]]:
    """Each largest-folder operation's peak against the same operation on pip's layout of the same count."""
    found = []
    for operation in FOLDER_OPS:
        peaks = {str(row.size): row.ours.peak_mib for row in rows if row.operation == operation}
        base = next((peak for size, peak in peaks.items() if size.endswith(PIP_LAYOUT)), None)
        for size, peak in peaks.items():
            if size.endswith(PIP_LAYOUT) or not base or peak is None:
                continue
            found.append(
                {
                    "operation": operation,
                    "small": size.split(" ", 1)[1],
                    "large": size,
                    "peak_small_mib": base,
                    "peak_large_mib": peak,
                    "ratio": round(peak / base, 3),
                    "goal": f"peak memory with {size.split(' ', 1)[0]} entries in one folder <= {FOLDER_LIMIT}x the same count in pip's layout",
                    "limit": FOLDER_LIMIT,
                }
            )
    return found


def profile_engine(ctx: Context, size: int, master: Path, manifest: dict[str, Any], out_dir: Path) -> None:
    """Each engine operation once under cProfile, read-only (dry runs for removals); the top functions into files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = {
        "info": "",
        "list": "",
        "remove-glob": manifest["target"],
        "remove-name": manifest["target"],
        "purge": "",
        "prune-size": str(manifest["apparent_bytes"] // 2),
        "prune-age": str(time.time() - manifest["base_time"] + HALF_YEAR),
    }
    for operation, arg in args.items():
        target = out_dir / f"{operation}-{size}.txt"
        body = _PRELUDE + ENGINE_CODE[operation]
        cmd = [str(ctx.python), "-I", "-c", _PROFILED, str(ctx.engine_root), str(master), arg, "dry", str(target), body]
        sample = run_measured(cmd, env=ctx.pip_env)
        ctx.say(f"  profiled {operation} at {size:,}: {sample.seconds:.2f} s -> {target}")


# --------------------------------------------------------------------------------------------------
# Report


GOALS = [
    ("info <= 1.1x du -sb", lambda row: row.operation in ("info", "info-module") and row.theirs is not None and row.theirs.label == "du -sb", 1.1, "<="),
    (
        "info >= 2.5x faster than pip cache info",
        lambda row: row.operation in ("info", "info-module") and row.theirs is not None and row.theirs.label == "pip cache info",
        0.4,
        "<=",
    ),
    ("purge <= 0.9x rm -rf", lambda row: row.operation == "purge" and row.theirs is not None and row.theirs.label == "rm -rf", 0.9, "<="),
    ("purge faster than pip cache purge", lambda row: row.operation == "purge" and row.theirs is not None and row.theirs.label == "pip cache purge", 1.0, "<"),
    ("fleet report faster than the command-module equivalent", lambda row: row.operation == "fleet", 1.0, "<"),
]


def _fmt_size(size: int | str) -> str:
    return f"{size:,}" if isinstance(size, int) else str(size)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def memory_ratios(rows: list[Row], sizes: list[int]) -> list[dict[str, Any]]:
    if len(sizes) < 2:
        return []
    small, large = sizes[0], sizes[-1]
    found = []
    for operation in MEMORY_OPS:
        peaks = {row.size: row.ours.peak_mib for row in rows if row.operation == operation}
        if small in peaks and large in peaks and peaks[small]:
            found.append(
                {
                    "operation": operation,
                    "small": small,
                    "large": large,
                    "peak_small_mib": peaks[small],
                    "peak_large_mib": peaks[large],
                    "ratio": round(peaks[large] / peaks[small], 3),
                }
            )
    return found


def evaluate_goals(rows: list[Row], memory: list[dict[str, Any]]) -> list[dict[str, Any]]:
    verdicts = []
    for goal, selects, limit, how in GOALS:
        for row in rows:
            if selects(row) and row.ratio is not None:
                met = row.ratio <= limit if how == "<=" else row.ratio < limit
                verdicts.append(
                    {
                        "goal": goal,
                        "operation": row.operation,
                        "size": row.size,
                        "theirs": row.theirs.label if row.theirs else None,
                        "value": round(row.ratio, 3),
                        "limit": f"ratio {how} {limit}",
                        "met": met,
                    }
                )
    for item in memory:
        limit = item.get("limit", 1.2)
        verdicts.append(
            {
                "goal": item.get("goal") or f"peak memory at {item['large']:,} <= 1.2x at {item['small']:,}",
                "operation": item["operation"],
                "size": f"{item['large']}/{item['small']}" if "goal" not in item else item["large"],
                "value": item["ratio"],
                "limit": f"ratio <= {limit}",
                "met": item["ratio"] <= limit,
            }
        )
    return verdicts


def print_report(ctx: Context, memory: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> None:
    say = ctx.say
    say("")
    header = f"{'operation':<42} {'size':>26} {'ours s':>9} {'theirs s':>9} {'ratio':>7} {'peak MiB':>9}  theirs"
    say(header)
    say("-" * len(header) + "-" * 20)
    for row in ctx.rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        theirs = row.theirs.label if row.theirs else "-"
        say(
            f"{OPERATIONS[row.operation]:<42} {_fmt_size(row.size):>26} {_fmt(row.ours.median, '.3f'):>9} "
            f"{_fmt(row.theirs.median if row.theirs else None, '.3f'):>9} {ratio:>7} {_fmt(row.ours.peak_mib, '.1f'):>9}  {theirs}"
        )
    say("")
    say(
        "ratio = ours / theirs (median wall seconds; below 1 is faster). peak MiB: max RSS of our process, plus each helper process of"
        " an engine scan (the ansible rows: the largest of ansible and its children);"
    )
    say(f"  measured with {peak_method()}. purge/prune: {ctx.args.destructive_runs} run(s), each side on its own fresh cp -a copy.")
    by_size = [item for item in memory if "goal" not in item]
    by_folder = [item for item in memory if "goal" in item]
    if by_size:
        say("")
        say(
            "peak memory, engine operations: "
            + ", ".join(f"{item['operation']} {item['peak_small_mib']:.1f} -> {item['peak_large_mib']:.1f} MiB ({item['ratio']:.2f}x)" for item in by_size)
        )
    if by_folder:
        say("")
        say(
            "peak memory, largest folder (pip's layout -> one folder): "
            + ", ".join(
                f"{OPERATIONS[item['operation']].split(': ', 1)[1]}, {item['large'].split(' ', 1)[1]} {item['peak_small_mib']:.1f} -> "
                f"{item['peak_large_mib']:.1f} MiB ({item['ratio']:.2f}x)"
                for item in by_folder
            )
        )
    say("")
    say("Goals:")
    say("  info <= 1.1x du -sb, and >= 2.5x faster than pip cache info (ratio <= 0.4)")
    say("  purge <= 0.9x rm -rf, and faster than pip cache purge")
    say("  peak memory at 1,000,000 files <= 1.2x the figure at 100,000")
    say(f"  peak memory with {ctx.args.folder_entries:,} entries in one folder <= {FOLDER_LIMIT}x the same count in pip's layout (scan, dry-run prune)")
    say("  fleet report faster than the command-module equivalent")
    if not verdicts:
        say("  (nothing measured to read against the goals)")
    for verdict in verdicts:
        mark = "met" if verdict["met"] else "NOT MET"
        where = f"{OPERATIONS[verdict['operation']]:<36} {_fmt_size(verdict['size']):>18}"
        say(f"  {mark:<8} {verdict['goal']:<56} {where}  {verdict['value']:.2f} ({verdict['limit']}){_startup_note(ctx, verdict)}")
    for goal, _selects, _limit, _how in GOALS:
        if not any(verdict["goal"] == goal for verdict in verdicts):
            say(f"  {'-':<8} {goal:<56} not measured in this run")
    if not by_size:
        say(f"  {'-':<8} {'peak memory at the largest size <= 1.2x at the smallest':<56} not measured in this run (needs two sizes)")
    if not by_folder:
        say(f"  {'-':<8} {'peak memory with one large folder <= 1.2x pip layout':<56} not measured in this run (the folder group)")
    failed = [check for check in ctx.checks if not check["ok"]]
    say("")
    say(
        f"checks: {len(ctx.checks) - len(failed)} of {len(ctx.checks)} passed"
        + ("" if not failed else ": " + "; ".join(f"{check['check']} at {check['size']}" for check in failed))
    )
    say(f"note: {FLEET_NOTE}")
    if any(size > ctx.args.destructive_max for size in ctx.args.size_list):
        say(f"note: above {ctx.args.destructive_max:,} files purge and prune ran as dry runs only (--destructive-max / DESTRUCTIVE_MAX)")
    for error in ctx.errors:
        say(f"ERROR: {error}")


def _startup_note(ctx: Context, verdict: dict[str, Any]) -> str:
    """For a module row that missed its goal: the share ansible's own start-up takes of the limit, same size, same run."""
    if verdict["met"] or verdict["operation"] != "info-module":
        return ""
    startup = next((row.ours.median for row in ctx.rows if row.operation == "ansible-startup" and row.size == verdict["size"]), None)
    rows = [row for row in ctx.rows if row.operation == "info-module" and row.size == verdict["size"]]
    theirs = next((row.theirs for row in rows if row.theirs is not None and row.theirs.label == verdict["theirs"]), None)
    if startup is None or theirs is None or not theirs.median:
        return ""
    return f"; ansible -m ping alone: {startup / theirs.median:.2f}x {theirs.label}"


def _versions(ctx: Context) -> dict[str, Any]:
    def first_line(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False, env=ctx.pip_env).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    galaxy = (REPO / "galaxy.yml").read_text(encoding="utf-8")
    version = next((line.split(":", 1)[1].strip() for line in galaxy.splitlines() if line.startswith("version:")), "?")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "plugins"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "python": platform.python_version(),
        "ansible": first_line([str(ctx.ansible), "--version"]),
        "pip": f"{ctx.pip.version} (Python {'.'.join(map(str, ctx.pip.python_version))})",
        "du": first_line(["du", "--version"]),
        "collection": f"fleet.cache {version}",
        "commit": commit + (" (plugins/ modified)" if dirty else ""),
        "generator": cachegen.GENERATOR_VERSION,
    }


def _machine(store: Path) -> dict[str, Any]:
    memory = 0
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    with contextlib.suppress(OSError):
        model = next(
            (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines() if line.startswith("model name")), "?"
        )
    filesystem = "?"
    with contextlib.suppress(OSError):
        best = ""
        for line in Path("/proc/mounts").read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 4 and str(store.resolve()).startswith(parts[1]) and len(parts[1]) >= len(best):
                best, filesystem = parts[1], f"{parts[2]} on {parts[1]} ({parts[3]})"
    return {
        "cores": os.cpu_count(),
        "memory_bytes": memory,
        "memory_gib": round(memory / 2**30, 1),
        "cpu": model,
        "kernel": platform.release(),
        "filesystem": filesystem,
    }


def write_json(ctx: Context, started: datetime.datetime, load_start: list[float], memory: list[dict[str, Any]], verdicts: list[dict[str, Any]]) -> Path:
    results = ctx.store / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"bench-{started.strftime('%Y%m%d-%H%M%S')}{'-smoke' if ctx.args.smoke else ''}.json"
    document = {
        "date": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": dict(_machine(ctx.store), loadavg_start=load_start, loadavg_end=loadavg(), pressure_end=pressure()),
        "versions": _versions(ctx),
        "config": {
            "sizes": ctx.args.size_list,
            "runs": {str(size): count for size, count in ctx.args.run_counts.items()},
            "destructive_max": ctx.args.destructive_max,
            "destructive_runs": ctx.args.destructive_runs,
            "peak_memory": peak_method(),
            "fleet_hosts": ctx.args.fleet_hosts,
            "fleet_files": ctx.args.fleet_files,
            "forks": ctx.args.forks,
            "seed": ctx.args.seed,
            "smoke": ctx.args.smoke,
            "groups": sorted(ctx.args.groups),
            "engine_calls": ENGINE_CALLS,
        },
        "caches": ctx.caches,
        "rows": [row.as_dict() for row in ctx.rows],
        "memory": memory,
        "goals": verdicts,
        "checks": ctx.checks,
        "errors": ctx.errors,
        "notes": [FLEET_NOTE, "copies for destructive operations: cp -a of the generated cache, not timed; page cache warm (a du -sb pass first)"],
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------


def run_size(ctx: Context, size: int) -> None:
    runs = ctx.args.run_counts[size]
    master, manifest = cachegen.ensure_cache(ctx.store / "caches", size, seed=ctx.args.seed, say=ctx.say)
    ctx.caches[str(size)] = {key: value for key, value in manifest.items() if key != "target_paths"}
    ctx.say(f"{size:,} files ({manifest['apparent_bytes'] / 1e9:.2f} GB apparent, {manifest['directories']:,} folders), {runs} run(s)")
    subprocess.run(["du", "-sb", str(master)], capture_output=True, check=False)  # warm the page cache
    groups = [
        ("info", lambda: group_info(ctx, size, master, runs)),
        ("list", lambda: group_list(ctx, size, master, runs)),
        ("remove", lambda: group_remove(ctx, size, master, manifest, runs)),
        ("purge", lambda: group_purge(ctx, size, master, manifest, ctx.args.destructive_runs)),
        ("prune", lambda: group_prune(ctx, size, master, manifest, ctx.args.destructive_runs)),
    ]
    for name, body in groups:
        if name not in ctx.args.groups:
            continue
        try:
            body()
        except (BenchError, OSError, ValueError, KeyError, subprocess.CalledProcessError) as error:
            ctx.errors.append(f"{name} at {size:,}: {error}")
            ctx.say(f"  ! {name} failed: {error}")
    if ctx.args.profile:
        profile_engine(ctx, size, master, manifest, ctx.store / "results" / "profiles")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    store = args.bench_dir.resolve()
    collections = args.collections.resolve()
    if not (collections / "ansible_collections" / "fleet" / "cache").is_dir():
        print(f"bench: the collection is not installed in {collections}; run hack/setup.sh (make bench does)", file=sys.stderr)
        return 2
    venv_bin = Path(sys.executable).parent
    ansible = venv_bin / "ansible"
    if not ansible.exists():
        print(f"bench: no ansible beside {sys.executable}; run with the controller venv's python (.venv/bin/python)", file=sys.stderr)
        return 2
    with _locked(store):
        scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=store))
        try:
            pip = piporacle.newest_pip()
            pip_env = piporacle.isolated_env(scratch / "pip-env")
            ctx = Context(args, store, scratch, _engine_root(), Path(sys.executable), pip, ansible, collections, pip_env, _ansible_env(scratch, collections))
            sizes = ", ".join(f"{size:,}" for size in args.size_list)
            runs = f"runs {args.run_counts}, purge/prune {args.destructive_runs}"
            ctx.say(f"bench: sizes {sizes}; {runs}; pip {pip.version}; {os.cpu_count()} cores; load {load_start}")
            for size in args.size_list if args.groups - {"fleet", "folder"} or args.profile else ():  # --only fleet: no per-size cache to make
                run_size(ctx, size)
            if "folder" in args.groups:
                try:
                    group_folder(ctx, min(args.run_counts.values()))
                except (BenchError, OSError, ValueError, KeyError, subprocess.CalledProcessError) as error:
                    ctx.errors.append(f"folder: {error}")
                    ctx.say(f"  ! folder failed: {error}")
            if "fleet" in args.groups:
                try:
                    group_fleet(ctx, max(args.run_counts.values()))
                except (BenchError, OSError, subprocess.CalledProcessError) as error:
                    ctx.errors.append(f"fleet: {error}")
                    ctx.say(f"  ! fleet failed: {error}")
            memory = memory_ratios(ctx.rows, args.size_list) + folder_ratios(ctx.rows)
            verdicts = evaluate_goals(ctx.rows, memory)
            print_report(ctx, memory, verdicts)
            path = write_json(ctx, started, load_start, memory, verdicts)
            ctx.say(f"\nresults: {path}")
            return 1 if ctx.errors else 0
        finally:
            remove_tree(scratch)


if __name__ == "__main__":
    sys.exit(main())
