#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The collection's playbooks on a simulated fleet (fleet.py build): fleet.cache.report's figures equal the sizes on
# disk, fleet.cache.enforce brings every host within the budget, the report again; a relative report folder is
# relative to where ansible-playbook runs; a pattern that matches no host says what to do.
set -euxo pipefail

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ANSIBLE_FORKS=10 ANSIBLE_RETRY_FILES_ENABLED=false ANSIBLE_HOST_KEY_CHECKING=false

"$python" "$here/fleet.py" build "$work"
"$python" "$here/fleet.py" over "$work" 24000 5

report() {
    # 4: the unreachable host, as it must be
    local status=0
    ansible-playbook -i "$work/inventory.yml" fleet.cache.report -e pip_cache_report_dir="$1" -e pip_cache_report_top=8 | tee "$work/report.out" || status=$?
    [ "$status" = 0 ] || [ "$status" = 4 ]
    grep -F "pip caches: 21 host(s) (20 reporting), 20 cache(s) of 20 user(s)" "$work/report.out"
    grep -F "Files: $1/" "$work/report.out"
    "$python" "$here/fleet.py" report "$work" "$1" 8
}

report "$work/report-before"

ansible-playbook -i "$work/inventory.yml" fleet.cache.enforce -e pip_cache_hosts=reachable \
    -e pip_cache_policy_users=root -e pip_cache_policy_max_size=24000B -e pip_cache_policy_min_age=0 | tee "$work/enforce.out"
grep -E "changed=[1-9]" "$work/enforce.out"
"$python" "$here/fleet.py" within "$work" 24000

report "$work/report-after"

# Relative to where ansible-playbook runs, never beside the installed playbook.
cd "$work"
local=("-i" "$work/local-inventory.yml" "-e" "pip_cache_hosts=localhost")
ansible-playbook "${local[@]}" fleet.cache.report -e pip_cache_report_dir=./relative-report | tee "$work/relative.out"
grep -F "Files: $work/relative-report/" "$work/relative.out"
"$python" -c 'import json, sys; assert json.load(open(sys.argv[1]))["totals"]["caches"] == 1' "$work/relative-report/report.json"
# The default folder (the README's example) is ./pip-cache-report, there too.
ansible-playbook "${local[@]}" fleet.cache.report | tee "$work/default.out"
grep -F "Files: $work/pip-cache-report/" "$work/default.out"
"$python" -c 'import json, sys; assert json.load(open(sys.argv[1]))["totals"]["caches"] == 1' "$work/pip-cache-report/report.json"

# A pattern that matches no host: the report says what to do (with ansible's default for a pattern that matches
# nothing, a warning; ansible-test makes it an error).
ANSIBLE_HOST_PATTERN_MISMATCH=warning ansible-playbook -i "$work/local-inventory.yml" fleet.cache.report -e pip_cache_hosts=nosuchgroup -e pip_cache_report_dir=./empty-report | tee "$work/empty.out"
grep -F "No host matched nosuchgroup: give an inventory (-i INVENTORY)" "$work/empty.out"
