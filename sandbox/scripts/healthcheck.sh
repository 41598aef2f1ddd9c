#!/usr/bin/env bash
# The image's HEALTHCHECK: ttyd answers HTTP on its port. When TTYD_CREDENTIAL is set, ttyd
# asks for it (HTTP basic auth); curl reads it from a config on its standard input, so the
# credential never appears on a command line or in the check's output.
set -euo pipefail

url="http://localhost:${TTYD_PORT:-7681}/"
if [ -z "${TTYD_CREDENTIAL:-}" ]; then
  exec curl -fsS -o /dev/null --max-time 20 "$url"
fi
# curl's config syntax: a quoted value with backslashes and double quotes escaped.
credential=${TTYD_CREDENTIAL//\\/\\\\}
credential=${credential//\"/\\\"}
printf 'user = "%s"\n' "$credential" | curl -fsS -o /dev/null --max-time 20 --config - "$url"
