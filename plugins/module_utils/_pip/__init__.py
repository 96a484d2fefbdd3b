# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""pip's cache: where it is (resolution, configuration files), what is in it (layout, HTTP entries), what goes.

Builds on ``_core``; the tasks (``_tasks``) call it. Another tool's cache (uv) gets a package beside this one.
"""
