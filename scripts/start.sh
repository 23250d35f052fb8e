#!/usr/bin/env bash
# Starts the server: installs the npm packages on first use, then runs src/main.ts.
# Settings come from the environment (README: Settings).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
exec node --import tsx src/main.ts
