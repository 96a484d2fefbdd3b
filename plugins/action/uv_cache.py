# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action of fleet.cache.uv_cache: the Python module on POSIX hosts, the same engine sent to the host's Python on Windows hosts."""

from __future__ import annotations

from ansible_collections.fleet.cache.plugins.plugin_utils._engine_action import EngineAction


class ActionModule(EngineAction):
    MODULE = "uv_cache"
