// The client scenario against the real server (a child process on a free port), through every
// JavaScript client: connect-node's Connect (JSON over HTTP/1.1, binary over h2c), gRPC and
// gRPC-web transports, @grpc/grpc-js with @grpc/proto-loader reading proto/, and plain fetch
// (Connect GET, /healthz, CORS preflight).

import { createHash } from "node:crypto";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import {
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import {
  BadRequestSchema,
  type ErrorInfo,
  ErrorInfoSchema,
} from "../gen/ts/google/rpc/error_details_pb.js";
import { createLogger } from "../src/app/shared/logger.js";
import { AppError, invalidField } from "../src/domain/errors.js";
import { toConnectError } from "../src/transport/errors.js";
import { REPO_ROOT, type StartedServer, startServer } from "./support/server.js";

const KEY = "transports-key-acme-0123456789";
const OTHER_KEY = "transports-key-globex-0123456789";
const UNKNOWN_SESSION_ID = "ses_00000000000000000000000000";

let server: StartedServer;
const closers: Array<() => void> = [];

beforeAll(async () => {
  server = await startServer({
    env: { AGENT_RUNTIME_API_KEYS: `${KEY}=acme,${OTHER_KEY}=globex` },
  });
});

afterAll(async () => {
  for (const close of closers) close();
  if (!server) return;
  const code = await server.stop();
  expect(code, `exit code after SIGTERM; logs:\n${server.logs.join("\n")}`).toBe(0);
});

// ---------------------------------------------------------------------------------------------
// One shape for every client: camelCase request objects in, response objects out.

interface FileInfoLike {
  path: string;
  size: bigint | number | string;
  sha256: string;
}
interface ProfileLike {
  id: string;
  name: string;
  systemPrompt: string;
  tools: string[];
}
interface SessionLike {
  id: string;
  agentProfileId: string;
  name: string;
  metadata: Record<string, string>;
}

interface ScenarioApi {
  createAgentProfile(req: {
    profile: { name: string; systemPrompt: string; tools: string[] };
  }): Promise<{ profile?: ProfileLike | undefined }>;
  deleteAgentProfile(req: { agentProfileId: string }): Promise<unknown>;
  createSession(req: {
    agentProfileId: string;
    name: string;
    metadata?: Record<string, string>;
  }): Promise<{ session?: SessionLike | undefined }>;
  getSession(req: { sessionId: string }): Promise<{ session?: SessionLike | undefined }>;
  listSessions(req: {
    pageSize: number;
    pageToken: string;
    agentProfileId: string;
  }): Promise<{ sessions: SessionLike[]; nextPageToken: string }>;
  deleteSession(req: { sessionId: string }): Promise<unknown>;
  writeFile(req: {
    sessionId: string;
    path: string;
    content: Uint8Array;
  }): Promise<{ file?: FileInfoLike | undefined }>;
  readFile(req: {
    sessionId: string;
    path: string;
  }): Promise<{ file?: FileInfoLike | undefined; content: Uint8Array }>;
  listFiles(req: { sessionId: string }): Promise<{ files: FileInfoLike[] }>;
}

interface ClientKind {
  name: string;
  /** The API as the tenant of `key` (no key when undefined). */
  api(key: string | undefined): ScenarioApi;
  /** The status code of an error the client threw. */
  code(err: unknown): Code;
  /** The google.rpc.ErrorInfo in the error's status details. */
  errorInfo(err: unknown): ErrorInfo | undefined;
}

/** The ErrorInfo among the details of a google.rpc.Status (grpc-status-details-bin). */
function errorInfoInStatus(status: Uint8Array): ErrorInfo | undefined {
  const r = new BinaryReader(status);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field !== 3) {
      r.skip(wireType);
      continue;
    }
    // google.protobuf.Any { type_url = 1; value = 2 }
    const any = new BinaryReader(r.bytes());
    let type = "";
    let value: Uint8Array = new Uint8Array(0);
    while (any.pos < any.len) {
      const [f, w] = any.tag();
      if (f === 1) type = any.string();
      else if (f === 2) value = any.bytes();
      else any.skip(w);
    }
    if (type.endsWith(`/${ErrorInfoSchema.typeName}`)) return fromBinary(ErrorInfoSchema, value);
  }
  return undefined;
}

function bearer(key: string | undefined): Interceptor {
  return (next) => (req) => {
    if (key !== undefined) req.header.set("Authorization", `Bearer ${key}`);
    return next(req);
  };
}

function connectKind(
  name: string,
  transport: (interceptors: Interceptor[]) => Transport,
): ClientKind {
  return {
    name,
    api(key) {
      const t = transport([bearer(key)]);
      const profiles = createClient(AgentProfileService, t);
      const sessions = createClient(SessionService, t);
      const workspace = createClient(WorkspaceService, t);
      return {
        createAgentProfile: (req) => profiles.createAgentProfile(req),
        deleteAgentProfile: (req) => profiles.deleteAgentProfile(req),
        createSession: (req) => sessions.createSession(req),
        getSession: (req) => sessions.getSession(req),
        listSessions: (req) => sessions.listSessions(req),
        deleteSession: (req) => sessions.deleteSession(req),
        writeFile: (req) => workspace.writeFile(req),
        readFile: (req) => workspace.readFile(req),
        listFiles: (req) => workspace.listFiles(req),
      };
    },
    code: (err) => ConnectError.from(err).code,
    errorInfo: (err) => ConnectError.from(err).findDetails(ErrorInfoSchema)[0],
  };
}

function h2SessionManager(): Http2SessionManager {
  const manager = new Http2SessionManager(server.url);
  closers.push(() => manager.abort());
  return manager;
}

// @grpc/grpc-js with the .proto files loaded at run time. The well-known types they import
// (timestamp, duration, field_mask, struct, ...) come with protobufjs, which proto-loader uses.
type GrpcCallback = (err: grpc.ServiceError | null, res: unknown) => void;
type GrpcMethod = (req: unknown, md: grpc.Metadata, cb: GrpcCallback) => void;

function grpcJsKind(): ClientKind {
  const definition = protoLoader.loadSync(
    [
      "agentruntime/v1/profile_service.proto",
      "agentruntime/v1/session_service.proto",
      "agentruntime/v1/workspace_service.proto",
    ],
    {
      includeDirs: [join(REPO_ROOT, "proto")],
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    },
  );
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    agentruntime: { v1: Record<string, grpc.ServiceClientConstructor> };
  };
  const ctor = (service: string): grpc.ServiceClientConstructor => {
    const c = loaded.agentruntime.v1[service];
    if (!c) throw new Error(`proto-loader did not load agentruntime.v1.${service}`);
    return c;
  };
  return {
    name: "@grpc/grpc-js + proto-loader",
    api(key) {
      const target = `127.0.0.1:${server.port}`;
      const creds = grpc.credentials.createInsecure();
      const clients = {
        profiles: new (ctor("AgentProfileService"))(target, creds),
        sessions: new (ctor("SessionService"))(target, creds),
        workspace: new (ctor("WorkspaceService"))(target, creds),
      };
      for (const c of Object.values(clients)) closers.push(() => c.close());
      const unary =
        <Res>(client: grpc.Client, method: string) =>
        (req: unknown): Promise<Res> =>
          new Promise((resolve, reject) => {
            const md = new grpc.Metadata();
            if (key !== undefined) md.set("authorization", `Bearer ${key}`);
            const fn = (client as unknown as Record<string, GrpcMethod>)[method];
            if (!fn) throw new Error(`no method ${method}`);
            fn.call(client, req, md, (err, res) => (err ? reject(err) : resolve(res as Res)));
          });
      const { profiles, sessions, workspace } = clients;
      return {
        createAgentProfile: unary(profiles, "CreateAgentProfile"),
        deleteAgentProfile: unary(profiles, "DeleteAgentProfile"),
        createSession: unary(sessions, "CreateSession"),
        getSession: unary(sessions, "GetSession"),
        listSessions: unary(sessions, "ListSessions"),
        deleteSession: unary(sessions, "DeleteSession"),
        writeFile: unary(workspace, "WriteFile"),
        readFile: unary(workspace, "ReadFile"),
        listFiles: unary(workspace, "ListFiles"),
      };
    },
    errorInfo(err) {
      const [bin] = (err as grpc.ServiceError).metadata?.get("grpc-status-details-bin") ?? [];
      return bin instanceof Buffer ? errorInfoInStatus(bin) : undefined;
    },
    code(err) {
      const status = (err as Partial<grpc.ServiceError> | undefined)?.code;
      if (typeof status !== "number") throw err;
      // gRPC status codes and Connect codes share their numbers.
      return status as number as Code;
    },
  };
}

const kinds: ClientKind[] = [
  connectKind("Connect JSON over HTTP/1.1", (interceptors) =>
    createConnectTransport({
      baseUrl: server.url,
      httpVersion: "1.1",
      useBinaryFormat: false,
      interceptors,
    }),
  ),
  connectKind("Connect binary over h2c", (interceptors) =>
    createConnectTransport({
      baseUrl: server.url,
      httpVersion: "2",
      useBinaryFormat: true,
      sessionManager: h2SessionManager(),
      interceptors,
    }),
  ),
  connectKind("gRPC (connect-node)", (interceptors) =>
    createGrpcTransport({ baseUrl: server.url, sessionManager: h2SessionManager(), interceptors }),
  ),
  connectKind("gRPC-web over HTTP/1.1 (connect-node)", (interceptors) =>
    createGrpcWebTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors }),
  ),
  grpcJsKind(),
];

/** Expects the call to fail with `want`, with an ErrorInfo; returns the ErrorInfo. */
async function expectCode(
  kind: ClientKind,
  call: Promise<unknown>,
  want: Code,
): Promise<ErrorInfo> {
  const err = await call.then(
    () => expect.fail(`expected ${Code[want]}, the call succeeded`),
    (e: unknown) => e,
  );
  const got = kind.code(err);
  expect(Code[got], String(err)).toBe(Code[want]);
  const info = kind.errorInfo(err);
  expect(info, `no google.rpc.ErrorInfo in ${String(err)}`).toBeDefined();
  expect(info?.domain).toBe("agentruntime.v1");
  return info!;
}

const bytes0to255 = Uint8Array.from({ length: 256 }, (_, i) => i);
const sha256 = createHash("sha256").update(bytes0to255).digest("hex");

describe.each(kinds)("$name", (kind) => {
  it("runs the scenario: profile, sessions, paging, files, deletes", async () => {
    const api = kind.api(KEY);

    const { profile } = await api.createAgentProfile({
      profile: {
        name: "scenario profile",
        systemPrompt: "You are a careful test agent.",
        tools: ["Read", "Write"],
      },
    });
    expect(profile?.id).toMatch(/^prf_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(profile?.tools).toEqual(["Read", "Write"]);
    expect(profile?.systemPrompt).toBe("You are a careful test agent.");
    const profileId = profile!.id;

    const { session } = await api.createSession({
      agentProfileId: profileId,
      name: "first session",
      metadata: { team: "sdk", suite: "ts" },
    });
    expect(session?.id).toMatch(/^ses_[0-9a-hjkmnp-tv-z]{26}$/);
    const sessionId = session!.id;
    const got = (await api.getSession({ sessionId })).session;
    expect(got?.id).toBe(sessionId);
    expect(got?.name).toBe("first session");
    expect(got?.agentProfileId).toBe(profileId);
    expect({ ...got?.metadata }).toEqual({ team: "sdk", suite: "ts" });

    // Two more sessions, listed two per page.
    const ids = new Set([sessionId]);
    for (const i of [1, 2]) {
      const more = await api.createSession({ agentProfileId: profileId, name: `extra ${i}` });
      ids.add(more.session!.id);
    }
    const listed: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await api.listSessions({ pageSize: 2, pageToken, agentProfileId: profileId });
      pages++;
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      listed.push(...page.sessions.map((s) => s.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && pages < 10);
    expect(pages).toBe(2);
    expect(new Set(listed).size, `duplicates in ${listed.join(", ")}`).toBe(listed.length);
    expect([...listed].sort()).toEqual([...ids].sort());

    // A binary file with every byte value, byte-exact through the round trip.
    const written = await api.writeFile({
      sessionId,
      path: "data/bytes.bin",
      content: bytes0to255,
    });
    expect(written.file?.path).toBe("data/bytes.bin");
    expect(Number(written.file?.size)).toBe(256);
    expect(written.file?.sha256).toBe(sha256);
    const read = await api.readFile({ sessionId, path: "data/bytes.bin" });
    expect(Buffer.from(read.content).equals(Buffer.from(bytes0to255))).toBe(true);
    const { files } = await api.listFiles({ sessionId });
    const entry = files.filter((f) => f.path === "data/bytes.bin");
    expect(entry, files.map((f) => f.path).join(", ")).toHaveLength(1);
    expect(Number(entry[0]!.size)).toBe(256);
    expect(entry[0]!.sha256).toBe(sha256);

    // Another tenant does not see it.
    await expectCode(kind, kind.api(OTHER_KEY).getSession({ sessionId }), Code.NotFound);

    // Delete the sessions, then the profile (refused while sessions use it).
    for (const id of ids) await api.deleteSession({ sessionId: id });
    await expectCode(kind, api.getSession({ sessionId }), Code.NotFound);
    await api.deleteAgentProfile({ agentProfileId: profileId });
  });

  it("answers NOT_FOUND, INVALID_ARGUMENT and UNAUTHENTICATED", async () => {
    const api = kind.api(KEY);
    const notFound = await expectCode(
      kind,
      api.getSession({ sessionId: UNKNOWN_SESSION_ID }),
      Code.NotFound,
    );
    expect(notFound.reason).toBe("SESSION_NOT_FOUND");
    expect(notFound.metadata).toEqual({ id: UNKNOWN_SESSION_ID, field: "session_id" });
    const invalid = await expectCode(
      kind,
      api.getSession({ sessionId: "bad" }),
      Code.InvalidArgument,
    );
    expect(invalid.reason).toBe("INVALID_FIELD");
    expect(invalid.metadata.field).toBe("session_id");
    const missing = await expectCode(
      kind,
      kind.api(undefined).getSession({ sessionId: UNKNOWN_SESSION_ID }),
      Code.Unauthenticated,
    );
    expect(missing.reason).toBe("MISSING_API_KEY");
    await expectCode(
      kind,
      kind.api("not-a-configured-key-0123456789").getSession({ sessionId: UNKNOWN_SESSION_ID }),
      Code.Unauthenticated,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Plain HTTP.

describe("plain fetch", () => {
  const auth = () => ({ Authorization: `Bearer ${KEY}` });

  it("GETs a NO_SIDE_EFFECTS method over Connect (GetSession)", async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${server.url}/${path}`, {
        method: "POST",
        headers: { ...auth(), "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (res) => {
        expect(res.status, await res.clone().text()).toBe(200);
        return (await res.json()) as Record<string, { id: string }>;
      });
    const { profile } = await post("agentruntime.v1.AgentProfileService/CreateAgentProfile", {
      profile: { name: "fetch profile", systemPrompt: "p", tools: ["Read", "Write"] },
    });
    const { session } = await post("agentruntime.v1.SessionService/CreateSession", {
      agentProfileId: profile!.id,
      name: "fetch session",
    });

    const get = (message: unknown) =>
      fetch(
        `${server.url}/agentruntime.v1.SessionService/GetSession?connect=v1&encoding=json&message=${encodeURIComponent(JSON.stringify(message))}`,
        { headers: auth() },
      );
    const ok = await get({ sessionId: session!.id });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await ok.json()) as { session: { id: string; name: string } };
    expect(body.session.id).toBe(session!.id);
    expect(body.session.name).toBe("fetch session");

    const missing = await get({ sessionId: UNKNOWN_SESSION_ID });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe("not_found");

    await post("agentruntime.v1.SessionService/DeleteSession", { sessionId: session!.id });
    await post("agentruntime.v1.AgentProfileService/DeleteAgentProfile", {
      agentProfileId: profile!.id,
    });
  });

  it("GET /healthz answers 200 without an API key", async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it("answers a CORS preflight", async () => {
    const res = await fetch(`${server.url}/agentruntime.v1.SessionService/GetSession`, {
      method: "OPTIONS",
      headers: {
        Origin: "http://app.example.test",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,connect-protocol-version",
      },
    });
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBeTruthy();
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    expect(allowed).toContain("authorization");
    await res.arrayBuffer();
  });
});

// ---------------------------------------------------------------------------------------------
// The one mapping from errors to statuses (what every transport above sends).

describe("toConnectError", () => {
  const logged = () => {
    const lines: Array<{ level: string; msg: string }> = [];
    return { lines, logger: createLogger("debug", (line) => lines.push(JSON.parse(line))) };
  };

  it("an outage (AppError unavailable) is UNAVAILABLE, logged at warn", () => {
    const { lines, logger } = logged();
    const err = toConnectError(
      new AppError("unavailable", "STORE_UNAVAILABLE", "the store does not answer"),
      logger,
      "GetSession",
    );
    expect(Code[err.code]).toBe("Unavailable");
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("STORE_UNAVAILABLE");
    expect(lines.map((l) => l.level)).toEqual(["warn"]);
  });

  it("a bad field is INVALID_ARGUMENT with BadRequest, not logged", () => {
    const { lines, logger } = logged();
    const err = toConnectError(invalidField("profile.name", "is required"), logger, "X");
    expect(Code[err.code]).toBe("InvalidArgument");
    const [bad] = err.findDetails(BadRequestSchema);
    expect(bad?.fieldViolations.map((v) => v.field)).toEqual(["profile.name"]);
    expect(err.findDetails(ErrorInfoSchema)[0]?.metadata).toEqual({ field: "profile.name" });
    expect(lines).toEqual([]);
  });

  it("anything unexpected is INTERNAL without its message, logged at error", () => {
    const { lines, logger } = logged();
    const err = toConnectError(new Error("secret driver detail"), logger, "X");
    expect(Code[err.code]).toBe("Internal");
    expect(err.rawMessage).not.toContain("secret");
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("INTERNAL");
    expect(lines.map((l) => l.level)).toEqual(["error"]);
  });

  it("a ConnectError passes, with ErrorInfo added", () => {
    const err = toConnectError(
      new ConnectError("nope", Code.DeadlineExceeded),
      createLogger("error", () => {}),
      "X",
    );
    expect(Code[err.code]).toBe("DeadlineExceeded");
    expect(err.findDetails(ErrorInfoSchema)[0]?.reason).toBe("DEADLINE_EXCEEDED");
  });
});
