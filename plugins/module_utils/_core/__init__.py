# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""The tool-neutral core: errors, units, accounts' privileges, safe file operations, the walk, helpers, trust.

Nothing here knows pip's layout or configuration; a package per tool (``_pip``) builds on it.
"""
