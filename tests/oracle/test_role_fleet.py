# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated fleet: twenty hosts reached with local connections, each with its own HOME and cache, and one that
cannot be reached: fleet.cache.report's HTML page renders in headless Chromium with its chart, and a screenshot is
kept. The report's figures against the disk, fleet.cache.enforce and the report folder's place are tested by the
integration target playbooks_fleet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from engine import REPO_ROOT

from playbooks import ansible_env, fake_cache, local_host, playbook, write_inventory

HOSTS = 20
REPORTS = Path(os.environ.get("FLEET_CACHE_REPORTS") or REPO_ROOT / ".build" / "reports")
CHROMIUM_MISSING = REPO_ROOT / ".build" / "chromium-missing"  # written by hack/chromium.sh when it cannot install Chromium


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("fleet")
    now = time.time()
    homes: dict[str, Path] = {}
    reachable: dict[str, dict[str, Any]] = {}
    for number in range(1, HOSTS + 1):
        name = f"node{number:02d}.fleet.test"
        home = base / name
        fake_cache(home / ".cache" / "pip", seed=number, downloads=2 + number % 5, wheels=1 + number % 3, size=1500 * (1 + number % 7), now=now)
        (home / ".cache" / "pip" / "selfcheck").mkdir()
        (home / ".cache" / "pip" / "selfcheck" / "state").write_text("{}")  # counted in the cache's size, never pruned
        homes[name] = home
        reachable[name] = local_host(pip_cache_user="root", pip_cache_become=False, pip_cache_environment={"HOME": str(home), "XDG_CACHE_HOME": ""})
    gone = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ssh", "ansible_ssh_common_args": "-o ConnectTimeout=2"}
    inventory = write_inventory(base / "inventory", {"reachable": reachable, "unreachable": {"gone.fleet.test": gone}})
    return {"base": base, "homes": homes, "inventory": inventory}


def _report(fleet: dict[str, Any], folder: Path) -> dict[str, Any]:
    run = playbook("fleet.cache.report", fleet["inventory"], fleet["base"], extra_vars={"pip_cache_report_dir": str(folder), "pip_cache_report_top": 8},
                   env=ansible_env(fleet["base"], ANSIBLE_FORKS="10"))  # fmt: skip
    assert run.returncode in (0, 4), run.explain()  # 4: a host was unreachable, as it should be
    assert "pip caches: 21 host(s) (20 reporting), 20 cache(s) of 20 user(s)" in run.stdout, run.explain()
    assert f"Files: {folder.resolve()}/" in run.stdout
    report: dict[str, Any] = json.loads((folder / "report.json").read_text())
    return report


def test_the_html_page_renders_in_chromium(fleet: dict[str, Any]) -> None:
    """The page the report writes, opened in headless Chromium."""
    if _chromium() is None:
        # hack/setup.sh --test installs Chromium (hack/chromium.sh) and writes why when it cannot: only then a skip.
        if CHROMIUM_MISSING.exists():
            pytest.skip(f"no Chromium to render the HTML report: {CHROMIUM_MISSING.read_text().strip()}")
        pytest.fail("no Chromium on PATH, and hack/setup.sh --test did not say it could not install one: run hack/chromium.sh")
    folder = REPORTS / "pip-cache-report"
    shutil.rmtree(folder, ignore_errors=True)
    _report(fleet, folder)
    _render_in_chromium(folder / "index.html", REPORTS / "pip-cache-report.png")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _render_in_chromium(page: Path, screenshot: Path) -> None:
    browser = _chromium()
    assert browser is not None
    common = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--user-data-dir=" + str(page.parent / ".chromium"),
    ]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="pip-cache-chart"' in dom.stdout and dom.stdout.count('<g class="bar"') == 8
    assert "gone.fleet.test" in dom.stdout and "the rest" in dom.stdout
    screenshot.unlink(missing_ok=True)
    shot = subprocess.run(
        [*common, "--window-size=1280,1600", f"--screenshot={screenshot}", page.as_uri()], capture_output=True, text=True, timeout=120, check=False
    )
    assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, "a real page, not a blank one"
    shutil.rmtree(page.parent / ".chromium", ignore_errors=True)
