import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { cors as connectCors } from "@connectrpc/connect";

const allowHeaders = [...connectCors.allowedHeaders, "Authorization"].join(", ");
const exposeHeaders = connectCors.exposedHeaders.join(", ");

/**
 * CORS for browser callers from `corsOrigins` (["*"]: any): sets the response headers, and
 * answers a preflight request itself (then returns true: the request is done).
 */
export function applyCors(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
  corsOrigins: readonly string[],
): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== "string") return false;
  const allowed = corsOrigins.includes("*") || corsOrigins.includes(origin);
  if (allowed) {
    res.setHeader("Access-Control-Allow-Origin", corsOrigins.includes("*") ? "*" : origin);
    res.setHeader("Vary", "Origin");
    res.setHeader("Access-Control-Expose-Headers", exposeHeaders);
  }
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
    if (allowed) {
      res.setHeader("Access-Control-Allow-Methods", connectCors.allowedMethods.join(", "));
      res.setHeader("Access-Control-Allow-Headers", allowHeaders);
      res.setHeader("Access-Control-Max-Age", "7200");
    }
    res.writeHead(allowed ? 204 : 403);
    res.end();
    return true;
  }
  return false;
}
