#!/usr/bin/env bash
# Copyright (c) fleet.cache contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# The role fleet.cache.pip_cache_policy and the collection's playbooks against a host that Ansible takes for Windows,
# stood in for by tests/unit/plugins/windows_fakes (copied into the collections fleet_test.windows and ansible.windows
# by windows.py build; see windows.py). The role runs three times: check mode from fleet.cache.enforce changes
# nothing; the real run installs the engine over an earlier release's files, prunes the cache to the budget through
# the Windows transport and registers the Scheduled Task, whose command, run by hand, prunes again; the third run,
# from a play with become: true, changes nothing. Nothing on the Windows branch runs with become; a module with
# become is refused before anything reaches the host; fleet.cache.report runs over SSH with PowerShell.
set -euxo pipefail

python="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" "$here/windows.py" build "$work" "$here/../../../unit/plugins/windows_fakes"
# The stand-ins first, then the collections ansible-test set up (fleet.cache under test among them).
export ANSIBLE_COLLECTIONS_PATH="$work/collections${ANSIBLE_COLLECTIONS_PATH:+:$ANSIBLE_COLLECTIONS_PATH}"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=false
FLEET_FAKE_WINDOWS_COMMANDS="$(cat "$work/commands.json")"
export FLEET_FAKE_WINDOWS_COMMANDS

host() {  # the stand-in Windows host of one scenario: its drives and its call log
    export FLEET_FAKE_WINDOWS_ROOT="$work/$1/windows" FLEET_FAKE_WINDOWS_LOG="$work/$1/calls.jsonl"
}

host role
role=("-i" "$work/role/inventory.yml" "-e" "@$work/role/policy.json")
# 1. Check mode: every call made as it would be, nothing changed.
ansible-playbook "${role[@]}" "$work/facts.yml" fleet.cache.enforce --check | tee "$work/role/checked.out"
"$python" "$here/windows.py" checked "$work/role" "$work/role/checked.out"
# 2. For real, from the collection's enforce playbook (its become default leaves Windows hosts alone), over the
# engine an earlier release installed: its files copied one by one and a MANIFEST, which the role removes.
"$python" "$here/windows.py" old-engine "$work/role"
ansible-playbook "${role[@]}" "$work/facts.yml" fleet.cache.enforce | tee "$work/role/real.out"
"$python" "$here/windows.py" real "$work/role" "$work/role/real.out"
"$python" "$here/windows.py" job "$work/role"
# 3. Again, from a play with become: true - the role leaves become off on Windows, and nothing changes.
ansible-playbook "${role[@]}" "$work/facts.yml" "$work/role-with-become.yml" | tee "$work/role/again.out"
"$python" "$here/windows.py" again "$work/role" "$work/role/again.out"

# What the role and the playbooks avoid: a fleet.cache module with become on a Windows host fails (exit 2), says why,
# and sends nothing. This run writes no JUnit of its own (its failure is the test).
host refused
status=0
env -u ANSIBLE_CALLBACKS_ENABLED -u JUNIT_OUTPUT_DIR ansible-playbook -i "$work/refused/inventory.yml" "$work/module-with-become.yml" \
    > "$work/refused/refused.out" 2> "$work/refused/refused.err" || status=$?
cat "$work/refused/refused.out" "$work/refused/refused.err"
[ "$status" = 2 ]
"$python" "$here/windows.py" refused "$work/refused" "$work/refused/refused.out"

# fleet.cache.report over SSH with a PowerShell shell: no become, the fleet-wide POSIX interpreter passed over.
host report
ansible-playbook -i "$work/report/inventory.yml" fleet.cache.report -e pip_cache_report_dir="$work/report/report" | tee "$work/report/report.out"
"$python" "$here/windows.py" report "$work/report" "$work/report/report.out"
