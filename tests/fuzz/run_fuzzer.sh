#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time from read-only seed directories, in a fresh working
# directory, and fails on any crash, sanitizer report, timeout or broken invariant.
#
# Usage: run_fuzzer.sh TARGET WORKDIR SECONDS MAX_RUNS [libFuzzer flags...] -- SEED_DIR...
#
# New inputs the fuzzer finds go to WORKDIR/corpus; an input that fails is saved in
# WORKDIR/artifacts/ and is replayed with: TARGET WORKDIR/artifacts/<file>
set -euo pipefail

(($# >= 5)) || { echo "usage: $0 TARGET WORKDIR SECONDS MAX_RUNS [FLAGS...] -- SEED_DIR..." >&2; exit 2; }
target=$1 work=$2 seconds=$3 runs=$4
shift 4
flags=()
while (($#)) && [[ $1 != -- ]]; do flags+=("$1"); shift; done
[[ ${1-} == -- ]] && shift
seeds=("$@")
((${#seeds[@]})) || { echo "run_fuzzer.sh: no seed directories" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
echo "run_fuzzer.sh: $(basename "$target") for at most ${seconds}s / ${runs} runs; seeds: ${seeds[*]}"
# The first directory is the one libFuzzer writes new inputs to; the seeds are only read.
exec "$target" -max_total_time="$seconds" -runs="$runs" -artifact_prefix="$work/artifacts/" \
  -print_final_stats=1 "${flags[@]}" "$work/corpus" "${seeds[@]}"
