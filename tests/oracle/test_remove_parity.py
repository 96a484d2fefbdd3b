"""pip_cache's engine against real pip: remove and purge leave the same tree, file by file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from engine import remove, scan
from piporacle import OraclePip, isolated_env, pip_cache_purge, pip_cache_remove, tree_snapshot

PATTERNS = ["TinyYAML", "tinyyaml", "tiny_requests", "tiny-requests", "zope*", "*-1.1*", "Simple-1.1", "nomatch", "*"]


def _two_copies(template: Path, tmp_path: Path) -> tuple[Path, Path]:
    theirs, ours = tmp_path / "pip", tmp_path / "ours"
    shutil.copytree(template, theirs, symlinks=True)
    shutil.copytree(template, ours, symlinks=True)
    return Path(os.path.realpath(theirs)), Path(os.path.realpath(ours))


def _cleanup_only(path: str, kind: str) -> bool:
    """What pip >= 26.0 removes beyond the matching files: emptied folders, their leftovers, selfcheck.json."""
    if path == "selfcheck.json":
        return True
    bucket = path.split("/", 1)[0]
    if bucket in ("http", "http-v2"):
        return kind == "d"
    if bucket == "wheels":
        return kind == "d" or not path.endswith(".whl")
    return False


def _compare(pip: OraclePip, theirs: Path, ours: Path) -> None:
    pip_tree, our_tree = tree_snapshot(theirs), tree_snapshot(ours)
    if pip.key >= (26, 0):
        assert our_tree == pip_tree
        return
    # Older pips remove the same files and leave their emptied folders: ours is pip's tree less the clean-up.
    assert set(our_tree) <= set(pip_tree)
    extra = {path: kind for path, (kind, _size) in pip_tree.items() if path not in our_tree}
    assert all(_cleanup_only(path, kind) for path, kind in extra.items()), extra


@pytest.mark.parametrize("pattern", PATTERNS, ids=lambda value: f"pattern={value}")
def test_remove_glob_matches_pip(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path, pattern: str) -> None:
    theirs, ours = _two_copies(template_caches[oracle_pip.version], tmp_path)
    untouched = tree_snapshot(ours)
    result = pip_cache_remove(oracle_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)), pattern)
    request = remove.Request(mode="absent", matcher=scan.NameMatcher(glob=pattern), http_all=pattern == "*")
    predicted = remove.remove(str(ours), request, dry_run=True)
    assert tree_snapshot(ours) == untouched, "a dry run changes nothing on disk"
    done = remove.remove(str(ours), request, dry_run=False)
    _compare(oracle_pip, theirs, ours)
    assert predicted.as_dict() == done.as_dict()
    whl_removed = [path for path in done.as_dict()["paths"] if path.endswith(".whl")]
    if pattern in ("nomatch", "tinyyaml", "tiny-requests"):
        assert result.warning_no_match and not whl_removed
    else:
        assert whl_removed, "the pattern selects at least one wheel in this cache"


def test_purge_matches_pip(oracle_pip: OraclePip, template_caches: dict[str, Path], tmp_path: Path) -> None:
    theirs, ours = _two_copies(template_caches[oracle_pip.version], tmp_path)
    (ours / "selfcheck.json").write_text("{}")
    (theirs / "selfcheck.json").write_text("{}")
    pip_cache_purge(oracle_pip, isolated_env(tmp_path / "env", PIP_CACHE_DIR=str(theirs)))
    request = remove.Request(mode="purged")
    predicted = remove.remove(str(ours), request, dry_run=True)
    done = remove.remove(str(ours), request, dry_run=False)
    assert predicted.as_dict() == done.as_dict()
    _compare(oracle_pip, theirs, ours)
    assert not (ours / "wheels").exists() or not any(path.endswith(".whl") for path in tree_snapshot(ours / "wheels"))
    again = remove.remove(str(ours), request, dry_run=False)
    assert (again.files, again.dirs) == (0, 0), "a second purge finds nothing"
