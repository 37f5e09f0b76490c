import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { projectPath } from "../server/project-root.ts";

/** A static file served from memory (plain and gzipped once at start) under a versioned name, so browsers may cache it for a year. */
export type Asset = { url: string; body: Uint8Array; gzipped: Uint8Array; contentType: string };

const require = createRequire(import.meta.url);

/**
 * Our own CSS and JavaScript without comment lines and indentation: the sources stay readable, and a
 * feed page keeps within its weight budget without a build step. Only whole comment lines go (no
 * comment shares a line with code in these files, and no string spans lines), so nothing else changes.
 * The JavaScript also loses the line breaks after an opening bracket, a comma or a semicolon and before
 * a closing bracket, where a line break never ends a statement.
 * The CSS also loses the spaces around its punctuation (`a { color: red; }` is `a{color:red}`) and
 * the zero before a decimal point (`0.5rem` is `.5rem`): its only string is `content: ""`, so no
 * string is touched, and spaces before a colon, which can matter in a selector (`.card :focus`), stay.
 */
function compact(source: string, kind: "css" | "js"): string {
  const withoutComments =
    kind === "css" ? source.replace(/\/\*[\s\S]*?\*\//g, "") : source.replace(/^[ \t]*(\/\/.*|\/\*.*\*\/[ \t]*)$/gm, "");
  const lines = withoutComments
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
  if (kind === "js") return lines.join("\n").replace(/([{([,;])\n|\n(?=[})\]])/g, "$1");
  return lines
    .join(" ")
    .replace(/\s*([{};,>])\s*/g, "$1")
    .replace(/:\s+/g, ":")
    .replace(/;}/g, "}")
    .replace(/([:\s,(-])0\.(\d)/g, "$1.$2");
}

function ownAsset(name: string, contentType: string): Asset {
  const source = readFileSync(projectPath("views", "assets", name));
  const kind = name.endsWith(".css") ? "css" : name.endsWith(".js") ? "js" : null;
  const body = kind ? Buffer.from(compact(source.toString("utf8"), kind)) : source;
  const hash = createHash("sha256").update(body).digest("hex").slice(0, 12);
  const [stem, extension] = name.split(".");
  return { url: `/assets/${stem}.${hash}.${extension}`, body, gzipped: gzipSync(body, { level: 9 }), contentType };
}

function htmxAsset(): Asset {
  const { version } = require("htmx.org/package.json") as { version: string };
  const body = readFileSync(require.resolve("htmx.org/dist/htmx.min.js"));
  return {
    url: `/assets/htmx-${version}.min.js`,
    body,
    gzipped: gzipSync(body, { level: 9 }),
    contentType: "text/javascript; charset=utf-8",
  };
}

export const assets = {
  css: ownAsset("app.css", "text/css; charset=utf-8"),
  js: ownAsset("app.js", "text/javascript; charset=utf-8"),
  notifications: ownAsset("notifications.js", "text/javascript; charset=utf-8"),
  inbox: ownAsset("inbox.js", "text/javascript; charset=utf-8"),
  fold: ownAsset("fold.js", "text/javascript; charset=utf-8"),
  htmx: htmxAsset(),
};

export const assetsByUrl = new Map(Object.values(assets).map((asset) => [asset.url, asset]));

/** Served at /favicon.ico, where every browser asks for it unprompted: no page needs to link it. */
export const favicon = ownAsset("favicon.svg", "image/svg+xml");
