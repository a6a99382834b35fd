#!/usr/bin/env bash
# npm start: the local stack (Temporal dev server + Web UI, Graph API emulator, worker, demo audience).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-temporal.sh
[ -f dist/src/local/local-stack.js ] || npm run --silent build
exec node dist/src/local/local-stack.js
