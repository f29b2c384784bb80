#!/usr/bin/env bash
# `make test` after the install step: runs each stage, times it, prints the
# durations at the end (on failure too) and checks the whole run against
# CI's time budget (.ci/budget): cold when the component cache held no
# kernel at the start, warm otherwise. A run over budget fails, naming the
# slowest stage, because CI stops at 90 minutes whatever the tests say.
#
# Usage: scripts/test.sh            (from the repository's top)
set -uo pipefail

cd "$(dirname "$0")/.." || exit
# shellcheck source=.ci/budget
. .ci/budget

CARGO="${CARGO:-cargo}"
cache="${OUTPOST_CACHE:-$HOME/.cache/outpost}"
if compgen -G "$cache/artifacts/kernel-*" >/dev/null; then
    kind=warm; budget_min=$WARM_MINUTES
else
    kind=cold; budget_min=$COLD_MINUTES
fi

names=()
secs=()
start_all=$SECONDS
failed=""

# stage NAME COMMAND...: runs it unless an earlier stage failed.
stage() {
    local name=$1; shift
    [ -z "$failed" ] || return 0
    printf '\n=== make test: %s\n' "$name" >&2
    local t0=$SECONDS
    "$@"
    local rc=$?
    names+=("$name")
    secs+=($((SECONDS - t0)))
    [ "$rc" -eq 0 ] || failed="$name (exit $rc)"
}

# The components every QEMU suite needs, built once per CPU, both CPUs at
# once (each kernel build runs -j2), so the suites find them cached. Each
# CPU builds the example office and concentrator from its own copy of the
# site, so the two builds never generate the same key files at once.
build_components() {
    local dir=target/e2e/components
    "$CARGO" build --release -q -p mkoutpost || return
    rm -rf "$dir"
    local pids=() cpu rc=0
    for cpu in i486 i586; do
        mkdir -p "$dir/$cpu"
        cp examples/site/office.toml examples/site/concentrator.toml "$dir/$cpu/"
        (
            for role in office concentrator; do
                target/release/mkoutpost build "$dir/$cpu/$role.toml" \
                    -o "$dir/$cpu/$role" --cpu "$cpu" || exit
            done
        ) >"$dir/$cpu.log" 2>&1 &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    [ "$rc" -eq 0 ] || { tail -n 40 "$dir"/*.log >&2; return "$rc"; }
    "$CARGO" test --workspace --no-run -q
}

mkdir -p target/e2e
stage lint make --no-print-directory lint CARGO="$CARGO"
stage build build_components
# Unit, golden, fuzz and namespace tests: everything but the QEMU crate.
stage unit "$CARGO" test -q --workspace --exclude outpost-tests -- --test-threads=2
# Two test threads keep both cores busy without starving the guests.
stage "QEMU suites" "$CARGO" test -p outpost-tests -- --test-threads=2 --skip whole_site --skip the_period_s_pci_cards --skip stock_debian
# Uncaptured, so each interop check's time shows (issue 18): a stock Debian
# machine as the seed's server and as a home user's PC, both at once.
stage interop "$CARGO" test -p outpost-tests --test interop -- --nocapture --test-threads=2 stock_debian
# Last and uncaptured, so the whole site's boot-to-tunnel and recovery
# times and the table of network cards carrying traffic show.
stage "whole site" "$CARGO" test -p outpost-tests --test site --test hardware -- --nocapture --test-threads=1 whole_site the_period_s_pci_cards

total=$((SECONDS - start_all))
printf '\n=== make test: durations (%s run, budget %d min)\n' "$kind" "$budget_min" >&2
for i in "${!names[@]}"; do
    printf '  %-14s %4d min %02d s\n' "${names[$i]}" $((secs[i] / 60)) $((secs[i] % 60)) >&2
done
printf '  %-14s %4d min %02d s\n' total $((total / 60)) $((total % 60)) >&2

if [ -n "$failed" ]; then
    printf 'make test: FAILED in stage %s\n' "$failed" >&2
    exit 1
fi
if [ "$total" -gt $((budget_min * 60)) ]; then
    slow=0
    for i in "${!secs[@]}"; do [ "${secs[$i]}" -gt "${secs[$slow]}" ] && slow=$i; done
    printf 'make test: over the %s budget: %d s > %d min (.ci/budget); the slowest stage is %s (%d s)\n' \
        "$kind" "$total" "$budget_min" "${names[$slow]}" "${secs[$slow]}" >&2
    exit 1
fi
printf 'make test: passed, %s, within the %d min budget\n' "$kind" "$budget_min" >&2
