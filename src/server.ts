import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AgentRuntime } from "./runtime.js";

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

export interface ListeningServer {
  readonly port: number;
  readonly host: string;
  /** Stops accepting, lets open requests finish (up to `graceMs`), then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves the runtime on one port: HTTP/1.1 (Connect, gRPC-web, /healthz) and cleartext HTTP/2
 * (Connect, gRPC, gRPC-web). Each connection's first bytes say which: the HTTP/2 preface or not.
 */
export async function listen(
  runtime: AgentRuntime,
  options: { port: number; host: string },
): Promise<ListeningServer> {
  const h1 = http.createServer((req, res) => {
    closeIfBodyUnread(req, res);
    runtime.handler(req, res);
  });
  const h2 = http2.createServer({}, runtime.handler);
  const sockets = new Set<net.Socket>();
  const h2Sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    h2Sessions.add(session);
    session.on("close", () => h2Sessions.delete(session));
  });

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, H2_PREFACE.length);
      const isH2 = buffered.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && buffered.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off("data", onData);
      socket.pause();
      socket.unshift(buffered);
      if (isH2) {
        // The HTTP/2 session reads what is buffered, then takes the socket's handle over.
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    host: options.host,
    async close(graceMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      h1.closeIdleConnections();
      for (const session of h2Sessions) session.close();
      const deadline = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      deadline.unref();
      await closed;
      clearTimeout(deadline);
    },
  };
}

/**
 * An HTTP/1.1 request answered before its body was read to the end (refused, malformed, too
 * large) leaves the rest of the body where the next request on the connection is expected, and
 * that request would hang: such an answer says `Connection: close`, and Node closes the
 * connection once it is sent.
 */
function closeIfBodyUnread(req: http.IncomingMessage, res: http.ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: http.ServerResponse, ...args: unknown[]) {
    if (!req.complete && !this.headersSent) this.setHeader("connection", "close");
    return (writeHead as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}
