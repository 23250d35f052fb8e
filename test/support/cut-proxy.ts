// A TCP proxy in front of a server that can cut every connection open through it, as a dropped
// network would: clients see their calls fail mid-stream and must reconnect.

import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface CutProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** Destroys every connection open now (both sides); returns how many there were. */
  cut(): number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Cuts made that destroyed at least one connection. */
  readonly cuts: number;
  close(): Promise<void>;
}

/** Listens on a free loopback port and forwards each connection to `targetPort`. */
export async function startCutProxy(
  targetPort: number,
  targetHost = "127.0.0.1",
): Promise<CutProxy> {
  const open = new Set<{ client: Socket; upstream: Socket }>();
  let accepted = 0;
  let cuts = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = tcpConnect(targetPort, targetHost);
    const pair = { client, upstream };
    open.add(pair);
    const end = () => {
      open.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    cut() {
      const n = open.size;
      for (const pair of [...open]) {
        // resetAndDestroy sends an RST, like a dropped network path; destroy if not available.
        pair.client.resetAndDestroy?.() ?? pair.client.destroy();
        pair.upstream.destroy();
        open.delete(pair);
      }
      if (n > 0) cuts++;
      return n;
    },
    get accepted() {
      return accepted;
    },
    get cuts() {
      return cuts;
    },
    close() {
      for (const pair of open) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      open.clear();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
