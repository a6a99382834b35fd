#!/usr/bin/env bash
# npm start: the local stack (PostgreSQL unless one answers, Temporal dev server + Web UI, Graph API emulator,
# worker, demo audience). `npm start -- --embedded-postgres` runs PostgreSQL of its own even where one answers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-temporal.sh
if [ ! -f dist/src/local/local-stack.js ]; then
  echo "start: building audience-sync (TypeScript and the workflow bundle) into dist/ …"
  npm run --silent build
fi
exec node dist/src/local/local-stack.js "$@"
