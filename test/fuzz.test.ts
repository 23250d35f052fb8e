// Fuzzes every RPC of every served service (methods from the generated descriptors) over the
// wire, against the real server in this process: random and mutated binary protobuf, JSON with
// wrong types and huge values, broken envelopes and compression flags, odd content types and
// headers, over Connect (JSON and binary, HTTP/1.1 and h2c, POST and GET), gRPC and gRPC-web.
// Bad input must never be INTERNAL or UNKNOWN, never an HTTP 500, and every error must carry
// google.rpc.ErrorInfo. Reproducible: FUZZ_SEED=<seed> FUZZ_CASES=<per method and protocol>.

import http from "node:http";
import http2 from "node:http2";
import {
  create,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { reflect } from "@bufbuild/protobuf/reflect";
import { BinaryReader, base64Encode } from "@bufbuild/protobuf/wire";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SecretService } from "#gen/secret_service_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WebhookService } from "#gen/webhook_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import { Health } from "#grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "#grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "#grpc/reflection/v1alpha/reflection_pb.js";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import { createLogger } from "../src/app/shared/logger.js";
import { type AgentRuntime, createAgentRuntime, SERVICE_NAMES } from "../src/runtime.js";
import { type ListeningServer, listen } from "../src/server.js";

const SEED = Number(process.env.FUZZ_SEED ?? 20260701);
/** Cases for each method, protocol and kind of input. */
const CASES = Number(process.env.FUZZ_CASES ?? 24);
/** Replays only the cases whose label contains this (the labels are in the failure list). */
const ONLY = process.env.FUZZ_ONLY;
const KEY = "fuzz-key-0123456789abcdef";
const CONCURRENCY = 8;
const ANSWER_TIMEOUT_MS = 10_000;

const SERVICES: DescService[] = [
  AgentProfileService,
  SessionService,
  WorkspaceService,
  Health,
  ReflectionV1,
  ReflectionV1alpha,
  // Last: the seeded cases of the services above stay as they were.
  SecretService,
  WebhookService,
];
const METHODS: DescMethod[] = SERVICES.flatMap((s) => s.methods);

// ---------------------------------------------------------------------------------------------
// Randomness: one seeded generator, so a failing case can be replayed.

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(256));
  }
}

const STRINGS = [
  "",
  "ses_00000000000000000000000000",
  "prf_00000000000000000000000000",
  "bad",
  "../../etc/passwd",
  "/abs/path",
  "a/b/c.txt",
  "ünïcødé ✓ 𝄞",
  "\u0000\u0001\u007f",
  "x".repeat(300),
  "y".repeat(70_000),
  "agentruntime.v1.SessionService",
  "grpc.health.v1.Health",
  "NaN",
  "-1",
];

function randomScalar(rng: Rng, scalar: ScalarType): unknown {
  switch (scalar) {
    case ScalarType.STRING:
      return rng.pick(STRINGS);
    case ScalarType.BYTES:
      return rng.bytes(rng.pick([0, 1, 16, 300]));
    case ScalarType.BOOL:
      return rng.chance(0.5);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return rng.pick([0, -1, 1.5, 1e300, Number.NaN, Number.POSITIVE_INFINITY]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return rng.pick([0n, -1n, 1n, 9223372036854775807n, -9223372036854775808n]);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return rng.pick([0n, 1n, 18446744073709551615n]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return rng.pick([0, 1, 4294967295]);
    default:
      return rng.pick([0, -1, 1, 2147483647, -2147483648]);
  }
}

/** A message of `desc` with random values in random fields (well-formed on the wire). */
function randomMessage<Desc extends DescMessage>(
  rng: Rng,
  desc: Desc,
  depth = 0,
): MessageShape<Desc> {
  const msg = reflect(desc, create(desc));
  for (const field of msg.fields) {
    if (!rng.chance(0.6)) continue;
    setRandom(rng, msg, field, depth);
  }
  return msg.message as MessageShape<Desc>;
}

function setRandom(
  rng: Rng,
  msg: ReturnType<typeof reflect>,
  field: DescField,
  depth: number,
): void {
  switch (field.fieldKind) {
    case "scalar":
      msg.set(field, randomScalar(rng, field.scalar) as never);
      break;
    case "enum":
      msg.set(field, rng.pick([0, 1, 2, 99, -1]) as never);
      break;
    case "message":
      if (depth < 3) {
        msg.set(field, reflect(field.message, randomMessage(rng, field.message, depth + 1)));
      }
      break;
    case "list": {
      const list = msg.get(field);
      for (let i = rng.int(4); i > 0; i--) {
        if (field.listKind === "scalar") list.add(randomScalar(rng, field.scalar) as never);
        else if (field.listKind === "enum") list.add(rng.pick([0, 1, 7]) as never);
        else if (depth < 3) {
          list.add(reflect(field.message, randomMessage(rng, field.message, depth + 1)) as never);
        }
      }
      break;
    }
    case "map": {
      const map = msg.get(field);
      for (let i = rng.int(3); i > 0; i--) {
        const key = field.mapKey === ScalarType.STRING ? rng.pick(STRINGS) : rng.int(100);
        const value =
          field.mapKind === "scalar"
            ? randomScalar(rng, field.scalar)
            : field.mapKind === "enum"
              ? rng.int(5)
              : depth < 3
                ? reflect(field.message, randomMessage(rng, field.message, depth + 1))
                : undefined;
        if (value !== undefined) map.set(key as never, value as never);
      }
      break;
    }
  }
}

/** Random bytes, or a valid message's bytes with flips, cuts, insertions and junk. */
function binaryPayload(rng: Rng, desc: DescMessage): Uint8Array {
  if (rng.chance(0.3)) return rng.bytes(rng.pick([1, 3, 8, 40, 200]));
  const valid = toBinary(desc, randomMessage(rng, desc));
  const out = Array.from(valid);
  for (let n = 1 + rng.int(3); n > 0; n--) {
    switch (rng.int(6)) {
      case 0: // flip a byte
        if (out.length) out[rng.int(out.length)] = rng.int(256);
        break;
      case 1: // cut the tail
        out.length = rng.int(out.length + 1);
        break;
      case 2: // insert junk
        out.splice(rng.int(out.length + 1), 0, ...rng.bytes(1 + rng.int(6)));
        break;
      case 3: // an illegal tag (field 0) or a reserved wire type
        out.splice(rng.int(out.length + 1), 0, rng.pick([0x00, 0x07, 0x0e, 0x0f]));
        break;
      case 4: // a length prefix far past the end
        out.push(0x0a, 0xff, 0xff, 0xff, 0x0f);
        break;
      default: // an over-long varint
        out.push(0x08, ...new Array(11).fill(0xff));
    }
  }
  return Uint8Array.from(out);
}

const jsonName = (f: DescField) => (f.jsonName === f.name ? f.name : f.jsonName);

function randomJsonValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(10)) {
    case 0:
      return rng.pick(STRINGS);
    case 1:
      return rng.pick([0, -1, 1.5, 1e308, 2 ** 64, -(2 ** 63), 1.2345678901234568e29]);
    case 2:
      return rng.pick(["1e400", "9999999999999999999999", "0x10", "Infinity", "1.5"]);
    case 3:
      return rng.chance(0.5);
    case 4:
      return null;
    case 5:
      return depth < 3 ? [randomJsonValue(rng, depth + 1), randomJsonValue(rng, depth + 1)] : [];
    case 6:
      return depth < 3 ? { x: randomJsonValue(rng, depth + 1) } : {};
    case 7:
      return "not base64 !!!";
    case 8:
      return rng.pick(["SESSION_STATE_IDLE", "NOPE", "", 99]);
    default:
      return "z".repeat(rng.pick([1, 1000, 100_000]));
  }
}

/** JSON text: the input's fields (and unknown ones) with values of any type, or broken text. */
function jsonPayload(rng: Rng, desc: DescMessage): string {
  const r = rng.int(10);
  if (r === 0) return rng.pick(["{", "[]", "null", '"x"', "{}}", '{"a":', "", "\u0000", "1e999"]);
  const obj: Record<string, unknown> = {};
  for (const field of desc.fields) {
    if (!rng.chance(0.6)) continue;
    obj[rng.chance(0.5) ? jsonName(field) : field.name] = randomJsonValue(rng);
  }
  if (rng.chance(0.2)) obj[`unknown_${rng.int(100)}`] = randomJsonValue(rng);
  const text = JSON.stringify(obj);
  return r === 1 ? text.slice(0, rng.int(text.length + 1)) : text;
}

function envelope(flags: number, data: Uint8Array, length = data.length): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, length >>> 0);
  out.set(data, 5);
  return out;
}

/** One enveloped request, or a broken one: wrong flags, lengths, counts, trailing bytes. */
function envelopedPayload(rng: Rng, data: Uint8Array): { body: Uint8Array; note: string } {
  switch (rng.int(9)) {
    case 0:
      return { body: envelope(0x01, data), note: "compressed flag, no encoding" };
    case 1:
      return { body: envelope(rng.pick([0x02, 0x80, 0x7e, 0xff]), data), note: "odd flags" };
    case 2:
      return { body: envelope(0, data, data.length + 1 + rng.int(1000)), note: "short frame" };
    case 3:
      return { body: envelope(0, data, 0xffffffff), note: "huge length" };
    case 4:
      return { body: Buffer.concat([envelope(0, data), envelope(0, data)]), note: "two frames" };
    case 5:
      return { body: new Uint8Array(0), note: "no frame" };
    case 6:
      return { body: Buffer.concat([envelope(0, data), rng.bytes(3)]), note: "trailing bytes" };
    default:
      return { body: envelope(0, data), note: "one frame" };
  }
}

// ---------------------------------------------------------------------------------------------
// Requests and answers on the wire.

type HttpVersion = "1.1" | "2";

interface Request {
  http: HttpVersion;
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** How to judge the answer. */
  protocol: "connect" | "connect-stream" | "grpc" | "grpc-web";
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
  /** The stream was ended by us after a message arrived (an open stream that works). */
  cutShort: boolean;
}

const flatten = (h: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(h)
      .filter(([k]) => !k.startsWith(":"))
      .map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : String(v)]),
  );

/** Whether `body` holds a complete enveloped message frame (a stream that answers). */
function hasMessageFrame(body: Buffer): boolean {
  let at = 0;
  while (at + 5 <= body.length) {
    const len = body.readUInt32BE(at + 1);
    if (at + 5 + len > body.length) return false;
    if ((body[at]! & 0x82) === 0) return true;
    at += 5 + len;
  }
  return false;
}

const streamingAnswer = (req: Request) =>
  req.protocol === "connect-stream" || req.protocol === "grpc-web" || req.protocol === "grpc";

const H2_MAX_HEADER_LIST = 65_535;
const headerBytes = (req: Request) =>
  req.path.length + Object.entries(req.headers).reduce((n, [k, v]) => n + k.length + v.length, 0);

let h1Agent: http.Agent;
let h2Session: http2.ClientHttp2Session | undefined;
let baseUrl: string;

function h2(): http2.ClientHttp2Session {
  if (!h2Session || h2Session.closed || h2Session.destroyed) {
    h2Session = http2.connect(baseUrl);
    h2Session.on("error", () => {});
  }
  return h2Session;
}

function send(req: Request): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => finish(new Error("no answer in time")), ANSWER_TIMEOUT_MS);
    let status = 0;
    let headers: Record<string, string> = {};
    let trailers: Record<string, string> = {};
    let stop = () => {};
    const finish = (err?: Error, cutShort = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve({ status, headers, trailers, body: Buffer.concat(chunks), cutShort });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      // A streaming answer with a message in it: the input was read fine; stop here.
      if (status === 200 && streamingAnswer(req) && hasMessageFrame(Buffer.concat(chunks))) {
        finish(undefined, true);
        stop();
      }
    };
    if (req.http === "1.1") {
      const r = http.request(
        `${baseUrl}${req.path}`,
        { method: req.method, headers: req.headers, agent: h1Agent },
        (res) => {
          status = res.statusCode ?? 0;
          headers = flatten(res.headers);
          res.on("data", onData);
          res.on("end", () => {
            trailers = flatten(res.trailers);
            finish();
          });
          res.on("error", (e) => finish(e));
        },
      );
      stop = () => r.destroy();
      r.on("error", (e) => finish(e));
      r.end(req.method === "POST" ? req.body : undefined);
    } else {
      // Past the server's advertised header list limit (64 KiB), HTTP/2 refuses the stream and
      // ends the connection: such requests get a connection of their own.
      const oversized = headerBytes(req) > H2_MAX_HEADER_LIST;
      const session = oversized ? http2.connect(baseUrl) : h2();
      if (oversized) session.on("error", () => {});
      const stream = session.request({
        ":method": req.method,
        ":path": req.path,
        ...req.headers,
      });
      stop = () => stream.close(http2.constants.NGHTTP2_CANCEL);
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        headers = flatten(h);
      });
      stream.on("trailers", (t) => {
        trailers = flatten(t);
      });
      stream.on("data", onData);
      stream.on("end", () => finish());
      stream.on("error", (e) => {
        if (!oversized) finish(e);
      });
      stream.on("close", () => {
        if (oversized) session.close();
        if (oversized && stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) {
          status = 431; // the HTTP/2 way of saying it
          finish();
        } else if (stream.rstCode && stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
          finish(new Error(`stream reset with code ${stream.rstCode}`));
        } else finish();
      });
      stream.end(req.method === "POST" ? req.body : undefined);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Judging answers: a status per protocol, never INTERNAL/UNKNOWN, always ErrorInfo on errors.

const ERROR_INFO = "google.rpc.ErrorInfo";
const BAD_CODES = new Set(["internal", "unknown"]);
const BAD_GRPC = new Set([2, 13]);
/**
 * HTTP answers before any RPC started: not found, method not allowed, unsupported media type,
 * headers too large (Node's own limit), HTTP version not supported (a bidi stream on HTTP/1.1).
 */
const HTTP_REFUSALS = new Set([404, 405, 415, 431, 505]);

/** google.rpc.Status bytes -> code and the type names of its details. */
function decodeStatus(bytes: Uint8Array): { code: number; types: string[] } {
  const r = new BinaryReader(bytes);
  let code = 0;
  const types: string[] = [];
  while (r.pos < r.len) {
    const [field, wire] = r.tag();
    if (field === 1) code = r.int32();
    else if (field === 3) {
      const any = new BinaryReader(r.bytes());
      while (any.pos < any.len) {
        const [f, w] = any.tag();
        if (f === 1) types.push(any.string().replace(/^.*\//, ""));
        else any.skip(w);
      }
    } else r.skip(wire);
  }
  return { code, types };
}

function judgeConnectError(json: unknown): string | undefined {
  const err = json as { code?: string; message?: string; details?: Array<{ type?: string }> };
  if (!err || typeof err.code !== "string") return "error body without a code";
  const said = `${err.code} (${err.message ?? ""})`;
  if (BAD_CODES.has(err.code)) return `code ${said}`;
  if (!(err.details ?? []).some((d) => d.type === ERROR_INFO)) return `${said} without ErrorInfo`;
  return undefined;
}

function judgeGrpc(t: Record<string, string>): string | undefined {
  const status = t["grpc-status"];
  if (status === undefined) return "no grpc-status";
  const code = Number(status);
  const said = `grpc-status ${code} (${decodeURIComponent(t["grpc-message"] ?? "")})`;
  if (BAD_GRPC.has(code)) return said;
  if (code === 0) return undefined;
  const details = t["grpc-status-details-bin"];
  if (!details) return `${said} without details`;
  const decoded = decodeStatus(Buffer.from(details, "base64"));
  if (!decoded.types.includes(ERROR_INFO)) return `${said} without ErrorInfo`;
  return undefined;
}

/** Frames of an enveloped body: [flags, data]. */
function frames(body: Buffer): Array<[number, Buffer]> {
  const out: Array<[number, Buffer]> = [];
  let at = 0;
  while (at + 5 <= body.length) {
    const len = body.readUInt32BE(at + 1);
    out.push([body[at]!, body.subarray(at + 5, at + 5 + len)]);
    at += 5 + len;
  }
  return out;
}

/** What is wrong with the answer, or undefined when it is a proper protocol answer. */
function judge(req: Request, a: Answer): string | undefined {
  if (a.status === 500) return "HTTP 500";
  if (HTTP_REFUSALS.has(a.status)) return undefined;
  switch (req.protocol) {
    case "connect": {
      if (a.status === 200) return undefined;
      try {
        return judgeConnectError(JSON.parse(a.body.toString("utf8")));
      } catch {
        return `HTTP ${a.status} with a body that is not a Connect error`;
      }
    }
    case "connect-stream": {
      if (a.status !== 200) {
        try {
          return judgeConnectError(JSON.parse(a.body.toString("utf8")));
        } catch {
          return `HTTP ${a.status} with a body that is not a Connect error`;
        }
      }
      if (a.cutShort) return undefined;
      const end = frames(a.body).find(([flags]) => flags & 0x02);
      if (!end) return "stream without an end frame";
      const { error } = JSON.parse(end[1].toString("utf8")) as { error?: unknown };
      return error === undefined ? undefined : judgeConnectError(error);
    }
    case "grpc": {
      if (a.status !== 200) return `HTTP ${a.status}`;
      if (a.cutShort) return undefined;
      return judgeGrpc({ ...a.headers, ...a.trailers });
    }
    case "grpc-web": {
      if (a.status !== 200) return `HTTP ${a.status}`;
      if (a.cutShort) return undefined;
      const trailer = frames(a.body).find(([flags]) => flags & 0x80);
      const t: Record<string, string> = { ...a.headers };
      for (const line of trailer?.[1].toString("utf8").split("\r\n") ?? []) {
        const colon = line.indexOf(":");
        if (colon > 0) t[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      return judgeGrpc(t);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cases.

interface Case {
  label: string;
  req: Request;
}

const pathOf = (m: DescMethod) => `/${m.parent.typeName}/${m.name}`;
const isStreaming = (m: DescMethod) => m.methodKind !== "unary";
const preview = (b: Uint8Array) => Buffer.from(b.subarray(0, 48)).toString("hex");

function casesFor(m: DescMethod, rng: Rng): Case[] {
  const out: Case[] = [];
  const auth = { authorization: `Bearer ${KEY}` };
  const add = (label: string, req: Request) =>
    out.push({ label: `${m.parent.name}/${m.name} ${label} [${preview(req.body)}]`, req });
  const data = () => (rng.chance(0.5) ? binaryPayload(rng, m.input) : rng.bytes(rng.int(64)));

  for (let i = 0; i < CASES; i++) {
    const http: HttpVersion = rng.chance(0.5) ? "1.1" : "2";
    if (!isStreaming(m)) {
      // Connect unary: binary and JSON, sometimes with an encoding or odd headers.
      const headers: Record<string, string> = { ...auth, "connect-protocol-version": "1" };
      const extra = rng.int(8);
      if (extra === 0) headers["content-encoding"] = "gzip";
      if (extra === 1) headers["content-encoding"] = "snappy";
      if (extra === 2) headers["connect-timeout-ms"] = rng.pick(["x", "-1", "99999999999"]);
      if (extra === 3) delete headers["connect-protocol-version"];
      add(`connect proto h${http} #${i}`, {
        http,
        method: "POST",
        path: pathOf(m),
        headers: { ...headers, "content-type": "application/proto" },
        body: binaryPayload(rng, m.input),
        protocol: "connect",
      });
      add(`connect json h${http} #${i}`, {
        http,
        method: "POST",
        path: pathOf(m),
        headers: { ...headers, "content-type": "application/json" },
        body: Buffer.from(jsonPayload(rng, m.input)),
        protocol: "connect",
      });
    } else {
      const binary = rng.chance(0.5);
      const { body, note } = envelopedPayload(
        rng,
        binary ? data() : Buffer.from(jsonPayload(rng, m.input)),
      );
      const headers: Record<string, string> = {
        ...auth,
        "connect-protocol-version": "1",
        "content-type": binary ? "application/connect+proto" : "application/connect+json",
      };
      if (rng.chance(0.15)) headers["connect-content-encoding"] = "gzip";
      // Client and bidi streams over Connect need HTTP/2.
      const v: HttpVersion = m.methodKind === "server_streaming" ? http : "2";
      add(`connect-stream ${note} h${v} #${i}`, {
        http: v,
        method: "POST",
        path: pathOf(m),
        headers,
        body,
        protocol: "connect-stream",
      });
    }
    // gRPC (h2c) and gRPC-web (both), binary and JSON codecs, broken envelopes.
    for (const protocol of ["grpc", "grpc-web"] as const) {
      const json = rng.chance(0.2);
      const { body, note } = envelopedPayload(
        rng,
        json ? Buffer.from(jsonPayload(rng, m.input)) : data(),
      );
      const headers: Record<string, string> = {
        ...auth,
        "content-type": `application/${protocol}${json ? "+json" : rng.pick(["", "+proto"])}`,
      };
      if (protocol === "grpc") headers.te = "trailers";
      const extra = rng.int(8);
      if (extra === 0) headers["grpc-encoding"] = "gzip";
      if (extra === 1) headers["grpc-encoding"] = "zstd-nope";
      if (extra === 2) headers["grpc-timeout"] = rng.pick(["abc", "99999999999H", "1n", "-5S"]);
      const v: HttpVersion = protocol === "grpc" ? "2" : http;
      add(`${protocol} ${note} h${v} #${i}`, {
        http: v,
        method: "POST",
        path: pathOf(m),
        headers,
        body,
        protocol,
      });
    }
    // Connect GET, for methods without side effects: JSON or binary, base64 or not, broken.
    if (m.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS && !isStreaming(m)) {
      const binary = rng.chance(0.5);
      const raw = binary ? binaryPayload(rng, m.input) : Buffer.from(jsonPayload(rng, m.input));
      const b64 = binary || rng.chance(0.3);
      let message = b64 ? base64Encode(raw, "url") : Buffer.from(raw).toString("utf8");
      if (b64 && rng.chance(0.4)) message = rng.pick(["!!!", "a", "abcde", "%%%", `${message}*`]);
      const q = new URLSearchParams({ connect: "v1", encoding: binary ? "proto" : "json" });
      if (b64) q.set("base64", "1");
      q.set("message", message);
      if (rng.chance(0.1)) q.set("compression", rng.pick(["gzip", "nope"]));
      add(`connect GET ${binary ? "proto" : "json"}${b64 ? " base64" : ""} h${http} #${i}`, {
        http,
        method: "GET",
        path: `${pathOf(m)}?${q}`,
        headers: auth,
        body: new Uint8Array(0),
        protocol: "connect",
      });
    }
    // Wrong content types.
    add(`wrong content type h${http} #${i}`, {
      http,
      method: "POST",
      path: pathOf(m),
      headers: {
        ...auth,
        "content-type": rng.pick([
          "text/plain",
          "application/grpc+nope",
          "application/x-protobuf",
          "multipart/form-data",
          "application/connect+",
        ]),
      },
      body: data(),
      protocol: "connect",
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

let runtime: AgentRuntime;
let server: ListeningServer;
const errorLogs: string[] = [];

beforeAll(async () => {
  runtime = await createAgentRuntime({
    persistence: new MemoryPersistence(),
    apiKeys: { [KEY]: "fuzz" },
    logger: createLogger("warn", (line) => {
      if (line.includes('"level":"error"')) errorLogs.push(line);
    }),
  });
  await runtime.start();
  server = await listen(runtime, { port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${server.port}`;
  h1Agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
});

afterAll(async () => {
  h2Session?.close();
  h1Agent?.destroy();
  await server?.close(1_000);
  await runtime?.shutdown();
});

describe("fuzzing every RPC", () => {
  it("covers every served service", () => {
    expect(SERVICES.map((s) => s.typeName).sort()).toEqual([...SERVICE_NAMES].sort());
  });

  it(`never answers INTERNAL, UNKNOWN or HTTP 500 (seed ${SEED})`, async () => {
    const rng = new Rng(SEED);
    const cases = METHODS.flatMap((m) => casesFor(m, rng)).filter(
      (c) => !ONLY || c.label.includes(ONLY),
    );
    const failures: string[] = [];
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++]!;
        try {
          const problem = judge(c.req, await send(c.req));
          if (problem) failures.push(`${problem}: ${c.label}`);
        } catch (e) {
          failures.push(`no protocol answer (${(e as Error).message}): ${c.label}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`fuzz: ${cases.length} requests to ${METHODS.length} methods in ${seconds} s`);
    expect(
      failures,
      `seed ${SEED} (replay: FUZZ_SEED=${SEED} FUZZ_CASES=${CASES}), ${failures.length} of ${cases.length} requests failed`,
    ).toEqual([]);
    expect(errorLogs, "error-level logs while fuzzing").toEqual([]);
  }, 120_000);
});
