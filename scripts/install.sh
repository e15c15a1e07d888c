#!/usr/bin/env bash
# Install the project into .venv from the lock file. Needs only python3.11 and network access to
# PyPI; uv (from PyPI) is installed for the current user if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.8"
fi
PY="$(command -v python3.11 || command -v python3)"
uv sync --frozen --python "$PY" --quiet
echo "installed into .venv ($(.venv/bin/python --version))"
# Helm for the chart's tests: built once with Go into ~/.cache/jiph/ (minutes the first time).
# Not fatal here (`make up` does not need it); the tests fail and say why if it is missing.
if ! bash scripts/install_helm.sh >/dev/null; then
  echo "warning: Helm could not be built; the deployment tests will fail (scripts/install_helm.sh)" >&2
fi
