#!/usr/bin/env bash
# npm test: type-checks, builds (end-to-end tests run the compiled CLI and worker), then runs every jest suite.
# The suites start what they need themselves: the Temporal dev server and time-skipping test server from the
# binaries scripts/setup-temporal.sh provides, and the Graph API emulator; PostgreSQL must be running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup-temporal.sh
npm run --silent typecheck
npm run --silent build
exec npx jest --runInBand "$@"
