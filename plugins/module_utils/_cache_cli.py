# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the fleet.cache collection: not a public API, it may change at any time.

A command line over the engine, for hosts without Ansible: the job that the pip_cache_policy
role schedules runs it. ``prune`` and ``purge`` resolve, scan and remove exactly as the
pip_cache module does; ``fix-ownership`` and ``move`` are the role's upkeep. It prints a
one-line summary (or JSON with ``--json``) and exits 0, or 1 when something failed.

    python -m fleet_cache_engine._cache_cli prune --user all --max-size 2GB --max-age 30d --min-age 5m

Standard library only: the engine's files are copied as one package next to a small launcher.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

from ._cache_common import CacheError, InvalidValue, human_size, parse_duration, parse_size
from ._cache_maintain import give_back, move_content
from ._cache_module import Target, host_platform, targets
from ._cache_remove import PURGE_EXTRAS, Request, check_cache_dir, remove
from ._cache_scan import NameMatcher, scan

PROG = "fleet-cache"


class _Options:
    """What the engine's target resolution reads from a module: its params."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    def run_command(self, args: list[str]) -> tuple[int, str, str]:  # pragma: no cover - only with a python option, never set here
        raise InvalidValue("not available from the command line", option="python")


def _environment(pairs: Optional[list[str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InvalidValue(f"expected NAME=VALUE, got {pair!r}", option="--env")
        result[name] = value
    return result


def _targets(args: argparse.Namespace) -> list[Target]:
    """The same resolution as the modules' (``targets``), for each --user (or the current user)."""
    environment = _environment(args.env)
    found: list[Target] = []
    seen: set[str] = set()
    for user in args.user or [None]:
        params = {"user": user, "cache_dir": args.cache_dir, "python": None, "environment": environment, "command": "cache"}
        for target in targets(_Options(params), resolve_commands=False):
            if target.account.name not in seen:
                seen.add(target.account.name)
                found.append(target)
    return found


def _homes() -> list[str]:
    """Home folders the removal refuses to treat as a cache (as the pip_cache module does)."""
    homes: list[str] = []
    try:
        import pwd

        homes.extend(entry.pw_dir for entry in pwd.getpwall() if entry.pw_dir not in ("/", ""))
    except ImportError:
        pass
    homes.append(os.environ.get("HOME", ""))
    return homes


def _request(args: argparse.Namespace) -> Request:
    min_age = parse_duration(args.min_age, option="--min-age")
    if args.command == "purge":
        case_insensitive = host_platform() == "win32"
        return Request(
            mode="purged", purge_extras=frozenset(args.purge_extras or []), min_age=min_age, matcher=NameMatcher(glob="*", case_insensitive=case_insensitive)
        )
    if args.max_age is None and args.max_size is None and not args.ci:
        raise InvalidValue("give --max-age, --max-size or --ci")
    max_age = parse_duration(args.max_age, option="--max-age") if args.max_age is not None else None
    max_size = parse_size(args.max_size, option="--max-size") if args.max_size is not None else None
    return Request(mode="pruned", max_age=max_age, max_size=max_size, ci=args.ci, min_age=min_age)


def run_removal(args: argparse.Namespace) -> dict[str, Any]:
    """prune or purge every cache the users' pip uses, each distinct directory once."""
    request = _request(args)
    homes = _homes()
    caches: list[dict[str, Any]] = []
    by_dir: dict[str, dict[str, Any]] = {}
    totals = {"files": 0, "dirs": 0, "entries": 0, "bytes": 0}
    before_all = {"entries": 0, "files": 0, "bytes": 0}
    after_all = {"entries": 0, "files": 0, "bytes": 0}
    warnings: list[str] = []
    error_count = 0
    for target in _targets(args):
        resolution = target.resolution
        warnings.extend(f"{target.account.name}: {warning}" for warning in resolution.warnings)
        directory = resolution.cache_dir
        if directory is None:
            caches.append({"cache_dir": None, "users": [target.account.name], "source": resolution.source, "disabled_reason": resolution.disabled_reason})
            continue
        if directory in by_dir:
            by_dir[directory]["users"].append(target.account.name)
            continue
        check_cache_dir(directory, homes=homes, allow_unsafe=args.allow_unsafe_cache_dir)
        before_scan = scan(directory)
        outcome = remove(directory, request, dry_run=args.dry_run, list_limit=0, total_bytes=before_scan.total.bytes)
        warnings.extend(outcome.warnings)
        error_count += outcome.errors.count
        total = before_scan.total
        before = {"entries": total.entries, "files": total.files, "bytes": total.bytes}
        after = {key: max(0, before[key] - getattr(outcome, key)) for key in before}
        removed = outcome.as_dict()
        for key in ("paths", "paths_truncated"):
            removed.pop(key)
        item = {"cache_dir": directory, "users": [target.account.name], "source": resolution.source, "removed": removed, "before": before, "after": after}
        by_dir[directory] = item
        caches.append(item)
        for key in totals:
            totals[key] += removed[key]
        for key in before_all:
            before_all[key] += before[key]
            after_all[key] += after[key]
    return {
        "changed": totals["files"] > 0 or totals["dirs"] > 0,
        "removed": dict(totals, freed=human_size(totals["bytes"])),
        "before": before_all,
        "after": after_all,
        "caches": caches,
        "warnings": warnings,
        "error_count": error_count,
    }


def run_fix_ownership(args: argparse.Namespace) -> dict[str, Any]:
    """Give each user back what root owns in their own cache, found as pip finds it (even when pip disabled it for that)."""
    caches: list[dict[str, Any]] = []
    error_count = 0
    for target in _targets(args):
        account = target.account
        directory = target.resolution.cache_dir or target.resolution.configured_dir
        if directory is None or account.uid is None or account.gid is None or account.uid == 0:
            continue
        outcome = give_back(directory, user=account.name, uid=account.uid, gid=account.gid, home=account.home, dry_run=args.dry_run)
        error_count += outcome.errors.count
        caches.append(outcome.as_dict())
    entries = sum(item["entries"] for item in caches)
    return {"changed": entries > 0, "entries": entries, "caches": caches, "warnings": [], "error_count": error_count}


def run_move(args: argparse.Namespace) -> dict[str, Any]:
    """Move what each --from directory (or each user's cache, as resolved now) holds into --to."""
    sources: list[str] = list(args.sources or [])
    if not sources:
        sources = [target.resolution.cache_dir for target in _targets(args) if target.resolution.cache_dir]
    moves = []
    seen: set[str] = set()
    homes = _homes()
    for source in sources:
        real = os.path.realpath(source)
        if real in seen:
            continue
        seen.add(real)
        check_cache_dir(real, homes=homes, allow_unsafe=args.allow_unsafe_cache_dir)
        moves.append(move_content(real, args.to, dry_run=args.dry_run))
    files = sum(item.files + item.duplicates for item in moves)
    dirs = sum(item.dirs_removed for item in moves)
    return {
        "changed": files > 0 or dirs > 0,
        "moved": {"files": sum(item.files for item in moves), "bytes": sum(item.bytes for item in moves), "duplicates": sum(item.duplicates for item in moves)},
        "caches": [item.as_dict() for item in moves],
        "warnings": [],
        "error_count": sum(item.errors.count for item in moves),
    }


def summary(command: str, result: dict[str, Any], *, dry_run: bool) -> str:
    """The one line printed for people (and for a scheduler's log)."""
    note = " (dry run)" if dry_run else ""
    errors = f"; {result['error_count']} path(s) failed" if result.get("error_count") else ""
    if command in ("prune", "purge"):
        acted = [item for item in result["caches"] if item.get("cache_dir")]
        disabled = len(result["caches"]) - len(acted)
        removed = result["removed"]
        users = sorted({user for item in acted for user in item["users"]})
        return (
            f"{PROG} {command}{note}: {len(acted)} cache(s) ({', '.join(users) or 'none'})"
            + (f", {disabled} disabled" if disabled else "")
            + f"; removed {removed['entries']} entries, {removed['files']} files, {removed['freed']}; "
            + f"{human_size(result['before']['bytes'])} -> {human_size(result['after']['bytes'])}{errors}"
        )
    if command == "fix-ownership":
        return f"{PROG} fix-ownership{note}: {result['entries']} entries given back in {len(result['caches'])} cache(s){errors}"
    moved = result["moved"]
    return (
        f"{PROG} move{note}: {moved['files']} files, {human_size(moved['bytes'])} moved from {len(result['caches'])} cache(s); "
        f"{moved['duplicates']} duplicates dropped{errors}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Prune, purge and look after pip's caches with the fleet.cache engine.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    def common(sub: argparse.ArgumentParser, *, cache_dir: bool = True) -> None:
        where = sub.add_mutually_exclusive_group()
        if cache_dir:
            where.add_argument("--cache-dir", help="act on this directory, as pip's --cache-dir would set it")
        where.add_argument("--user", action="append", help="whose cache: a user name or 'all' (repeatable; default: the current user)")
        sub.add_argument("--env", action="append", metavar="NAME=VALUE", help="a variable the users' pip sees (repeatable)")
        sub.add_argument("--dry-run", action="store_true", help="change nothing, say what would change")
        sub.add_argument("--json", action="store_true", help="print the result as JSON instead of one line")
        sub.add_argument("--allow-unsafe-cache-dir", action="store_true", help="act on a cache that is a home, system or root folder")
        sub.set_defaults(cache_dir=None)

    prune = commands.add_parser("prune", help="remove entries oldest first until within --max-size and --max-age")
    common(prune)
    prune.add_argument("--max-size", help="the most the cache may hold: 2GB, 500MiB or bytes")
    prune.add_argument("--max-age", help="remove entries older than this: 30d, 12h, 90m or seconds")
    prune.add_argument("--ci", action="store_true", help="drop every HTTP-cached download, keep locally built wheels")
    prune.add_argument("--min-age", default="0", help="spare entries younger than this (what a running pip writes); default 0")

    purge = commands.add_parser("purge", help="what 'pip cache purge' removes")
    common(purge)
    purge.add_argument("--purge-extras", action="append", choices=PURGE_EXTRAS, help="also remove this (repeatable)")
    purge.add_argument("--min-age", default="0", help="spare entries younger than this; default 0")

    fix = commands.add_parser("fix-ownership", help="give users back what root owns in their own cache")
    common(fix, cache_dir=False)

    move = commands.add_parser("move", help="move pip's buckets into another cache directory")
    common(move, cache_dir=False)
    move.add_argument("--from", dest="sources", action="append", metavar="DIR", help="a cache directory to empty (repeatable; default: the users' caches)")
    move.add_argument("--to", required=True, metavar="DIR", help="the cache directory to move into")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 1
    runners = {"prune": run_removal, "purge": run_removal, "fix-ownership": run_fix_ownership, "move": run_move}
    try:
        result = runners[args.command](args)
    except CacheError as error:
        sys.stderr.write(f"{PROG} {args.command}: error: {error}\n")
        return 1
    result["dry_run"] = args.dry_run
    for warning in result["warnings"]:
        sys.stderr.write(f"{PROG} {args.command}: warning: {warning}\n")
    sys.stdout.write((json.dumps(result, sort_keys=True) if args.json else summary(args.command, result, dry_run=args.dry_run)) + "\n")
    return 1 if result.get("error_count") else 0


if __name__ == "__main__":
    raise SystemExit(main())
