// The API key, sent as `Authorization: Bearer <key>` on every call.

import type { Interceptor } from "@connectrpc/connect";

export function apiKeyInterceptor(apiKey: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${apiKey}`);
    return next(req);
  };
}
