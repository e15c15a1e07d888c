#!/bin/sh
# Entry point of the JIPH Gateway image. JIPH_SERVICE (intake, triage, deployment or reporting)
# chooses the service:
#   no arguments      run it: uvicorn on 0.0.0.0 and its port (JIPH_<SERVICE>_PORT, else the
#                     service's usual one), exactly as `jiph up` runs it locally
#   migrate [ARGS]    apply its database migrations and exit (`jiph migrate SERVICE [ARGS]`)
#   anything else     run that command instead (`jiph --help`, `python -c ...`)
set -eu

usage() {
  echo "jiph-entrypoint: set JIPH_SERVICE to intake, triage, deployment or reporting" >&2
  exit 64
}

if [ "$#" -gt 0 ] && [ "$1" != "migrate" ]; then
  exec "$@"
fi

case "${JIPH_SERVICE:-}" in
  intake) default_port=8001 ;;
  triage) default_port=8002 ;;
  deployment) default_port=8003 ;;
  reporting) default_port=8004 ;;
  *) usage ;;
esac

if [ "$#" -gt 0 ]; then
  shift # "migrate"
  exec jiph migrate "$JIPH_SERVICE" "$@"
fi

prefix="JIPH_$(printf '%s' "$JIPH_SERVICE" | tr '[:lower:]' '[:upper:]')"
port="$(printenv "${prefix}_PORT" || true)"
port="${port:-$default_port}"
case "$port" in
  '' | *[!0-9]*)
    echo "jiph-entrypoint: ${prefix}_PORT must be a port number, not '$port'" >&2
    exit 64
    ;;
esac

exec python -m uvicorn --factory "services.${JIPH_SERVICE}.main:create_app" \
  --host 0.0.0.0 --port "$port" --no-access-log --timeout-graceful-shutdown 10 \
  --http shared.http_protocol:HeaderDeadlineProtocol
