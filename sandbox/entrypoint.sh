#!/usr/bin/env bash
# Start the sandbox: begin a new session, turn run-time credentials into the files the tools
# read, then serve bash on port 7681 with ttyd (or run the given command): without a login,
# or behind HTTP basic auth when TTYD_CREDENTIAL is set.
set -euo pipefail

# A container run is one session: the first shell that connects starts Claude Code (see
# ~/.bashrc), later ones do not. Starting afresh clears the flag.
session_dir=${SANDBOX_SESSION_DIR:-/tmp/sandbox-session}
rm -rf "$session_dir"
mkdir -p "$session_dir"

# Docker Hub credentials for buildah/podman/skopeo, written without contacting the registry to
# ~/.config/containers/auth.json, one of the places containers-auth.json(5) reads.
# The auth file lives in the container only; nothing secret is part of the image.
if [ -n "${DOCKERHUB_USERNAME:-}" ] && [ -n "${DOCKERHUB_TOKEN:-}" ]; then
  auth_file=${REGISTRY_AUTH_FILE:-$HOME/.config/containers/auth.json}
  mkdir -p "$(dirname "$auth_file")"
  token=$(printf '%s:%s' "$DOCKERHUB_USERNAME" "$DOCKERHUB_TOKEN" | base64 -w0)
  (umask 077 && printf '{"auths":{"docker.io":{"auth":"%s"}}}\n' "$token" > "$auth_file")
fi

# TTYD_CREDENTIAL=user:password makes ttyd ask for it (HTTP basic auth). It leaves the
# environment here, so neither the terminals ttyd starts nor a given command inherit it; ttyd
# takes it on its command line (its only way), readable only inside this container. It is
# never printed: ttyd logs it (base64) among its startup notices, so notices are off then
# (log level 3: errors and warnings).
credential=${TTYD_CREDENTIAL:-}
unset TTYD_CREDENTIAL
ttyd_auth=()
if [ -n "$credential" ]; then
  case $credential in
    ?*:*) ttyd_auth=(--debug 3 --credential "$credential") ;;
    *) echo "entrypoint: TTYD_CREDENTIAL must be user:password (the value is not shown)" >&2
       exit 2 ;;
  esac
fi

cd "$HOME"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
# TTYD_OPTIONS: extra ttyd flags, split on spaces on purpose.
# shellcheck disable=SC2086
exec ttyd --writable --port "${TTYD_PORT:-7681}" "${ttyd_auth[@]}" ${TTYD_OPTIONS:-} bash
