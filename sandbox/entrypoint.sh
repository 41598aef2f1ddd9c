#!/usr/bin/env bash
# Start the sandbox: begin a new session, turn run-time credentials into the files the tools
# read, then serve a login-free bash on port 7681 with ttyd (or run the given command).
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

cd "$HOME"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
# TTYD_OPTIONS: extra ttyd flags (e.g. `--credential user:pass`), split on spaces on purpose.
# shellcheck disable=SC2086
exec ttyd --writable --port "${TTYD_PORT:-7681}" ${TTYD_OPTIONS:-} bash
