# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Private to the fleet.cache collection: not a public API, it may change at any time.
"""uv's cache: where uv puts it and why (``host``, ``config``, ``resolve``), its buckets per uv version
(``layout``), and what is in it (``scan``). Built on the tool-neutral core (``_core``); nothing here knows pip.
"""
