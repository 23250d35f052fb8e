#!/usr/bin/env bash
# Runs every test: contract checks (buf lint, format, breaking, generated code up to date),
# typecheck and lint, the TypeScript suites, the Python SDK suite and the Go SDK suite.
# Ends with one line: `N passed, N failed`.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PWD/.tools/bin:$PATH"

mkdir -p .cache
# Setup must leave the work tree as it found it (a fresh install must not rewrite the lockfile).
bash scripts/check-clean-tree.sh --save .cache/tree-before-setup.txt
bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

checks=.cache/checks.txt
: >"$checks"
check() { # name command...
  local name="$1"
  shift
  echo "== $name"
  if "$@"; then echo "pass $name" >>"$checks"; else echo "fail $name" >>"$checks"; echo "FAILED: $name"; fi
}

breaking_against() {
  # The last commit on main before this change; on main itself, its parent.
  local base
  if [ "$(git rev-parse --abbrev-ref HEAD 2>/dev/null)" != main ] && git rev-parse -q --verify main >/dev/null; then
    base=$(git merge-base HEAD main)
  else
    base=$(git rev-parse -q --verify HEAD~1 || true)
  fi
  if [ -z "$base" ] || ! git cat-file -e "$base:buf.yaml" 2>/dev/null; then
    echo "no earlier commit with protos: nothing to compare"
    return 0
  fi
  node_modules/.bin/buf breaking --against ".git#ref=$base"
}

generated_up_to_date() {
  node_modules/.bin/buf generate || return 1
  local dirty
  dirty=$(git status --porcelain -- gen)
  [ -z "$dirty" ] || { echo "gen/ differs from what buf generates (run npm run generate):"; echo "$dirty"; return 1; }
}

check "setup leaves the tree clean" bash scripts/check-clean-tree.sh --since .cache/tree-before-setup.txt
check "buf lint" node_modules/.bin/buf lint
check "buf format" node_modules/.bin/buf format --diff --exit-code
check "buf breaking" breaking_against
check "generated code is current" generated_up_to_date
check "typecheck" node_modules/.bin/tsc --noEmit
check "biome" node_modules/.bin/biome check .

echo "== vitest"
node_modules/.bin/vitest run
echo "== pytest (sdk/python)"
.venv/bin/python -m pytest -q sdk/python/tests --junitxml=.cache/pytest.xml
echo "== go test (sdk/go)"
go test -json ./sdk/go/... >.cache/go-test.json
go_rc=$?
grep -h '"Action":"fail"' .cache/go-test.json | head -20
[ $go_rc = 0 ] || echo "go test failed (exit $go_rc)"

node scripts/summary.mjs
