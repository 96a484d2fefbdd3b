#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# A headless Chromium for the test that opens the HTML report (tests/oracle/test_role_fleet.py), installed by
# hack/setup.sh --test when none is on PATH: with apt-get, as root, on Debian and Ubuntu. Quiet; its log is
# .build/chromium-install.log.
#
#   hack/chromium.sh             install Chromium if missing and possible
#   hack/chromium.sh --dry-run   say what it would do, change nothing
#
# When Chromium is missing and cannot be installed here (no apt-get, not root, apt-get failed), it says so and
# writes the reason to .build/chromium-missing: the test skips with that reason, and fails when the file is absent
# (Chromium was expected). Never fails itself: the other tests do not need Chromium.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/.build"
MISSING="$BUILD/chromium-missing"
LOG="$BUILD/chromium-install.log"
NAMES=(chromium chromium-browser google-chrome google-chrome-stable) # the names the test looks for, in its order

DRY=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        -h | --help)
            sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "chromium: unknown argument: $arg (use --dry-run or nothing)" >&2
            exit 2
            ;;
    esac
done

say() { echo "setup: $*" >&2; }

found() {
    local name
    for name in "${NAMES[@]}"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

# The reason the test will give for skipping; nothing is written in a dry run.
missing() {
    say "no Chromium, and it cannot be installed here: $1; the HTML report test will be skipped (install chromium to run it)"
    if [ "$DRY" = 0 ]; then
        mkdir -p "$BUILD"
        echo "$1" >"$MISSING"
    fi
}

if browser="$(found)"; then
    [ "$DRY" = 0 ] && rm -f "$MISSING"
    [ "$DRY" = 1 ] && say "Chromium found: $browser (nothing to install)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    missing "no apt-get on this machine"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    missing "not root, so apt-get cannot install it (run: sudo apt-get install -y --no-install-recommends chromium)"
    exit 0
fi

INSTALL=(apt-get install -y -q --no-install-recommends chromium)
if [ "$DRY" = 1 ]; then
    say "would install Chromium for the HTML report test: ${INSTALL[*]} (after apt-get update if the package is unknown; log: $LOG)"
    exit 0
fi
say "installing Chromium for the HTML report test: ${INSTALL[*]} (log: .build/chromium-install.log)"
mkdir -p "$BUILD"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet: update them once when the first attempt fails.
if ! "${INSTALL[@]}" >"$LOG" 2>&1 && ! { apt-get update -q >>"$LOG" 2>&1 && "${INSTALL[@]}" >>"$LOG" 2>&1; }; then
    tail -n 5 "$LOG" | sed 's/^/setup:   /' >&2
    missing "apt-get install chromium failed (see .build/chromium-install.log)"
    exit 0
fi
if browser="$(found)"; then
    rm -f "$MISSING"
    say "Chromium installed: $browser"
else
    missing "apt-get installed chromium but none of ${NAMES[*]} is on PATH"
fi
exit 0
