#!/usr/bin/env bash
# Regenerates gen/ (TypeScript, Python, Go, and the descriptor set with comments that server
# reflection serves) from proto/ with local, pinned plugins only.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-system.sh
node_modules/.bin/buf generate
