// The web console: a React app in console/ (TypeScript), bundled by esbuild in memory on the first
// request for it and served at `/` on the server's one port, beside the API and /healthz.

import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "../app/shared/logger.js";

/** What the console needs of a Node request and response (HTTP/1.1 or HTTP/2). */
interface Request {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}
interface Response {
  headersSent: boolean;
  writableEnded: boolean;
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: Uint8Array): unknown;
}

interface Asset {
  body: Uint8Array;
  type: string;
  etag: string;
}

/** The console's paths: the page, its script and its style sheet. */
export const CONSOLE_PATHS = { page: "/", script: "/console/app.js", style: "/console/app.css" };

// The page allows only its own script and styles and talks only to this server.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Agent Runtime</title>
<link rel="stylesheet" href="${CONSOLE_PATHS.style}">
</head>
<body>
<div id="root"></div>
<script type="module" src="${CONSOLE_PATHS.script}"></script>
</body>
</html>
`;

/** The console's entry (console/main.tsx), from src/transport or from a build under dist/. */
export function findConsoleEntry(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    dir = dirname(dir);
    const entry = join(dir, "console", "main.tsx");
    if (existsSync(entry)) return entry;
  }
  return undefined;
}

/** Bundles the console (React included) into one script and one style sheet. */
export async function buildConsole(entry: string): Promise<Map<string, Asset>> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: { app: entry },
    bundle: true,
    write: false,
    outdir: "/console",
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    jsx: "automatic",
    legalComments: "none",
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const assets = new Map<string, Asset>();
  const add = (path: string, body: Uint8Array, type: string) =>
    assets.set(path, {
      body,
      type,
      etag: `"${createHash("sha256").update(body).digest("hex").slice(0, 20)}"`,
    });
  add(CONSOLE_PATHS.page, new TextEncoder().encode(PAGE), "text/html; charset=utf-8");
  for (const file of result.outputFiles) {
    if (file.path.endsWith(".js"))
      add(CONSOLE_PATHS.script, file.contents, "text/javascript; charset=utf-8");
    else if (file.path.endsWith(".css"))
      add(CONSOLE_PATHS.style, file.contents, "text/css; charset=utf-8");
  }
  if (!assets.has(CONSOLE_PATHS.style)) add(CONSOLE_PATHS.style, new Uint8Array(), "text/css");
  return assets;
}

/**
 * A handler for the console's GET and HEAD requests: answers them and returns true, or returns
 * false for any other request. The bundle is built once, on first use; a failed build answers
 * 500 and is tried again on the next request.
 */
export function consoleHandler(logger: Logger): (req: Request, res: Response) => boolean {
  const entry = findConsoleEntry();
  let building: Promise<Map<string, Asset>> | undefined;
  const paths = new Set(Object.values(CONSOLE_PATHS));
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = (req.url ?? "").split("?")[0]!;
    if (!paths.has(path)) return false;
    if (!entry) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end(new TextEncoder().encode("the console's sources (console/) are not installed\n"));
      return true;
    }
    building ??= buildConsole(entry);
    building.then(
      (assets) => send(req, res, assets.get(path)!),
      (err: unknown) => {
        building = undefined;
        logger.error("building the console failed", { err });
        if (res.headersSent) return;
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end(new TextEncoder().encode("the console could not be built; see the server log\n"));
      },
    );
    return true;
  };
}

function send(req: Request, res: Response, asset: Asset): void {
  if (res.headersSent || res.writableEnded) return;
  const headers: Record<string, string> = {
    "content-type": asset.type,
    "cache-control": "no-cache",
    etag: asset.etag,
    "x-content-type-options": "nosniff",
  };
  if (asset.type.startsWith("text/html")) {
    headers["content-security-policy"] = CONTENT_SECURITY_POLICY;
    headers["referrer-policy"] = "no-referrer";
  }
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers);
    res.end(new Uint8Array());
    return;
  }
  headers["content-length"] = String(asset.body.byteLength);
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? new Uint8Array() : asset.body);
}
