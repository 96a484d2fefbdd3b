# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The scheduled job's command line (fleet-cache prune, purge, give-back, move) over the engine.

A command line over the engine, for hosts without Ansible: the job that the pip_cache_policy
role schedules runs it. ``prune`` and ``purge`` resolve, scan and remove exactly as the
pip_cache module does; ``fix-ownership`` and ``move`` are the role's upkeep. It prints a
one-line summary (or JSON with ``--json``) and exits 0, or 1 when something failed.

    python -m fleet_cache_engine._cli prune --user all --max-size 2GB --max-age 30d --min-age 5m

Standard library only: the engine ships as one archive (the package fleet_cache_engine) beside a small launcher.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Optional

from ._core.cache_root import unsafe_reason
from ._core.errors import CacheError, InvalidValue, UnsafeCacheDir
from ._core.ownership import give_back
from ._core.privilege import run_as
from ._core.relocate import Move, move_content, mover_of
from ._core.units import human_size
from ._pip.remove import PURGE_EXTRAS, Request, check_cache_dir
from ._pip.targets import Target, homes, targets
from ._tasks.pip_cache import build_request, remove_each

PROG = "fleet-cache"


def _flag(option: Optional[str]) -> Optional[str]:
    return "--" + option.replace("_", "-") if option else None


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
        for target in targets(params, resolve_commands=False):
            if target.account.name not in seen:
                seen.add(target.account.name)
                found.append(target)
    return found


def _request(args: argparse.Namespace) -> Request:
    """The pip_cache module's request (build_request) from the command's options."""
    if args.command == "prune" and args.max_age is None and args.max_size is None and not args.ci:
        raise InvalidValue("give --max-age, --max-size or --ci")
    params = {
        "state": "purged" if args.command == "purge" else "pruned",
        "purge_extras": getattr(args, "purge_extras", None) or [],
        "min_age": args.min_age,
        "max_age": getattr(args, "max_age", None),
        "max_size": getattr(args, "max_size", None),
        "ci": bool(getattr(args, "ci", False)),
    }
    try:
        return build_request(params)
    except CacheError as error:  # named as the command line names the option
        if error.option and not error.option.startswith("--"):
            error.option = _flag(error.option)
        raise


def run_removal(args: argparse.Namespace) -> dict[str, Any]:
    """prune or purge every cache the users' pip uses, each distinct directory once, as the pip_cache module does."""
    request = _request(args)
    warnings: list[str] = []
    result, error_count = remove_each(_targets(args), request, dry_run=args.dry_run, limit=0, allow_unsafe=args.allow_unsafe_cache_dir, warn=warnings.append)
    result["removed"] = {key: value for key, value in result["removed"].items() if key not in ("largest", "largest_truncated")}
    for item in result["caches"]:
        for key in ("largest", "largest_truncated"):
            item.get("removed", {}).pop(key, None)
    return dict(result, warnings=warnings, error_count=error_count)


def run_fix_ownership(args: argparse.Namespace) -> dict[str, Any]:
    """Give each user back what root owns in their own cache, found as pip finds it (even when pip disabled it for that).

    Root's work, by descriptor (see ``give_back``). A user whose configuration could not be read is that user's
    entry and a warning; the command fails only when no user could be handled.
    """
    caches: list[dict[str, Any]] = []
    warnings: list[str] = []
    failed: list[str] = []
    error_count = 0
    found = _targets(args)
    for target in found:
        account = target.account
        if target.resolution is None:
            failed.append(account.name)
            warnings.append(f"{account.name}: {target.failure}; nothing is given back to this user, the others go on")
            caches.append({"cache_dir": None, "user": account.name, "entries": 0, "failed": True, "error": target.failure})
            continue
        directory = target.resolution.cache_dir or target.resolution.configured_dir
        if directory is None or account.uid is None or account.gid is None or account.uid == 0:
            continue
        outcome = give_back(directory, user=account.name, uid=account.uid, gid=account.gid, home=account.home, dry_run=args.dry_run)
        error_count += outcome.errors.count
        if outcome.left_alone.count:
            first = outcome.left_alone.items[0]
            warnings.append(f"{account.name}: {outcome.left_alone.count} entries in {directory} left as they are, first: {first['path']}: {first['reason']}")
        caches.append(outcome.as_dict())
    if failed and len(failed) == len(found):
        error_count += len(failed)
    entries = sum(item["entries"] for item in caches)
    return {"changed": entries > 0, "entries": entries, "caches": caches, "warnings": warnings, "error_count": error_count, "failed_users": failed}


def run_move(args: argparse.Namespace) -> dict[str, Any]:
    """Move what each --from directory (or each user's cache, as resolved now) holds into --to.

    --to is refused before anything moves when it is /, a file-system root, a home or system folder. Each source is
    moved as the user whose cache it is (``mover_of``: the folder's owner, or the owner of the nearest folder above it
    that root does not own), so a folder swapped under the move reaches only that user's own files; root moves only
    what root alone owns. What that user cannot move is reported, never moved by root instead.
    """
    refused = homes()
    if not args.allow_unsafe_cache_dir:
        unsafe = unsafe_reason(args.to, homes=refused)
        if unsafe is not None:
            raise UnsafeCacheDir(f"refusing to move a cache into {unsafe[0]}: it is {unsafe[1]}", option="--to", path=unsafe[0])
    destination = os.path.realpath(args.to)  # absolute before any work: a child acting as a user starts in /
    warnings: list[str] = []
    sources: list[str] = list(args.sources or [])
    if not sources:
        for target in _targets(args):
            if target.resolution is None:
                warnings.append(f"{target.account.name}: {target.failure}; this user's cache is not moved, the others go on")
            elif target.resolution.cache_dir:
                sources.append(target.resolution.cache_dir)
    moves: list[dict[str, Any]] = []
    seen: set[str] = set()
    for source in sources:
        real = os.path.realpath(source)
        if real in seen:
            continue
        seen.add(real)
        check_cache_dir(real, homes=refused, allow_unsafe=args.allow_unsafe_cache_dir)
        identity, refusal = mover_of(real)
        if refusal is not None:
            warnings.append(f"{real}: {refusal}")
            moves.append(dict(Move(real, destination, skipped=refusal).as_dict(), moved_as=None))
            continue

        def work(real: str = real) -> dict[str, Any]:
            return move_content(real, destination, dry_run=args.dry_run).as_dict()

        try:
            item = run_as(identity, work)
        except (InvalidValue, UnsafeCacheDir):
            raise
        except CacheError as error:  # the process acting for that user failed: that source's entry
            item = dict(Move(real, destination).as_dict(), errors=[{"path": real, "error": str(error)}], error_count=1)
        item["moved_as"] = identity.name if identity is not None else None
        if item["left_alone_count"]:
            first = item["left_alone"][0]
            warnings.append(f"{real}: {item['left_alone_count']} entries left where they are, first: {first['path']}: {first['reason']}")
        moves.append(item)
    files = sum(item["files"] + item["duplicates"] for item in moves)
    dirs = sum(item["dirs_removed"] for item in moves)
    return {
        "changed": files > 0 or dirs > 0,
        "moved": {
            "files": sum(item["files"] for item in moves),
            "bytes": sum(item["bytes"] for item in moves),
            "duplicates": sum(item["duplicates"] for item in moves),
        },
        "caches": moves,
        "warnings": warnings,
        "error_count": sum(item["error_count"] for item in moves),
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
    prune.add_argument("--max-size", help="the most the cache may hold: 2GB, 500MiB, 7B (a number needs its unit; 0 needs none)")
    prune.add_argument("--max-age", help="remove entries older than this: 30d, 12h, 90m, 45s (a number needs its unit; 0 needs none)")
    prune.add_argument("--ci", action="store_true", help="drop every HTTP-cached download, keep locally built wheels")
    prune.add_argument("--min-age", default="0", help="spare entries younger than this (what a running pip writes): 5m, 45s; default %(default)s")

    purge = commands.add_parser("purge", help="what 'pip cache purge' removes")
    common(purge)
    purge.add_argument("--purge-extras", action="append", choices=PURGE_EXTRAS, help="also remove this (repeatable)")
    purge.add_argument("--min-age", default="0", help="spare entries younger than this: 5m, 45s; default %(default)s")

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
