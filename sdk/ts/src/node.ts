// @agent-runtime/client/node: a client for Node with the Connect, gRPC or gRPC-web protocol,
// TLS options, and settings from the environment:
//   AGENT_RUNTIME_URL       the server (default http://127.0.0.1:8080)
//   AGENT_RUNTIME_API_KEY   the API key
//   AGENT_RUNTIME_PROTOCOL  connect (default), grpc or grpc-web
//   AGENT_RUNTIME_CA_FILE   a PEM file of the certificate authorities to trust (https)

import { readFileSync } from "node:fs";
import type { Interceptor, Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { apiKeyInterceptor } from "./auth.js";
import { AgentRuntimeClient } from "./client.js";

export type Protocol = "connect" | "grpc" | "grpc-web";

/** TLS settings for an https server (as Node's `tls.connect` takes them). */
export interface TlsOptions {
  /** Certificate authorities to trust, PEM. */
  ca?: string | Buffer;
  /** A client certificate and its key, PEM (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Default true. */
  rejectUnauthorized?: boolean;
}

export interface NodeClientOptions {
  baseUrl?: string;
  apiKey?: string;
  protocol?: Protocol;
  /** HTTP/1.1 or HTTP/2; gRPC always uses 2. Default 1.1 for connect and grpc-web. */
  httpVersion?: "1.1" | "2";
  tls?: TlsOptions;
  /** JSON instead of binary protobuf (Connect protocol only). */
  json?: boolean;
  interceptors?: Interceptor[];
  /** Where to read the defaults from; process.env by default. */
  env?: Record<string, string | undefined>;
}

const PROTOCOLS = new Set<Protocol>(["connect", "grpc", "grpc-web"]);

/** A Node transport to the server, from the options and then the environment. */
export function createNodeTransport(options: NodeClientOptions = {}): Transport {
  const env = options.env ?? process.env;
  const baseUrl = options.baseUrl ?? (env.AGENT_RUNTIME_URL || "http://127.0.0.1:8080");
  const apiKey = options.apiKey ?? env.AGENT_RUNTIME_API_KEY ?? "";
  const protocol = options.protocol ?? ((env.AGENT_RUNTIME_PROTOCOL || "connect") as Protocol);
  if (!PROTOCOLS.has(protocol)) {
    throw new TypeError(
      `protocol must be connect, grpc or grpc-web, got ${JSON.stringify(protocol)}`,
    );
  }
  const caFile = env.AGENT_RUNTIME_CA_FILE;
  const tls: TlsOptions = { ...(caFile ? { ca: readFileSync(caFile) } : {}), ...options.tls };
  const interceptors = [...(options.interceptors ?? [])];
  if (apiKey) interceptors.unshift(apiKeyInterceptor(apiKey));
  const common = { baseUrl, interceptors, nodeOptions: tls };
  if (protocol === "grpc") return createGrpcTransport(common);
  const httpVersion = options.httpVersion ?? "1.1";
  if (protocol === "grpc-web") return createGrpcWebTransport({ ...common, httpVersion });
  return createConnectTransport({ ...common, httpVersion, useBinaryFormat: !options.json });
}

/** A client for Node: `createNodeClient()` reads AGENT_RUNTIME_URL and AGENT_RUNTIME_API_KEY. */
export function createNodeClient(options: NodeClientOptions = {}): AgentRuntimeClient {
  return new AgentRuntimeClient(createNodeTransport(options));
}

export * from "./index.js";
