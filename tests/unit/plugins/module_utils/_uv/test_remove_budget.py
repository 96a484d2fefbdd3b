# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Size and age budgets of a uv prune (``_uv/remove.py``, beyond uv) on caches built by hand in uv 0.4, 0.9 and 0.13
layouts with controlled mtimes: max_age's exact boundary, max_size oldest first (whole entries, an archive with its
last link), a shared archive, min_age sparing young entries (and saying the budget could not be met), the size
predicted == what ``du -sB1`` reads back, dry run == real run (tree read back), a second run removes nothing, links
out of the cache untouched, hard links, a pointer that cannot go keeping its entry."""

from __future__ import annotations

import os
import shutil
import stat
from typing import Optional

import pytest

from ansible_collections.fleet.cache.plugins.module_utils._core import fd as core_fd
from ansible_collections.fleet.cache.plugins.module_utils._core.errors import InvalidValue
from ansible_collections.fleet.cache.plugins.module_utils._uv import remove as uv_remove
from ansible_collections.fleet.cache.plugins.module_utils._uv.layout import UvVersion, buckets_for
from ansible_collections.fleet.cache.plugins.module_utils._uv.remove import UvRequest, remove
from ansible_collections.fleet.cache.tests.unit.plugins.conftest import fingerprint

pytestmark = pytest.mark.skipif(not core_fd.FD_SUPPORTED, reason="removal by descriptor is POSIX only")

VERSIONS = ("0.4.30", "0.9.21", "0.13.10")
IDX = "fdb3caac6344acb5"
NOW = 1_800_000_000
DAY = 86_400
METADATA = "metadata.msgpack"


def mp_str(text: str) -> bytes:
    raw = text.encode()
    return bytes([0xA0 | len(raw)]) + raw


def revision_http(revision: str) -> bytes:
    return b"\x92" + mp_str(revision) + b"\x90" + b"POLICY" + (6).to_bytes(8, "little")


class Built:
    """A uv cache in one uv version's layout, each entry with a known age (every file of it and its archive folder
    written ``age`` seconds before NOW), and what each entry holds (``owned``) and links (``archive``)."""

    def __init__(self, root: str, version: str, outside: str) -> None:
        self.root = root
        self.version = version
        self.buckets = buckets_for(version)
        v = self.buckets.version
        self.absolute = v < UvVersion(0, 11, 17)
        self.locks = v >= UvVersion(0, 13, 0)
        self.named_stems = v < UvVersion(0, 6, 4)
        self.outside = outside
        self.owned: dict[str, set[str]] = {}  # entry path -> its top-level paths (a folder with all it holds)
        self.archive: dict[str, Optional[str]] = {}  # entry path -> the archive it links to
        self.age: dict[str, float] = {}
        os.makedirs(root)
        self.write("CACHEDIR.TAG", b"Signature: 8a477f597d28d172789f06886806bc55", 0)
        self.write(".gitignore", b"*", 0)
        if v >= UvVersion(0, 8, 19):
            self.write(".lock", b"", 0)
        self.write(f"{self.b('sdists')}/.git", b"", 0)
        self.write(f"{self.b('sdists')}/.gitignore", b"", 0)
        self.write(f"{self.b('interpreter')}/89cce1313019dbd3.msgpack", b"i" * 1500, 0)

    def b(self, family: str) -> str:
        name = self.buckets.name(family)
        assert name is not None
        return name

    def path(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def write(self, rel: str, data: bytes, age: float) -> str:
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        os.utime(path, (NOW - age, NOW - age))
        return path

    def link(self, rel: str, target_rel: Optional[str], age: float) -> None:
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if target_rel is None:
            os.symlink(self.outside, path)
        else:
            target = self.path(target_rel)
            os.symlink(target if self.absolute else os.path.relpath(target, os.path.dirname(path)), path)
        os.utime(path, (NOW - age, NOW - age), follow_symlinks=False)

    def make_archive(self, archive_id: str, age: float, size: int = 3000) -> None:
        self.write(f"archive-v0/{archive_id}/mod_{archive_id.lower()}.py", b"x" * size, age)
        self.write(f"archive-v0/{archive_id}/pkg-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\n", age)
        for folder in (f"archive-v0/{archive_id}/pkg-1.0.dist-info", f"archive-v0/{archive_id}"):
            os.utime(self.path(folder), (NOW - age, NOW - age))

    def wheel(self, package: str, version: str, archive_id: Optional[str], age: float, *, new_archive: bool = True) -> str:
        """A wheel entry: ``<stem>`` linking ``archive_id`` (None: a link out of the cache), ``<stem>.http``, and in
        uv 0.13 ``<stem>.lock``."""
        folder = f"{self.b('wheels')}/index/{IDX}/{package}"
        stem = f"{package.replace('-', '_')}-{version}-py3-none-any" if self.named_stems else f"{version}-py3-none-any"
        if archive_id is not None and new_archive:
            self.make_archive(archive_id, age)
        self.link(f"{folder}/{stem}", f"archive-v0/{archive_id}" if archive_id is not None else None, age)
        names = {stem, f"{stem}.http"}
        self.write(f"{folder}/{stem}.http", b"h" * 300, age)
        if self.locks:
            self.write(f"{folder}/{stem}.lock", b"", age)
            names.add(f"{stem}.lock")
        entry = f"{folder}/{stem}"
        self.owned[entry] = {f"{folder}/{name}" for name in names}
        self.archive[entry] = archive_id
        self.age[entry] = age
        return entry

    def sdist(self, package: str, version: str, revision: str, archive_id: str, age: float) -> str:
        """A built source distribution: ``<version>/`` with ``.lock``, ``revision.http`` and the revision folder
        (metadata, the built wheel, its unzipped link, the unpacked sdist)."""
        entry = f"{self.b('sdists')}/index/{IDX}/{package}/{version}"
        self.write(f"{entry}/.lock", b"", age)
        self.write(f"{entry}/revision.http", revision_http(revision), age)
        dist = package.replace("-", "_")
        self.write(f"{entry}/{revision}/{METADATA}", b"\x95" + mp_str(package) + mp_str(version) + b"\x90\xc0\x90", age)
        self.write(f"{entry}/{revision}/{dist}-{version}-py3-none-any.whl", b"w" * 2000, age)
        self.make_archive(archive_id, age)
        self.link(f"{entry}/{revision}/{dist}-{version}-py3-none-any", f"archive-v0/{archive_id}", age)
        self.write(f"{entry}/{revision}/src/pyproject.toml", b"[project]\n", age)
        if self.locks:
            self.write(f"{entry}/{revision}/{version}-py3-none-any.lock", b"", age)
        self.owned[entry] = {entry}
        self.archive[entry] = archive_id
        self.age[entry] = age
        return entry

    def page(self, package: str, age: float) -> str:
        rel = f"{self.b('simple')}/index/{IDX}/{package}.rkyv"
        self.write(rel, b"s" * 900, age)
        entry = rel[: -len(".rkyv")]
        self.owned[entry] = {rel}
        self.archive[entry] = None
        self.age[entry] = age
        return entry


# --------------------------------------------------------------------------------------------------
# Reading back


def tree(root: str) -> set[str]:
    return {os.path.relpath(os.path.join(folder, name), root) for folder, dirs, files in os.walk(root) for name in dirs + files}


def under(root: str, rels: set[str]) -> set[str]:
    found = set()
    for rel in rels:
        found.add(rel)
        path = os.path.join(root, rel)
        if os.path.isdir(path) and not os.path.islink(path):
            found |= {os.path.relpath(os.path.join(folder, name), root) for folder, dirs, files in os.walk(path) for name in dirs + files}
    return found


def du(root: str) -> int:
    """``du -sB1``: disk blocks of everything (the root and folders included), a hard-linked file once."""
    seen: set[tuple[int, int]] = set()

    def one(path: str) -> int:
        info = os.lstat(path)
        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
            if (info.st_dev, info.st_ino) in seen:
                return 0
            seen.add((info.st_dev, info.st_ino))
        return info.st_blocks * 512

    total = one(root)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            total += one(os.path.join(folder, name))
    return total


def blocks_of(root: str, rels: set[str]) -> int:
    return sum(os.lstat(os.path.join(root, rel)).st_blocks * 512 for rel in under(root, rels))


def entry_size(c: Built, entry: str, *, with_archive: bool = True) -> int:
    archive = c.archive[entry]
    extra = {f"archive-v0/{archive}"} if with_archive and archive is not None else set()
    return blocks_of(c.root, c.owned[entry] | extra)


def gone_paths(c: Built, entries: list[str], archives: set[str]) -> set[str]:
    rels: set[str] = set()
    for entry in entries:
        rels |= c.owned[entry]
    return under(c.root, rels | {f"archive-v0/{archive}" for archive in archives})


def budget_request(version: str, **kwargs: object) -> UvRequest:
    return UvRequest(mode="prune", version=version, lock_timeout=5, now=NOW, **kwargs)  # type: ignore[arg-type]


def comparable(outcome: uv_remove.UvOutcome) -> dict:
    data = outcome.as_dict()
    data.pop("dry_run")
    data.pop("lock")
    return data


def run_both(c: Built, **kwargs: object) -> uv_remove.UvOutcome:
    """A dry run (it changes nothing: read back), then the real run: both say the same; the size the real run says the
    cache takes is what du reads back."""
    before = fingerprint(c.root)
    dry = remove(c.root, budget_request(c.version, dry_run=True, **kwargs), homes=[])
    assert fingerprint(c.root) == before, "a dry run changed the cache"
    real = remove(c.root, budget_request(c.version, **kwargs), homes=[])
    assert comparable(dry) == comparable(real)
    assert real.budget is not None
    assert real.budget.size_after == du(c.root)
    return real


def removed_entries(outcome: uv_remove.UvOutcome) -> dict[str, str]:
    """entry path -> why it went (max_age / max_size)."""
    assert outcome.budget is not None and not outcome.budget.items.dropped
    return {path: item.reason for path, item in outcome.budget.items.sorted_items()}


def again_nothing(c: Built, **kwargs: object) -> None:
    again = remove(c.root, budget_request(c.version, **kwargs), homes=[])
    assert not again.changed and again.budget is not None and again.budget.entries == 0 and again.errors.count == 0


def decoy_tree(path: str) -> str:
    os.makedirs(os.path.join(path, "pkg-1.0.dist-info"))
    with open(os.path.join(path, "precious.py"), "wb") as handle:
        handle.write(b"p" * 5000)
    return path


@pytest.fixture
def base(tmp_path):
    return os.path.realpath(str(tmp_path))


@pytest.fixture
def decoy(base):
    return decoy_tree(os.path.join(base, "decoy"))


def standard(root: str, version: str, outside: str) -> tuple[Built, dict[str, str]]:
    """Eight entries of distinct ages: wheels, built sdists, index pages, one wheel linking out of the cache."""
    c = Built(root, version, outside)
    entries = {
        "w1": c.wheel("alpha", "1.0", "AW1aaaaaaaaaaaaa", 30 * DAY),
        "w3": c.wheel("gamma", "1.0", None, 28 * DAY),  # its link leads out of the cache
        "s1": c.sdist("beta", "1.0", "REVbeta000000001", "AS1aaaaaaaaaaaaa", 20 * DAY + 1),
        "w2": c.wheel("alpha", "2.0", "AW2aaaaaaaaaaaaa", 20 * DAY),
        "p1": c.page("alpha", 10 * DAY),
        "s2": c.sdist("beta", "2.0", "REVbeta000000002", "AS2aaaaaaaaaaaaa", 5 * DAY),
        "p2": c.page("beta", 3 * DAY),
        "w4": c.wheel("gamma", "2.0", "AW4aaaaaaaaaaaaa", 1 * DAY),
    }
    return c, entries


def oldest_first(c: Built, entries: dict[str, str]) -> list[str]:
    return sorted(entries.values(), key=lambda entry: -c.age[entry])


@pytest.fixture(params=VERSIONS, ids=lambda version: f"uv-{version}")
def version(request):
    return request.param


# --------------------------------------------------------------------------------------------------
# max_age


def test_max_age_takes_what_is_older_and_keeps_the_exact_boundary(base, decoy, version):
    c, e = standard(os.path.join(base, "cache"), version, decoy)
    gone = [e["w1"], e["w3"], e["s1"]]  # s1 is 20 days and 1 second old: over; w2 is exactly 20 days: kept
    left = tree(c.root) - gone_paths(c, gone, {"AW1aaaaaaaaaaaaa", "AS1aaaaaaaaaaaaa"})
    w1_size = entry_size(c, e["w1"])
    decoy_before = fingerprint(decoy)
    outcome = run_both(c, max_age=20 * DAY)
    assert removed_entries(outcome) == {entry: "max_age" for entry in gone}
    assert tree(c.root) == left | {".lock"}
    budget = outcome.budget
    assert budget is not None
    assert (budget.entries, budget.by_age, budget.by_size, budget.archives, budget.within, budget.reason) == (3, 3, 0, 2, None, None)
    assert budget.size_before - budget.size_after == budget.figures.allocated == outcome.removed.allocated
    assert fingerprint(decoy) == decoy_before  # the link out of the cache went as a link
    items = dict(budget.items.sorted_items())
    assert (items[e["s1"]].kind, items[e["s1"]].package, items[e["s1"]].version) == ("sdist", "beta", "1.0")
    assert (items[e["w1"]].kind, items[e["w1"]].package, items[e["w1"]].version) == ("wheel", "alpha", "1.0")
    assert items[e["w1"]].allocated == w1_size and items[e["w1"]].mtime == NOW - 30 * DAY
    again_nothing(c, max_age=20 * DAY)


# --------------------------------------------------------------------------------------------------
# max_size


@pytest.mark.parametrize("count", [1, 3, 6])
def test_max_size_takes_the_oldest_whole_entries_first(base, decoy, version, count):
    c, e = standard(os.path.join(base, "cache"), version, decoy)
    order = oldest_first(c, e)
    total = du(c.root)
    freed = sum(entry_size(c, entry) for entry in order[:count])
    archives = {str(c.archive[entry]) for entry in order[:count] if c.archive[entry] is not None}
    left = tree(c.root) - gone_paths(c, order[:count], archives)
    outcome = run_both(c, max_size=total - freed)  # exactly the `count` oldest make up the excess
    assert removed_entries(outcome) == {entry: "max_size" for entry in order[:count]}
    assert tree(c.root) == left | {".lock"}
    budget = outcome.budget
    assert budget is not None
    assert (budget.size_before, budget.size_after, budget.within, budget.reason) == (total, total - freed, True, None)
    assert budget.kept == len(order) - count and budget.spared == 0
    again_nothing(c, max_size=total - freed)


def test_one_byte_more_takes_one_entry_more(base, decoy, version):
    c, e = standard(os.path.join(base, "cache"), version, decoy)
    order = oldest_first(c, e)
    total = du(c.root)
    freed = sum(entry_size(c, entry) for entry in order[:2])
    outcome = run_both(c, max_size=total - freed - 1)
    assert set(removed_entries(outcome)) == set(order[:3])
    assert outcome.budget is not None and outcome.budget.within is True


def test_max_size_of_nothing_keeps_uvs_markers_and_says_why_it_is_over(base, decoy, version):
    c, _e = standard(os.path.join(base, "cache"), version, decoy)
    outcome = run_both(c, max_size=0)
    budget = outcome.budget
    assert budget is not None and budget.within is False and budget.entries == 8 and budget.kept == 0
    assert budget.reason is not None and "what no budget removes" in budget.reason and "younger" not in budget.reason
    assert os.listdir(c.path("archive-v0")) == [] and os.path.isfile(c.path("CACHEDIR.TAG"))
    assert os.path.isfile(c.path(f"{c.b('interpreter')}/89cce1313019dbd3.msgpack"))


def test_age_and_size_together(base, decoy, version):
    c, e = standard(os.path.join(base, "cache"), version, decoy)
    order = oldest_first(c, e)
    total = du(c.root)
    by_age = [e["w1"], e["w3"], e["s1"]]
    size = total - sum(entry_size(c, entry) for entry in order[:5])
    outcome = run_both(c, max_age=20 * DAY, max_size=size)
    assert removed_entries(outcome) == {**{entry: "max_age" for entry in by_age}, e["w2"]: "max_size", e["p1"]: "max_size"}
    assert outcome.budget is not None and outcome.budget.size_after == size and outcome.budget.within is True


# --------------------------------------------------------------------------------------------------
# min_age


def test_min_age_spares_young_entries_and_says_the_budget_could_not_be_met(base, decoy, version):
    c, e = standard(os.path.join(base, "cache"), version, decoy)
    outcome = run_both(c, max_size=0, min_age=4 * DAY)
    young = [e["p2"], e["w4"]]  # 3 days and 1 day old
    assert set(removed_entries(outcome)) == set(e.values()) - set(young)
    for entry in young:
        assert all(os.path.lexists(c.path(rel)) for rel in c.owned[entry])
    assert os.path.isdir(c.path("archive-v0/AW4aaaaaaaaaaaaa"))
    budget = outcome.budget
    assert budget is not None and budget.within is False and budget.spared == 2
    assert budget.spared_bytes == sum(entry_size(c, entry) for entry in young)
    assert budget.reason is not None and "2 entries younger than min_age=345600s were spared" in budget.reason
    again_nothing(c, max_size=0, min_age=4 * DAY)


def test_min_age_beats_max_age(base, decoy, version):
    c, e = standard(os.path.join(base, "cache"), version, decoy)
    outcome = run_both(c, max_age=2 * DAY, min_age=4 * DAY)
    assert set(removed_entries(outcome)) == set(e.values()) - {e["p2"], e["w4"]}
    assert outcome.budget is not None and outcome.budget.spared == 2 and outcome.budget.within is None


# --------------------------------------------------------------------------------------------------
# A shared archive


def shared(root: str, version: str, outside: str, *, same_second: bool = False) -> tuple[Built, str, str, str]:
    """Two wheels linking one archive (alpha newer than beta), one more wheel of its own. ``same_second``: alpha and
    beta in one second of the histogram, the newer one (alpha) met first."""
    c = Built(root, version, outside)
    older, newer = (10 * DAY - 0.2, 10 * DAY - 0.7) if same_second else (10 * DAY, 5 * DAY)
    beta = c.wheel("beta", "1.0", "SHAREDaaaaaaaaaa", older)  # the archive was unpacked for beta
    alpha = c.wheel("alpha", "1.0", "SHAREDaaaaaaaaaa", newer, new_archive=False)
    gamma = c.wheel("gamma", "1.0", "OWNaaaaaaaaaaaaa", 1 * DAY)
    return c, alpha, beta, gamma


def test_a_shared_archive_stays_while_a_kept_link_points_to_it(base, decoy, version):
    c, alpha, beta, _gamma = shared(os.path.join(base, "cache"), version, decoy)
    outcome = run_both(c, max_age=7 * DAY)
    assert removed_entries(outcome) == {beta: "max_age"}
    assert os.path.isdir(os.path.realpath(c.path(alpha)))  # alpha's link still leads to the archive
    assert outcome.budget is not None and outcome.budget.archives == 0
    outcome = run_both(c, max_age=2 * DAY)
    assert removed_entries(outcome) == {alpha: "max_age"} and not os.path.exists(c.path("archive-v0/SHAREDaaaaaaaaaa"))


def test_a_shared_archive_counts_with_its_last_entry(base, decoy, version):
    c, alpha, beta, _gamma = shared(os.path.join(base, "cache"), version, decoy)
    total = du(c.root)
    beta_own = entry_size(c, beta, with_archive=False)
    outcome = run_both(c, max_size=total - beta_own)  # beta alone frees its own files only: enough
    assert removed_entries(outcome) == {beta: "max_size"} and os.path.isdir(c.path("archive-v0/SHAREDaaaaaaaaaa"))
    total = du(c.root)
    outcome = run_both(c, max_size=total - 1)  # alpha must go, and the archive with it
    assert removed_entries(outcome) == {alpha: "max_size"} and not os.path.exists(c.path("archive-v0/SHAREDaaaaaaaaaa"))
    assert outcome.budget is not None and outcome.budget.within is True and outcome.budget.archives == 1


def test_an_archives_last_entry_met_first_takes_the_others_with_it(base, decoy, version):
    """alpha (newer) carries the archive and is met before beta in the same histogram second: taking alpha alone
    would free nothing of the archive, so beta goes with it and the budget is met."""
    c, alpha, beta, gamma = shared(os.path.join(base, "cache"), version, decoy, same_second=True)
    total = du(c.root)
    outcome = run_both(c, max_size=total - 1)
    assert removed_entries(outcome) == {alpha: "max_size", beta: "max_size"}
    assert not os.path.exists(c.path("archive-v0/SHAREDaaaaaaaaaa")) and os.path.lexists(c.path(gamma))
    assert outcome.budget is not None and outcome.budget.within is True


# --------------------------------------------------------------------------------------------------
# Links and hard links


def test_links_out_of_the_cache_are_never_followed(base, decoy, version):
    c = Built(os.path.join(base, "cache"), version, decoy)
    old = c.wheel("gamma", "1.0", None, 30 * DAY)
    young = c.wheel("gamma", "2.0", None, 1 * DAY)
    c.link(f"{c.b('sdists')}/index/{IDX}/x/1.0/REVx000000000001/src/out", None, 30 * DAY)
    c.write(f"{c.b('sdists')}/index/{IDX}/x/1.0/revision.http", revision_http("REVx000000000001"), 30 * DAY)
    decoy_before = fingerprint(decoy)
    outcome = run_both(c, max_age=7 * DAY)
    assert set(removed_entries(outcome)) == {old, f"{c.b('sdists')}/index/{IDX}/x/1.0"}
    assert os.path.islink(c.path(young)) and fingerprint(decoy) == decoy_before


def test_hard_links_count_once_and_the_size_said_is_what_du_reads(base, decoy, version):
    c = Built(os.path.join(base, "cache"), version, decoy)
    one = c.wheel("alpha", "1.0", "HLaaaaaaaaaaaaaa", 30 * DAY)
    two = c.wheel("beta", "1.0", "HLbbbbbbbbbbbbbb", 1 * DAY)
    three = c.wheel("gamma", "1.0", "HLcccccccccccccc", 30 * DAY)
    # a file of one's archive also in two's (inside the cache), one of gamma's in a venv (outside it)
    os.link(c.path("archive-v0/HLaaaaaaaaaaaaaa/mod_hlaaaaaaaaaaaaaa.py"), c.path("archive-v0/HLbbbbbbbbbbbbbb/shared.py"))
    os.makedirs(os.path.join(base, "venv"))
    os.link(c.path("archive-v0/HLcccccccccccccc/mod_hlcccccccccccccc.py"), os.path.join(base, "venv", "mod.py"))
    for archive in ("HLaaaaaaaaaaaaaa", "HLbbbbbbbbbbbbbb"):
        age = 30 * DAY if archive.startswith("HLa") else 1 * DAY
        os.utime(c.path(f"archive-v0/{archive}"), (NOW - age, NOW - age))
    total = du(c.root)
    outcome = run_both(c, max_age=7 * DAY)  # run_both: the size said is what du reads back
    assert set(removed_entries(outcome)) == {one, three}
    assert outcome.budget is not None and outcome.budget.size_before == total and os.path.lexists(c.path(two))
    assert os.path.isfile(c.path("archive-v0/HLbbbbbbbbbbbbbb/shared.py")) and os.path.isfile(os.path.join(base, "venv", "mod.py"))


# --------------------------------------------------------------------------------------------------
# With uv's own prune steps


def add_junk(c: Built) -> None:
    """What uv's prune removes: an orphan archive, a stale revision (linking an archive only it uses), a stray file."""
    c.make_archive("ORPHANaaaaaaaaaa", 40 * DAY)
    stale = f"{c.b('sdists')}/index/{IDX}/beta/2.0/STALErevision001"
    c.write(f"{stale}/{METADATA}", b"\x95" + mp_str("beta") + mp_str("2.0") + b"\x90\xc0\x90", 40 * DAY)
    c.make_archive("STALEaaaaaaaaaaa", 40 * DAY)
    c.link(f"{stale}/beta-2.0-py3-none-any", "archive-v0/STALEaaaaaaaaaaa", 40 * DAY)
    c.write("junk.txt", b"j" * 5000, 40 * DAY)


@pytest.mark.parametrize("ci", [False, True], ids=["prune", "prune-ci"])
def test_the_budget_counts_from_what_uvs_prune_leaves(base, decoy, version, ci):
    c, _e = standard(os.path.join(base, "cache"), version, decoy)
    add_junk(c)
    twin, _same = standard(os.path.join(base, "twin"), version, decoy)
    add_junk(twin)
    remove(twin.root, budget_request(version, ci=ci), homes=[])  # uv's prune alone
    pruned = du(twin.root)
    outcome = run_both(c, max_size=pruned // 2, ci=ci)
    budget = outcome.budget
    assert budget is not None and budget.size_before == pruned and budget.within is True and budget.entries > 0
    assert not os.path.exists(c.path("archive-v0/ORPHANaaaaaaaaaa")) and not os.path.exists(c.path("junk.txt"))
    assert 0 < budget.figures.allocated < outcome.removed.allocated  # uv's steps removed something too
    linked = [os.path.join(folder, name) for folder, dirs, files in os.walk(c.root) for name in files if os.path.islink(os.path.join(folder, name))]
    assert all(os.path.isdir(os.path.realpath(path)) for path in linked if "decoy" not in os.path.realpath(path))
    again_nothing(c, max_size=pruned // 2, ci=ci)


# --------------------------------------------------------------------------------------------------
# A pointer that cannot go keeps its entry


@pytest.mark.parametrize("pointer", ["wheel", "sdist"])
def test_a_pointer_that_cannot_go_keeps_its_entry_and_archive(base, decoy, version, pointer, monkeypatch):
    c = Built(os.path.join(base, "cache"), version, decoy)
    entry = (
        c.wheel("alpha", "1.0", "Aaaaaaaaaaaaaaaa", 30 * DAY)
        if pointer == "wheel"
        else c.sdist("alpha", "1.0", "REValpha00000001", "Aaaaaaaaaaaaaaaa", 30 * DAY)
    )
    stuck = ".http" if pointer == "wheel" else "revision.http"
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if str(path).endswith(stuck):
            raise PermissionError(1, "Operation not permitted")
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    before = tree(c.root)
    outcome = remove(c.root, budget_request(version, max_size=0), homes=[])
    assert outcome.errors.count == 1 and tree(c.root) == before | {".lock"}
    assert os.path.isdir(os.path.realpath(c.path(entry if pointer == "wheel" else f"{entry}/REValpha00000001/alpha-1.0-py3-none-any")))
    budget = outcome.budget
    assert budget is not None and budget.entries == 0 and budget.within is False and budget.reason is not None
    assert "could not be removed" in budget.reason and budget.size_after == du(c.root)


# --------------------------------------------------------------------------------------------------
# The request


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"mode": "prune", "max_size": -1}, "max_size"),
        ({"mode": "prune", "max_age": "1d"}, "max_age"),
        ({"mode": "prune", "max_size": True}, "max_size"),
        ({"mode": "prune", "min_age": -5}, "min_age"),
        ({"mode": "purge", "max_age": 60}, "max_age"),
        ({"mode": "clean", "packages": ["x"], "max_size": 0}, "max_size"),
        ({"mode": "purge", "min_age": 600}, "min_age"),
        ({"mode": "prune", "min_age": 600}, "min_age"),
        ({"mode": "clean", "packages": ["x"], "min_age": 600}, "min_age"),
    ],
)
def test_budget_options_are_checked_before_anything(base, kwargs, option):
    os.makedirs(os.path.join(base, "cache", "wheels-v8"))
    with pytest.raises(InvalidValue) as caught:
        remove(os.path.join(base, "cache"), UvRequest(**kwargs), homes=[])
    assert caught.value.option == option
    assert os.listdir(os.path.join(base, "cache")) == ["wheels-v8"]


def test_without_a_budget_there_is_none(base, decoy):
    c, _e = standard(os.path.join(base, "cache"), "0.13.10", decoy)
    shutil.copytree(c.root, os.path.join(base, "copy"), symlinks=True)
    plain = remove(c.root, UvRequest(mode="prune", version="0.13.10", min_age=0), homes=[])
    assert plain.budget is None and "budget" not in plain.as_dict() and not plain.changed
    clean = remove(c.root, UvRequest(mode="clean", packages=["alpha"], version="0.13.10"), homes=[])
    assert clean.budget is None and clean.changed
    data = remove(os.path.join(base, "copy"), budget_request("0.13.10", max_age=DAY), homes=[]).as_dict()["budget"]
    assert data["within_budget"] is None and data["by_age"] == data["entries"] == len(data["items"]) == 7
    assert {item["kind"] for item in data["items"]} == {"wheel", "sdist", "index page"} and data["truncated"] is False
