#!/usr/bin/env bash
# Create the agent's Next.js project (TypeScript, Tailwind CSS, App Router, src/ layout) and
# install shadcn/ui into it. Runs at image build time as the `agent` user.
#
# Usage: create-next-project.sh DIR
# Environment (all optional):
#   SHADCN_VERSION       The shadcn CLI to run (npx), `latest` by default; `shadcn init`
#                        also adds it to the project, whose copy the agent uses later.
#   SHADCN_COMPONENTS    `all` (default), `none`, or a space-separated list of component names.
#                        `none` installs only the npm-distributed part of `shadcn init`
#                        (components.json, lib/utils.ts, the CSS and utility packages), for
#                        builds that can reach no shadcn registry.
#   SHADCN_REGISTRY_URL  A mirror of the shadcn registry (what ui.shadcn.com/r serves); the
#                        shadcn CLI reads it as REGISTRY_URL. Empty: the CLI's default.
#   SHADCN_REGISTRY_DIR  A directory holding a static copy of that tree (r/..., init); when it
#                        is not empty it is served on the loopback interface for this build only.
# The result is recorded in ~/.local/share/sandbox/shadcn.env for tests and humans.
set -euo pipefail

dir=${1:?usage: create-next-project.sh DIR}
components=${SHADCN_COMPONENTS:-all}
shadcn_cli="shadcn@${SHADCN_VERSION:-latest}"
registry_url=${SHADCN_REGISTRY_URL:-}
registry_dir=${SHADCN_REGISTRY_DIR:-}
record="$HOME/.local/share/sandbox/shadcn.env"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf 'create-next-project: %s\n' "$*" >&2; }

log "create-next-app $(create-next-app --version) -> $dir"
create-next-app "$dir" \
  --typescript --tailwind --eslint --app --src-dir --import-alias "@/*" \
  --use-npm --yes --disable-git
cd "$dir"

mkdir -p "$(dirname "$record")"

if [ "$components" = none ]; then
  # What `shadcn init` writes that does not come from the registry: the configuration file,
  # the class-name helper, and the npm packages its CSS and components build on.
  log "shadcn: no registry; installing the npm-distributed parts of init only"
  npm install --no-audit --no-fund \
    "$shadcn_cli" class-variance-authority clsx tailwind-merge lucide-react tw-animate-css
  cat > components.json <<'JSON'
{
  "$schema": "https://ui.shadcn.com/schema.json",
  "style": "new-york",
  "rsc": true,
  "tsx": true,
  "tailwind": {
    "config": "",
    "css": "src/app/globals.css",
    "baseColor": "neutral",
    "cssVariables": true,
    "prefix": ""
  },
  "iconLibrary": "lucide",
  "aliases": {
    "components": "@/components",
    "utils": "@/lib/utils",
    "ui": "@/components/ui",
    "lib": "@/lib",
    "hooks": "@/hooks"
  }
}
JSON
  mkdir -p src/lib src/components/ui src/hooks
  cat > src/lib/utils.ts <<'TS'
import { type ClassValue, clsx } from "clsx";
import { twMerge } from "tailwind-merge";

/** Join class names, letting later Tailwind utilities win over earlier conflicting ones. */
export function cn(...inputs: ClassValue[]) {
  return twMerge(clsx(inputs));
}
TS
  css=src/app/globals.css
  { printf '@import "tailwindcss";\n@import "tw-animate-css";\n@import "shadcn/tailwind.css";\n'
    grep -v '^@import "tailwindcss";' "$css"; } > "$css.new"
  mv "$css.new" "$css"
  source_kind=none
else
  server_pid=
  if [ -n "$registry_dir" ] && [ -n "$(ls -A "$registry_dir" 2>/dev/null)" ]; then
    port_file=$(mktemp)
    node "$here/serve-static.mjs" "$registry_dir" "$port_file" &
    server_pid=$!
    trap 'kill "$server_pid" 2>/dev/null || true' EXIT
    for _ in $(seq 50); do [ -s "$port_file" ] && break; sleep 0.1; done
    [ -s "$port_file" ] || { log "the static registry server did not start"; exit 1; }
    registry_url="http://127.0.0.1:$(cat "$port_file")/r"
    source_kind=copy
  elif [ -n "$registry_url" ]; then
    source_kind=mirror
  else
    source_kind=upstream
  fi
  if [ -n "$registry_url" ]; then
    export REGISTRY_URL="$registry_url"
  fi
  log "$shadcn_cli: registry ${REGISTRY_URL:-(the default of the CLI)}"
  npx --yes "$shadcn_cli" init --yes --defaults --base radix --force
  if [ "$components" = all ]; then
    npx --yes "$shadcn_cli" add --all --yes --overwrite
  else
    # shellcheck disable=SC2086 # a space-separated list of component names, split on purpose
    npx --yes "$shadcn_cli" add --yes --overwrite $components
  fi
  # The agent runs the project's own CLI later (`npx shadcn add ...`, offline-friendly).
  npm ls shadcn >/dev/null 2>&1 || npm install --no-audit --no-fund --save-dev "$shadcn_cli"
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    trap - EXIT
  fi
fi

count=$(find src/components/ui -maxdepth 1 -type f \( -name '*.tsx' -o -name '*.ts' \) 2>/dev/null | wc -l)
{
  echo "SHADCN_COMPONENTS=$components"
  echo "SHADCN_SOURCE=$source_kind"
  echo "SHADCN_UI_COUNT=$count"
} > "$record"
log "shadcn/ui components installed: $count ($source_kind)"
if [ "$components" != none ] && [ "$count" -eq 0 ]; then
  log "no shadcn/ui component was installed"
  exit 1
fi
