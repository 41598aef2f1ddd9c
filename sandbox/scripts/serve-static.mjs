// Serve a directory read-only over HTTP on 127.0.0.1 (a free port), for one build step.
// Used to hand the shadcn CLI a static copy of its registry: the URL path, without its query
// string, names a file under ROOT; `NAME` falls back to `NAME.json`.
// Usage: node serve-static.mjs ROOT PORT_FILE   (writes the chosen port to PORT_FILE)
import { createReadStream, promises as fs, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";

const [root, portFile] = process.argv.slice(2);
if (!root || !portFile) {
  console.error("usage: node serve-static.mjs ROOT PORT_FILE");
  process.exit(2);
}
const base = path.resolve(root);

async function resolveFile(urlPath) {
  const relative = decodeURIComponent(urlPath).replace(/^\/+/, "");
  const candidate = path.resolve(base, relative);
  if (candidate !== base && !candidate.startsWith(base + path.sep)) return null;
  for (const file of [candidate, `${candidate}.json`, path.join(candidate, "index.json")]) {
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile()) return file;
  }
  return null;
}

const server = createServer(async (request, response) => {
  const url = new URL(request.url ?? "/", "http://127.0.0.1");
  const file = await resolveFile(url.pathname);
  if (!file) {
    // The one line a failing build needs: what the client asked for that the copy lacks.
    console.error(`serve-static: 404 ${url.pathname}`);
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: `not in the registry copy: ${url.pathname}` }));
    return;
  }
  const type = file.endsWith(".json") || !path.extname(file) ? "application/json" : "text/plain";
  response.writeHead(200, { "content-type": type });
  createReadStream(file).pipe(response);
});

server.listen(0, "127.0.0.1", () => {
  writeFileSync(portFile, String(server.address().port));
});
