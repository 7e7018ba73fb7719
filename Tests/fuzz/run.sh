#!/usr/bin/env bash
# Runs every libFuzzer target of berth-fuzz for SECONDS each (default 20) from its corpus in
# Tests/fuzz/corpus/<target>; new inputs go to a scratch directory, so the committed corpus stays as it is.
# SEED (default 0: a new one each run) fixes libFuzzer's random seed; `make test` runs with a fixed one.
# A crash stops the run with the input that caused it: make it a unit test, then add it to the corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-20}"
seed="${SEED:-0}"
binary=.build-fuzz/debug/berth-fuzz
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
targets=$(BERTH_FUZZ_TARGET=list "$binary" 2>&1 | sed -n 's/^BERTH_FUZZ_TARGET must be one of: //p' | tr -d ',' || true)
[ -n "$targets" ] || { echo "fuzz: $binary lists no targets" >&2; exit 1; }
passed=0 failed=0
for target in $targets; do
    mkdir -p "$scratch/$target" "$scratch/crashes-$target"
    if BERTH_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$binary" -max_total_time="$seconds" -seed="$seed" -timeout=5 \
        -rss_limit_mb=2048 -max_len=8192 -print_final_stats=0 -artifact_prefix="$scratch/crashes-$target/" \
        "$scratch/$target" "Tests/fuzz/corpus/$target" > "$scratch/$target.log" 2>&1; then
        echo "fuzz $target: $(grep -o 'Done [0-9]* runs' "$scratch/$target.log" || echo 'done') in ${seconds}s, no crash"
        passed=$((passed + 1))
    else
        echo "fuzz $target: FAILED"; tail -40 "$scratch/$target.log"
        for input in "$scratch/crashes-$target"/*; do
            [ -f "$input" ] && { echo "input $(basename "$input") (base64): $(base64 -w0 "$input")"; cp "$input" "/tmp/berth-fuzz-$target-$(basename "$input")"; }
        done
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
