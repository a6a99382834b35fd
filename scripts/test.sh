#!/usr/bin/env bash
# npm test: type-checks, builds (end-to-end tests run the compiled CLI and worker), then runs every jest suite
# (arguments go to jest; --embedded-postgres forces the embedded PostgreSQL). The suites start what they need
# themselves: the Temporal dev server and time-skipping test server from the binaries scripts/setup-temporal.sh
# provides, and the Graph API emulator. PostgreSQL is DATABASE_URL / TEST_DATABASE_URL, else the machine's on
# 127.0.0.1:5432, else an embedded one that src/local/run-test-suite.ts starts for the run and stops after.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-temporal.sh
npm run --silent typecheck
npm run --silent build
exec node dist/src/local/run-test-suite.js "$@"
