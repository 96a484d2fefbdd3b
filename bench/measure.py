# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Timing, peak memory and fresh copies for the benchmarks. Standard library only.

Each measurement is one fresh child process: wall-clock time from spawn to exit, and its peak resident set
size (max RSS: the rusage of exactly that child, including the descendants it waited for, as
``getrusage(RUSAGE_CHILDREN)`` reports them: the largest of them, not their sum). An engine scan that shares its
work with helper processes reports each helper's peak on stderr (``HELPER_PEAKS``); a sample's peak is then the
sum of the scanning process's and every helper's.

The child is started by GNU time (``/usr/bin/time -f %M``), not by this process: Linux carries the forking
process's peak over into the child (a child forked from a 40 MiB Python reports at least 40 MiB, even ``du``),
so the peak must come from a fork of a small process. Without GNU time a minimal Python launcher forks instead,
and peaks are then floored at that launcher's own size (about 10 MiB).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class BenchError(RuntimeError):
    """A measured command failed, or a cache could not be prepared."""


@dataclass
class Sample:
    """One measured run of one command."""

    seconds: float
    peak_bytes: int
    returncode: int
    stdout: str
    stderr: str
    helper_peaks_bytes: list[int] = field(default_factory=list)

    @property
    def total_peak_bytes(self) -> int:
        """The process's peak plus each helper process's own (pages they share counted in each: an upper bound)."""
        return self.peak_bytes + sum(self.helper_peaks_bytes)


@dataclass
class Series:
    """The runs of one side of a comparison."""

    label: str
    command: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def seconds(self) -> list[float]:
        return [sample.seconds for sample in self.samples]

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.samples else None

    @property
    def peak_mib(self) -> float | None:
        return max(sample.total_peak_bytes for sample in self.samples) / 2**20 if self.samples else None

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "command": self.command,
            "median_s": _round(self.median),
            "runs_s": [_round(value) for value in self.seconds],
            "peak_mib": _round(self.peak_mib, 1),
            "peaks_mib": [round(sample.total_peak_bytes / 2**20, 1) for sample in self.samples],
            "helper_peaks_mib": [[round(peak / 2**20, 1) for peak in sample.helper_peaks_bytes] for sample in self.samples],
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


GNU_TIME = "/usr/bin/time"
# Forks the command, waits for it, writes its max RSS (KiB) into argv[1]; exits with its status.
_LAUNCHER = (
    "import os, sys\npid = os.fork()\nif pid == 0:\n    os.execvp(sys.argv[2], sys.argv[2:])\n"
    "_pid, status, usage = os.wait4(pid, 0)\nwith open(sys.argv[1], 'w') as out:\n    out.write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _has_gnu_time() -> bool:
    try:
        proc = subprocess.run([GNU_TIME, "-f", "%M", "true"], capture_output=True, text=True, check=False)
    except OSError:
        return False
    return proc.returncode == 0 and proc.stderr.strip().isdigit()


_GNU_TIME = _has_gnu_time()


def peak_method() -> str:
    if _GNU_TIME:
        return "GNU time %M (max RSS of the measured process and the children it waited for)"
    return "os.wait4 in a minimal Python launcher (max RSS; floored at the launcher's own size)"


def run_measured(cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str], cwd: Path | None = None, check: bool = True) -> Sample:
    """Run ``cmd`` once in a fresh child: its wall time and peak RSS; output kept in files, not pipes."""
    args = [os.fspath(part) for part in cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        if _GNU_TIME:
            wrapped = [GNU_TIME, "-f", "%M", "-o", rss.name, *args]
        else:
            wrapped = [sys.executable, "-I", "-S", "-c", _LAUNCHER, rss.name, *args]
        started = time.perf_counter()
        proc = subprocess.run(wrapped, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env), cwd=cwd, check=False)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        lines = rss.read().split()
    # GNU time writes "Command exited with non-zero status N" before the figure when the command fails.
    peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    sample = Sample(seconds, peak_kib * 1024, proc.returncode, stdout, stderr, _helper_peaks(stderr))
    if check and proc.returncode != 0:
        raise BenchError(f"command failed (exit {proc.returncode}): {' '.join(args)}\nstderr: {stderr[-3000:]}\nstdout: {stdout[-3000:]}")
    return sample


HELPER_PEAKS = "helper-peaks-kib: "
"""The line an engine command writes to stderr: the peak memory of the helper processes its scan started."""


def _helper_peaks(stderr: str) -> list[int]:
    for line in stderr.splitlines():
        if line.startswith(HELPER_PEAKS):
            return [int(value) * 1024 for value in json.loads(line[len(HELPER_PEAKS) :])]
    return []


def run_quiet(cmd: Sequence[str | os.PathLike[str]], *, env: Mapping[str, str] | None = None) -> None:
    proc = subprocess.run([os.fspath(part) for part in cmd], stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise BenchError(f"command failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stderr[-3000:]}")


def copy_tree(src: Path, dst: Path, *, workers: int | None = None) -> float:
    """``cp -a`` of a cache, split into subtrees copied by ``workers`` processes at once; returns the seconds taken.

    The result is what ``cp -a src dst`` makes (contents, modes, times); only the two top levels' folders are made
    here and get their times back afterwards.
    """
    started = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    if dst.exists():
        raise BenchError(f"{dst} exists already")
    dst.mkdir(parents=True)
    units: list[tuple[Path, Path]] = []
    made: list[tuple[Path, Path]] = [(src, dst)]
    for entry in sorted(os.scandir(src), key=lambda item: item.name):
        source = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            target = dst / entry.name
            target.mkdir()
            made.append((source, target))
            units.extend((Path(child.path), target) for child in sorted(os.scandir(source), key=lambda item: item.name))
        else:
            units.append((source, dst))
    batches: list[dict[Path, list[Path]]] = [{} for _worker in range(workers)]
    for index, (source, target) in enumerate(units):
        batches[index % workers].setdefault(target, []).append(source)

    def copy_batch(batch: dict[Path, list[Path]]) -> None:
        for target, sources in batch.items():
            for start in range(0, len(sources), 200):
                run_quiet(["cp", "-a", *sources[start : start + 200], str(target)])

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(copy_batch, batch) for batch in batches]:
            future.result()
    for source, target in reversed(made):
        shutil.copystat(source, target, follow_symlinks=False)
    return time.perf_counter() - started


def remove_tree(path: Path) -> None:
    if path.exists() or path.is_symlink():
        run_quiet(["rm", "-rf", "--", str(path)])


def settle() -> None:
    """Write dirty pages back before a measurement, so that a copy's or a clean-up's I/O does not land in it."""
    os.sync()
    time.sleep(0.2)


def loadavg() -> list[float]:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []


def pressure() -> dict[str, str]:
    """Linux pressure stall information (cpu, io, memory), "some" lines: how contended the machine was."""
    found = {}
    for resource in ("cpu", "io", "memory"):
        try:
            with open(f"/proc/pressure/{resource}", encoding="utf-8") as handle:
                found[resource] = handle.readline().strip()
        except OSError:
            continue
    return found
