#!/usr/bin/env bash
# Runs the whole test suite N times in a row on the current tree (default 20), to catch tests
# that fail only sometimes. Stops at the first failing run and says where its log is.
#   scripts/repeat-tests.sh        # 20 runs
#   scripts/repeat-tests.sh 5      # 5 runs
# A run passes when the command exits 0 and its last `N passed, N failed` line has 0 failed.
# TEST_CMD replaces the command (default `bash scripts/test.sh`), e.g. to repeat one file:
#   TEST_CMD='npx vitest run test/api.test.ts' scripts/repeat-tests.sh 50
# (then a run without a summary line passes on its exit code alone). Logs go under
# .cache/repeat-tests/, which git ignores: the script itself leaves the work tree as it was.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

runs="${1:-20}"
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/repeat-tests.sh [RUNS]   (RUNS: a positive whole number, default 20)" >&2
  exit 2
fi
cmd="${TEST_CMD:-bash scripts/test.sh}"
# scripts/test.sh always ends with its summary: a run of it without one did not finish.
need_summary=$([ -z "${TEST_CMD:-}" ] && echo yes || echo no)
logs=".cache/repeat-tests/$(date +%Y%m%d-%H%M%S)-$$"
mkdir -p "$logs"
tree_before=$(git status --porcelain 2>/dev/null)

echo "repeating \`$cmd\` $runs times; logs in $logs/"
for ((run = 1; run <= runs; run++)); do
  log="$logs/run-$run.log"
  started=$SECONDS
  bash -c "$cmd" >"$log" 2>&1
  code=$?
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  took=$((SECONDS - started))
  verdict=passed
  if [ "$code" -ne 0 ]; then
    verdict="exit $code${summary:+; $summary}"
  elif [ -z "$summary" ] && [ "$need_summary" = yes ]; then
    verdict="no \`N passed, N failed\` line"
  elif [ -n "$summary" ] && ! [[ "$summary" =~ \ 0\ failed$ ]]; then
    verdict="$summary"
  fi
  if [ "$verdict" != passed ]; then
    echo "run $run of $runs failed after ${took}s ($verdict); log: $log"
    grep -E '^FAILED: | FAIL ' "$log" | head -n 20
    echo "$((run - 1)) of $runs runs passed before it"
    exit 1
  fi
  echo "run $run of $runs passed in ${took}s${summary:+ ($summary)}"
done
if [ "$(git status --porcelain 2>/dev/null)" != "$tree_before" ]; then
  echo "note: the work tree changed while the runs went on (a test writing files, or someone editing)"
fi
echo "$runs of $runs runs passed"
