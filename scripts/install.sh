#!/usr/bin/env bash
# Install the project into .venv from the lock file. Needs python3.11 and network access to PyPI;
# uv (from PyPI) is installed for the current user if missing, and Debian's softhsm2 (apt-get,
# as root) if softhsm2-util is.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
fi
PY="$(command -v python3.11 || command -v python3)"
uv sync --frozen --python "$PY" --quiet
# SoftHSM2 (Debian's softhsm2) keeps the deployment service's per-officer keys for the local and
# test stacks; installed with apt-get when softhsm2-util is missing, as the stack does for
# PostgreSQL (jiph/stack/system.py).
if ! command -v softhsm2-util >/dev/null 2>&1; then
  .venv/bin/python - <<'PY'
import sys

from jiph.stack.processes import StackError
from jiph.stack.system import ensure_command

try:
    ensure_command("softhsm2-util", "softhsm2")
except StackError as exc:
    sys.exit(f"install.sh: {exc}")
PY
  echo "installed softhsm2 ($(softhsm2-util --version))"
fi
# The dashboard's GOV.UK Frontend, map and country table from npm (when Node.js is here; the
# vendored copies in the checkout serve otherwise).
if command -v npm >/dev/null 2>&1; then
  bash scripts/build_dashboard.sh
else
  echo "install.sh: npm missing, the dashboard keeps its vendored files" >&2
fi
echo "installed into .venv ($(.venv/bin/python --version))"
