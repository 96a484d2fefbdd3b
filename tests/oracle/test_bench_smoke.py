# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make bench` cannot rot: bench/run.py --smoke on a tiny cache yields every row of the table, with numbers.

Nothing here asserts a speed: the smoke cache is a few hundred files and one run, too small to mean anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN = REPO_ROOT / "bench" / "run.py"

# operation -> the baselines its rows are measured against (None: a row of its own)
EXPECTED = {
    "info": {"pip cache info", "du -sb"},
    "info-module": {"pip cache info", "du -sb"},
    "ansible-startup": {None},
    "list": {"pip cache list"},
    "remove-glob": {"pip cache remove PyYAML"},
    "remove-name": {None},
    "purge": {"pip cache purge", "rm -rf"},
    "purge-dry": {None},
    "prune-size": {None},
    "prune-size-dry": {None},
    "prune-age": {None},
    "prune-age-dry": {None},
    "fleet": {"ansible all -m command -a 'pip cache info'"},
    "folder-info": {None},  # the largest-folder group: peak memory with one folder holding the entries
    "folder-prune": {None},
}


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def test_bench_smoke(tmp_path: Path) -> None:
    python = Path(sys.executable)
    if not (python.parent / "ansible").exists():
        pytest.skip(f"no ansible beside {python}: run with the controller venv (hack/setup.sh)")
    collections = Path(os.environ.get("FLEET_CACHE_COLLECTIONS_PATH") or REPO_ROOT / ".build" / "collections")
    if not (collections / "ansible_collections" / "fleet" / "cache").is_dir():
        pytest.skip(f"the collection is not installed in {collections}: run hack/setup.sh")
    bench_dir = tmp_path / "bench"
    proc = subprocess.run(
        [str(python), str(RUN), "--smoke", "--bench-dir", str(bench_dir), "--collections", str(collections)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-6000:]
    results = sorted((bench_dir / "results").glob("bench-*-smoke.json"))
    assert len(results) == 1, proc.stdout[-3000:]
    assert f"results: {results[0]}" in proc.stdout
    document = json.loads(results[0].read_text(encoding="utf-8"))

    assert document["date"] and document["machine"]["cores"] >= 1 and document["machine"]["memory_bytes"] > 0
    assert {"python", "ansible", "pip", "collection", "commit"} <= set(document["versions"])
    assert document["errors"] == []
    assert document["checks"] and all(check["ok"] for check in document["checks"]), document["checks"]

    found: dict[str, set[str | None]] = {}
    for row in document["rows"]:
        found.setdefault(row["operation"], set()).add(row["theirs"]["label"] if row["theirs"] else None)
        ours = row["ours"]
        assert _positive(ours["median_s"]) and ours["runs_s"] and all(_positive(value) for value in ours["runs_s"]), row
        assert _positive(ours["peak_mib"]), row
        # Each run's helper processes (none on a cache this small) are listed, and counted in its peak.
        assert len(ours["helper_peaks_mib"]) == len(ours["runs_s"]) and all(peaks == [] for peaks in ours["helper_peaks_mib"]), row
        if row["theirs"] is not None:
            assert _positive(row["theirs"]["median_s"]) and _positive(row["theirs"]["peak_mib"]), row
            assert _positive(row["ratio"]), row
    assert found == EXPECTED

    goals = {verdict["goal"] for verdict in document["goals"]}
    assert {"info <= 1.1x du -sb", "info >= 2.5x faster than pip cache info", "purge <= 0.9x rm -rf", "purge faster than pip cache purge"} <= goals
    assert all(isinstance(verdict["met"], bool) for verdict in document["goals"])
    assert any(goal.startswith("peak memory with 3,000 entries in one folder <=") for goal in goals), goals
    # The table and the goals are printed too, each goal marked met or not met.
    assert "Goals:" in proc.stdout and ("NOT MET" in proc.stdout or " met " in proc.stdout)


def test_helper_processes_count_in_the_peak() -> None:
    """A scan's helper processes report their peaks on stderr; the sample's peak adds them to the scanning process's."""
    sys.path.insert(0, str(RUN.parent))
    try:
        import measure
    finally:
        sys.path.remove(str(RUN.parent))
    line = f"{measure.HELPER_PEAKS}[2048, 1024]"
    sample = measure.run_measured([sys.executable, "-c", f"import sys; sys.stderr.write({line!r} + '\\n')"], env=dict(os.environ))
    assert sample.peak_bytes > 0
    assert sample.helper_peaks_bytes == [2048 * 1024, 1024 * 1024]
    assert sample.total_peak_bytes == sample.peak_bytes + 3 * 2**20
    alone = measure.run_measured([sys.executable, "-c", "pass"], env=dict(os.environ))
    assert alone.helper_peaks_bytes == [] and alone.total_peak_bytes == alone.peak_bytes
