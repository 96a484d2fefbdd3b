# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: used by the pip_cache_report_render filter.

"""The sentences every format of the pip cache report shares: the headline and the summary of the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.fleet.cache.plugins.module_utils._core.units import human_size as human  # the modules' size convention


def headline(report: Mapping[str, Any]) -> str:
    """Hosts, caches, users and sizes of the whole fleet in one line."""
    totals = report["totals"]
    return (
        f"{totals['hosts']} host(s) ({totals['hosts_reporting']} reporting), {totals['caches']} cache(s) of {totals['users']} user(s): "
        f"{human(totals['bytes'])} in {totals['files']:,} files ({human(totals['downloads_bytes'])} downloads, "
        f"{human(totals['wheels_bytes'])} built wheels)"
    )


def rest_line(report: Mapping[str, Any]) -> str:
    """The caches left out of the top, in one line."""
    rest = report["rest"]
    return f"the rest: {rest['caches']} cache(s) on {rest['hosts']} host(s), {human(rest['bytes'])} in {rest['files']:,} files"
