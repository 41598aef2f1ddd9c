// Turn an npm copy of the shadcn/ui components into the source of a shadcn registry.
//
// The npm package `shadcn-packaged` (MIT, derived from shadcn/ui, MIT) carries every component
// of shadcn/ui's "default" style compiled to `.jsx` with `.d.ts` declarations, `lib/utils`,
// `hooks/use-mobile` and the Tailwind CSS 4 theme (`index.css`). This script lays them out as
// a shadcn registry source: `registry.json` plus the files it lists, with the package's
// relative imports (`../ui/button`) rewritten to the aliases the shadcn CLI maps onto a
// project (`@/components/ui/button`). `shadcn build SOURCE_DIR/registry.json --output
// TREE_DIR/r/styles/<style>` then turns it into the JSON the shadcn site serves there; this
// script writes the one other file of that tree the CLI asks for, the base colour.
//
// Items: `index` (the style: base packages, `utils`, the theme), `utils`, the hooks, and one
// `registry:ui` item per component with its npm dependencies (at the versions the package was
// built against) and the items it imports.
//
// Usage: node shadcn-registry-from-package.mjs PACKAGE_DIR SOURCE_DIR TREE_DIR
//   PACKAGE_DIR  the unpacked npm package (its package.json, ui/, lib/, hooks/, index.css)
//   SOURCE_DIR   written: registry.json and the rewritten files
//   TREE_DIR     written: r/colors/<baseColor>.json
// Prints the style name on stdout (a summary goes to stderr).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const STYLE = "default"; // the shadcn/ui style the package's components are built from
const BASE_COLOR = "neutral"; // the grey of the package's theme (its oklch values are shadcn's neutral)

const [packageDir, sourceDir, treeDir] = process.argv.slice(2);
if (!packageDir || !sourceDir || !treeDir) {
  console.error("usage: node shadcn-registry-from-package.mjs PACKAGE_DIR SOURCE_DIR TREE_DIR");
  process.exit(2);
}
const pkg = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8"));
const versions = { ...pkg.devDependencies, ...pkg.dependencies };

// Relative imports between the package's folders, in both `from "..."` and `import("...")`.
const RELATIVE = /(["'])\.\.\/(ui|lib|hooks)\/([\w.-]+)\1/g;
const ALIAS = { ui: "@/components/ui", lib: "@/lib", hooks: "@/hooks" };
const BARE_IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)["']([^"'./][^"']*)["']/g;
// What a React/Next.js project already has; the registry must not pin them.
const PROVIDED = new Set(["react", "react-dom", "next"]);

function rewrite(text) {
  return text.replace(RELATIVE, (_, quote, folder, name) => `${quote}${ALIAS[folder]}/${name}${quote}`);
}

/** npm package name of a bare import: `@scope/name/sub` -> `@scope/name`, `a/b` -> `a`. */
function packageOf(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

/** The registry item of one module (NAME.jsx + NAME.d.ts) in FOLDER. */
function item(folder, fileBase, name, type) {
  const files = [];
  const dependencies = new Set();
  const registryDependencies = new Set();
  for (const extension of [folder === "lib" ? ".js" : ".jsx", ".d.ts"]) {
    const relative = `${folder}/${fileBase}${extension}`;
    const original = readFileSync(path.join(packageDir, relative), "utf8");
    for (const [, specifier] of original.matchAll(BARE_IMPORT)) {
      const dependency = packageOf(specifier);
      if (!PROVIDED.has(dependency) && extension !== ".d.ts") dependencies.add(dependency);
    }
    for (const [, , kind, target] of original.matchAll(RELATIVE)) {
      registryDependencies.add(kind === "lib" ? "utils" : target);
    }
    mkdirSync(path.join(sourceDir, folder), { recursive: true });
    writeFileSync(path.join(sourceDir, relative), rewrite(original));
    files.push({ path: relative, type });
  }
  registryDependencies.delete(name);
  const pinned = [...dependencies].sort().map((dep) => (versions[dep] ? `${dep}@${versions[dep]}` : dep));
  return {
    name,
    type,
    ...(pinned.length && { dependencies: pinned }),
    ...(registryDependencies.size && { registryDependencies: [...registryDependencies].sort() }),
    files,
  };
}

// --- the theme: index.css as the registry's cssVars and css -------------------------------

/** A tiny parser for the package's stylesheet: `selector { name: value; nested { } }`. */
function parseBlocks(text) {
  let at = 0;
  function block() {
    const entries = [];
    let buffer = "";
    while (at < text.length) {
      const ch = text[at++];
      if (ch === "{") {
        entries.push([buffer.trim(), block()]);
        buffer = "";
      } else if (ch === "}") {
        break;
      } else if (ch === ";") {
        if (buffer.trim()) entries.push([buffer.trim(), null]);
        buffer = "";
      } else {
        buffer += ch;
      }
    }
    if (buffer.trim()) entries.push([buffer.trim(), null]);
    return entries;
  }
  return block();
}

/** Declarations of a block as {name-without-dashes: value}. */
function variables(entries) {
  const out = {};
  for (const [text, body] of entries) {
    if (body !== null || !text.startsWith("--")) continue;
    const colon = text.indexOf(":");
    out[text.slice(2, colon).trim()] = text.slice(colon + 1).trim();
  }
  return out;
}

/** A block as the registry's `css` object: nested rules, `prop: value`, `@apply x` -> {}. */
function cssObject(entries) {
  const out = {};
  for (const [text, body] of entries) {
    if (body !== null) {
      out[text] = cssObject(body);
    } else if (text.startsWith("@")) {
      out[text] = {};
    } else {
      const colon = text.indexOf(":");
      out[text.slice(0, colon).trim()] = text.slice(colon + 1).trim();
    }
  }
  return out;
}

const stylesheet = parseBlocks(readFileSync(path.join(packageDir, "index.css"), "utf8"));
const block = (selector) => stylesheet.find(([text, body]) => text === selector && body)?.[1] ?? [];
const themeBlock = block("@theme inline");
const keyframes = Object.fromEntries(
  themeBlock.filter(([text, body]) => body && text.startsWith("@keyframes")).map(([text, body]) => [text, cssObject(body)]),
);
// The colours of light and dark mode: what the CLI reads as the project's base colour.
const colors = { light: variables(block(":root")), dark: variables(block(".dark")) };

// --- the registry --------------------------------------------------------------------------

const components = readdirSync(path.join(packageDir, "ui"))
  .filter((file) => file.endsWith(".jsx"))
  .map((file) => file.slice(0, -".jsx".length))
  .sort();
const hooks = readdirSync(path.join(packageDir, "hooks"))
  .filter((file) => file.endsWith(".jsx"))
  .map((file) => file.slice(0, -".jsx".length))
  .sort();
const base = ["class-variance-authority", "clsx", "lucide-react", "tailwind-merge", "tw-animate-css"];
const items = [
  {
    // What `init` installs from a style: the packages every component builds on, the class
    // name helper and the theme.
    name: "index",
    type: "registry:style",
    dependencies: base.map((dep) => (versions[dep] ? `${dep}@${versions[dep]}` : dep)),
    registryDependencies: ["utils"],
    cssVars: { theme: variables(themeBlock) },
    // The stylesheet's own imports after tailwindcss (tw-animate-css), then its rules.
    css: {
      ...Object.fromEntries(
        stylesheet.filter(([text, body]) => body === null && text.startsWith("@import") && !text.includes('"tailwindcss"')).map(([text]) => [text, {}]),
      ),
      ...keyframes,
      "@layer base": cssObject(block("@layer base")),
    },
    files: [],
  },
  item("lib", "utils", "utils", "registry:lib"),
  ...hooks.map((hook) => item("hooks", hook, hook, "registry:hook")),
  ...components.map((component) => item("ui", component, component, "registry:ui")),
];
writeFileSync(
  path.join(sourceDir, "registry.json"),
  JSON.stringify(
    {
      $schema: "https://ui.shadcn.com/schema/registry.json",
      name: `${pkg.name}@${pkg.version}`,
      homepage: `https://www.npmjs.com/package/${pkg.name}`,
      items,
    },
    null,
    2,
  ),
);
// `/r/colors/<baseColor>.json`: the theme's colours (`cssVarsV4` is what Tailwind CSS 4
// projects read); the inline colours serve projects without CSS variables, which this is not.
mkdirSync(path.join(treeDir, "r", "colors"), { recursive: true });
writeFileSync(
  path.join(treeDir, "r", "colors", `${BASE_COLOR}.json`),
  JSON.stringify(
    { inlineColors: { light: {}, dark: {} }, cssVars: colors, cssVarsV4: colors, inlineColorsTemplate: "", cssVarsTemplate: "" },
    null,
    2,
  ),
);
console.error(`${components.length} components, ${hooks.length} hooks from ${pkg.name}@${pkg.version} (style ${STYLE})`);
console.log(STYLE);
