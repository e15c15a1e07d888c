#!/usr/bin/env bash
# The dashboard's browser files from npm (GOV.UK Frontend, d3-geo, topojson-client, world-atlas,
# i18n-iso-countries), installed from services/reporting/web/package-lock.json and copied into
# services/reporting/static/vendor, which the service serves itself (no CDN at run time). The
# vendored files are committed too, so a checkout without Node.js still serves the page; this
# script re-makes them from the lock file (same versions, same bytes). Needs Node.js 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/../services/reporting/web"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
node build.mjs
