# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A pytest plugin that prints one line per test file as it finishes, for the test harness to show as progress.

Loaded by hack/run_tests.py with ``-p hack.pytest_progress`` (pytest run from the checkout); the harness echoes the lines that
start with PROGRESS_MARK while the rest of pytest's output goes to the stage's log.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Optional

PROGRESS_MARK = "progress: "


class _Progress:
    def __init__(self) -> None:
        self.file: Optional[str] = None
        self.started = time.monotonic()
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.files_done = 0
        self.files_total = 0
        self.terminal: Any = None

    def flush(self) -> None:
        if self.file is None:
            return
        self.files_done += 1
        figures = ", ".join(f"{count} {word}" for word, count in self.counts.items())
        seconds = time.monotonic() - self.started
        line = f"{PROGRESS_MARK}[{self.files_done}/{self.files_total}] {self.file}: {figures} ({seconds:.0f}s)"
        if self.terminal is not None:
            self.terminal.write("\n" + line + "\n")  # on a line of its own, after pytest's dots
            self.terminal.flush()
        else:
            sys.stderr.write(f"\n{line}\n")
            sys.stderr.flush()

    def report(self, report: Any) -> None:
        file = report.nodeid.split("::", 1)[0]
        if file != self.file:
            self.flush()
            self.file, self.started = file, time.monotonic()
            self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        if report.when == "call" or (report.when == "setup" and not report.passed) or (report.when == "teardown" and report.failed):
            outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
            self.counts[outcome] += 1


_STATE = _Progress()


def pytest_collection_finish(session: Any) -> None:
    _STATE.terminal = session.config.pluginmanager.getplugin("terminalreporter")
    _STATE.files_total = len({item.nodeid.split("::", 1)[0] for item in session.items})


def pytest_runtest_logreport(report: Any) -> None:
    _STATE.report(report)


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:  # pylint: disable=unused-argument
    _STATE.flush()
