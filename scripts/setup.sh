#!/usr/bin/env bash
# Installs everything the tests need, on a fresh machine or an old one: npm packages, system
# packages, Go tools and modules, the Python venv and FerretDB. Each step skips what is done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PATH"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci rejects this lockfile: the registry here lacks other platforms' optional packages
  # (biome, buf), so the lock lists only this platform's. npm install keeps the locked versions.
  npm install --no-audit --no-fund
fi
bash scripts/setup-system.sh
bash scripts/setup-go.sh
bash scripts/setup-python.sh
bash scripts/setup-ferretdb.sh
