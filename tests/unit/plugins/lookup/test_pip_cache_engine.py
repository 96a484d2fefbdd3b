# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pip_cache_engine lookup: what the pip_cache_policy role installs, from the builder the action plugins use."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ansible.plugins.loader import lookup_loader

from ansible_collections.fleet.cache.plugins.lookup import pip_cache_engine
from ansible_collections.fleet.cache.plugins.plugin_utils import _engine_action, _engine_bundle


@pytest.mark.parametrize("check", [True, False])
def test_the_lookup_gives_the_transports_archive_and_the_jobs_launcher(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check: bool) -> None:
    monkeypatch.setattr(pip_cache_engine.C, "DEFAULT_LOCAL_TMP", str(tmp_path))
    lookup = lookup_loader.get("fleet.cache.pip_cache_engine")
    assert lookup is not None
    (engine,) = lookup.run([], {}, check=check)
    archive = Path(engine["archive"])
    assert archive.parent == tmp_path and archive.read_bytes() == _engine_action.engine_archive(), "the bytes the Windows transport sends"
    assert engine["archive_name"] == "fleet_cache_engine.zip"
    assert engine["archive_sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    digest = engine["archive_sha256"]
    assert engine["launcher"] == _engine_bundle.launcher_source(job=True, check=check, digest=digest)
    assert engine["launcher_sha256"] == hashlib.sha256(engine["launcher"].encode("utf-8")).hexdigest()
    assert (f"ENGINE_SHA256 = {digest!r}" in engine["launcher"]) is check
    assert engine["role_check"].startswith(_engine_bundle.trust_source()) and engine["role_check"].endswith("raise SystemExit(role_check(sys.argv[1:]))\n")
