#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# `make test`: set up (hack/setup.sh --test: .venv with the pinned tools, nox among them), then `nox -s test`
# (noxfile.py: every session in two lanes). The last line is "N passed, N failed, N skipped"; the exit status is
# non-zero when anything failed. Arguments go to nox (e.g. `make test ARGS="-s lint"` runs that session alone).
# See CONTRIBUTING.md, "Test sessions".
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

echo "== setup"
start=$SECONDS
if ! "$ROOT/hack/setup.sh" --test; then
    echo "   setup failed: no test could run (see the messages above)"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
echo "   -> .venv ($("$ROOT/.venv/bin/python" -c "import sys, ansible.release as r; print(\"Python %s, ansible-core %s\" % (sys.version.split()[0], r.__version__))")) and .build/collections ready ($((SECONDS - start))s)"

COUNTS="$ROOT/.build/reports/counts.txt"
rm -f "$COUNTS"
if [ "$#" -gt 0 ]; then
    FLEET_CACHE_SETUP_DONE=1 "$ROOT/.venv/bin/nox" "$@"
    exit $?
fi
FLEET_CACHE_SETUP_DONE=1 "$ROOT/.venv/bin/nox" --session test
status=$?
if [ -s "$COUNTS" ]; then
    cat "$COUNTS"
else
    echo "nox -s test ended (exit $status) before counting; see the messages above"
    echo "0 passed, 1 failed, 0 skipped"
    status=1
fi
exit "$status"
