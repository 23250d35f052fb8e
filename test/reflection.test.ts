// Third-party clients discover and call the API through gRPC server reflection, against the
// real server: `buf curl` (the @bufbuild/buf devDependency) and grpcurl (installed into
// .tools/bin by scripts/setup-go.sh).

import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type DescService, fromBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SecretService } from "#gen/secret_service_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import * as reflectionV1 from "#grpc/reflection/v1/reflection_pb.js";
import * as reflectionV1alpha from "#grpc/reflection/v1alpha/reflection_pb.js";
import { REPO_ROOT, type StartedServer, startServer } from "./support/server.js";

const KEY = "reflection-key-acme-0123456789";
const UNKNOWN_SESSION_ID = "ses_00000000000000000000000000";
const BUF = join(REPO_ROOT, "node_modules", ".bin", "buf");
const GRPCURL = join(REPO_ROOT, ".tools", "bin", "grpcurl");

const SERVICES: DescService[] = [
  AgentProfileService,
  SessionService,
  WorkspaceService,
  SecretService,
];
/** Every method of the API as `package.Service/Method`, from the generated descriptors. */
const API_METHODS = SERVICES.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`));

let server: StartedServer;
let address: string;

beforeAll(async () => {
  server = await startServer({ env: { AGENT_RUNTIME_API_KEYS: `${KEY}=acme` } });
  address = `127.0.0.1:${server.port}`;
});

afterAll(async () => {
  if (!server) return;
  const code = await server.stop();
  expect(code, `exit code after SIGTERM; logs:\n${server.logs.join("\n")}`).toBe(0);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: REPO_ROOT, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") {
        reject(new Error(`${file} ${args.join(" ")}: ${err.message}\n${stderr}`));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

const show = (r: Run) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** The `//` comment lines right above the line matching `declaration` in a file under proto/. */
function leadingComment(file: string, declaration: RegExp): string {
  const lines = readFileSync(join(REPO_ROOT, "proto", file), "utf8").split("\n");
  const at = lines.findIndex((l) => declaration.test(l));
  if (at < 0) throw new Error(`${declaration} not found in ${file}`);
  const comment: string[] = [];
  for (let i = at - 1; i >= 0 && /^\s*\/\//.test(lines[i]!); i--) {
    comment.unshift(lines[i]!.replace(/^\s*\/\/ ?/, ""));
  }
  if (comment.length === 0) throw new Error(`${declaration} in ${file} has no comment`);
  return comment.join("\n");
}

const SEND_MESSAGE_COMMENT = leadingComment(
  "agentruntime/v1/session_service.proto",
  /^\s*rpc SendMessage\(/,
);
const ERROR_DETAIL_COMMENT = leadingComment(
  "agentruntime/v1/error_detail.proto",
  /^message ErrorDetail /,
);

describe("buf curl", () => {
  // A missing tool fails each test (never skips it), naming the command that installs it.
  const buf = (...args: string[]) => {
    if (!existsSync(BUF)) throw new Error(`${BUF} is missing: run \`npm install\` first`);
    return run(BUF, ["curl", ...args]);
  };

  it("lists every method of the three services (default reflection protocol)", async () => {
    const r = await buf(
      "--list-methods",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      server.url,
    );
    expect(r.code, show(r)).toBe(0);
    const listed = r.stdout.split("\n").filter(Boolean);
    expect(listed).toEqual(expect.arrayContaining(API_METHODS));
    expect(listed).toContain("grpc.health.v1.Health/Check");
  });

  it.each(["grpc-v1", "grpc-v1alpha"])("lists the methods over %s reflection", async (reflect) => {
    const r = await buf(
      "--list-methods",
      "--reflect-protocol",
      reflect,
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      server.url,
    );
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(expect.arrayContaining(API_METHODS));
  });

  it("calls methods through reflection with gRPC, Connect and gRPC-web", async () => {
    const auth = ["-H", `Authorization: Bearer ${KEY}`];
    const created = await buf(
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      ...auth,
      "-d",
      JSON.stringify({
        profile: { name: "buf curl profile", systemPrompt: "p", tools: ["Read", "Write"] },
      }),
      `${server.url}/agentruntime.v1.AgentProfileService/CreateAgentProfile`,
    );
    expect(created.code, show(created)).toBe(0);
    const { profile } = JSON.parse(created.stdout) as { profile: { id: string; tools: string[] } };
    expect(profile.id).toMatch(/^prf_/);
    expect(profile.tools).toEqual(["Read", "Write"]);

    // Connect over HTTP/1.1 (buf curl's default protocol), with snake_case JSON input.
    const session = await buf(
      ...auth,
      "-d",
      JSON.stringify({ agent_profile_id: profile.id, name: "buf curl session" }),
      `${server.url}/agentruntime.v1.SessionService/CreateSession`,
    );
    expect(session.code, show(session)).toBe(0);
    const sessionId = (JSON.parse(session.stdout) as { session: { id: string } }).session.id;

    const got = await buf(
      "--protocol",
      "grpcweb",
      ...auth,
      "-d",
      JSON.stringify({ sessionId }),
      `${server.url}/agentruntime.v1.SessionService/GetSession`,
    );
    expect(got.code, show(got)).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({
      session: { id: sessionId, agentProfileId: profile.id, name: "buf curl session" },
    });

    for (const [method, body] of [
      ["agentruntime.v1.SessionService/DeleteSession", { sessionId }],
      ["agentruntime.v1.AgentProfileService/DeleteAgentProfile", { agentProfileId: profile.id }],
    ] as const) {
      const r = await buf(...auth, "-d", JSON.stringify(body), `${server.url}/${method}`);
      expect(r.code, show(r)).toBe(0);
    }
  });

  it("reports the error codes", async () => {
    const getSession = `${server.url}/agentruntime.v1.SessionService/GetSession`;
    const unauthenticated = await buf(
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      JSON.stringify({ sessionId: UNKNOWN_SESSION_ID }),
      getSession,
    );
    expect(unauthenticated.code, show(unauthenticated)).not.toBe(0);
    expect(unauthenticated.stderr).toContain('"code": "unauthenticated"');

    const notFound = await buf(
      "-H",
      `Authorization: Bearer ${KEY}`,
      "-d",
      JSON.stringify({ sessionId: UNKNOWN_SESSION_ID }),
      getSession,
    );
    expect(notFound.code, show(notFound)).not.toBe(0);
    expect(notFound.stderr).toContain('"code": "not_found"');
  });
});

describe("grpcurl", () => {
  const grpcurl = (...args: string[]) => {
    if (!existsSync(GRPCURL)) {
      throw new Error(`${GRPCURL} is missing: run \`bash scripts/setup-go.sh\` to install grpcurl`);
    }
    return run(GRPCURL, ["-plaintext", ...args]);
  };

  it("lists the services", async () => {
    const r = await grpcurl(address, "list");
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual(
      expect.arrayContaining([
        ...SERVICES.map((s) => s.typeName),
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  it("describes a service with all its methods", async () => {
    const r = await grpcurl(address, "describe", SessionService.typeName);
    expect(r.code, show(r)).toBe(0);
    for (const m of SessionService.methods) expect(r.stdout).toContain(`rpc ${m.name} (`);
  });

  it("describes an RPC and a message with their comments", async () => {
    const method = await grpcurl(address, "describe", `${SessionService.typeName}.SendMessage`);
    expect(method.code, show(method)).toBe(0);
    expect(method.stdout).toContain(`// ${SEND_MESSAGE_COMMENT}\nrpc SendMessage (`);
    const message = await grpcurl(address, "describe", "agentruntime.v1.ErrorDetail");
    expect(message.code, show(message)).toBe(0);
    expect(message.stdout).toContain(`// ${ERROR_DETAIL_COMMENT}\nmessage ErrorDetail {`);
  });

  it("checks health: SERVING", async () => {
    const r = await grpcurl("-d", '{"service":""}', address, "grpc.health.v1.Health/Check");
    expect(r.code, show(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" });
  });

  it("calls a method with the API key, and without", async () => {
    const body = JSON.stringify({ session_id: UNKNOWN_SESSION_ID });
    const method = "agentruntime.v1.SessionService/GetSession";
    // grpcurl exits with 64 + the status code when the RPC fails.
    const notFound = await grpcurl(
      "-H",
      `authorization: Bearer ${KEY}`,
      "-d",
      body,
      address,
      method,
    );
    expect(notFound.stderr, show(notFound)).toContain("Code: NotFound");
    expect(notFound.code).toBe(64 + 5);
    // The error details, decoded through reflection: ErrorInfo names the field that held the id.
    expect(notFound.stderr).toContain('"@type": "type.googleapis.com/google.rpc.ErrorInfo"');
    expect(notFound.stderr).toContain('"reason": "SESSION_NOT_FOUND"');
    expect(notFound.stderr).toContain('"field": "session_id"');
    const unauthenticated = await grpcurl("-d", body, address, method);
    expect(unauthenticated.stderr, show(unauthenticated)).toContain("Code: Unauthenticated");
    expect(unauthenticated.code).toBe(64 + 16);
  });
});

describe("a reflection client (connect-node, gRPC)", () => {
  type Reflection =
    | typeof reflectionV1.ServerReflection
    | typeof reflectionV1alpha.ServerReflection;
  type Question = reflectionV1.ServerReflectionRequest["messageRequest"];

  /** Asks one question and returns the file descriptors of the answer. */
  async function ask(service: Reflection, question: Question): Promise<FileDescriptorProto[]> {
    const sessionManager = new Http2SessionManager(server.url);
    try {
      const client = createClient(
        service as typeof reflectionV1.ServerReflection,
        createGrpcTransport({ baseUrl: server.url, sessionManager }),
      );
      async function* one() {
        yield { host: "", messageRequest: question };
      }
      const files: FileDescriptorProto[] = [];
      for await (const res of client.serverReflectionInfo(one())) {
        const answer = res.messageResponse;
        if (answer.case !== "fileDescriptorResponse") {
          throw new Error(`unexpected answer ${answer.case}: ${JSON.stringify(answer.value)}`);
        }
        for (const bytes of answer.value.fileDescriptorProto) {
          files.push(fromBinary(FileDescriptorProtoSchema, bytes));
        }
      }
      return files;
    } finally {
      sessionManager.abort();
    }
  }

  /** The leading comment of SessionService.SendMessage in session_service.proto's source info. */
  function sendMessageComment(files: FileDescriptorProto[]): string | undefined {
    const file = files.find((f) => f.name === "agentruntime/v1/session_service.proto");
    if (!file) throw new Error(`no session_service.proto in ${files.map((f) => f.name)}`);
    const s = file.service.findIndex((x) => x.name === "SessionService");
    const m = file.service[s]?.method.findIndex((x) => x.name === "SendMessage") ?? -1;
    // FileDescriptorProto.service = 6, ServiceDescriptorProto.method = 2.
    const path = [6, s, 2, m].join(".");
    const location = file.sourceCodeInfo?.location.find((l) => l.path.join(".") === path);
    return location?.leadingComments.trim();
  }

  it.each([
    ["v1", reflectionV1.ServerReflection],
    ["v1alpha", reflectionV1alpha.ServerReflection],
  ] as const)("returns the comment of SendMessage by symbol (%s)", async (_, service) => {
    const files = await ask(service, {
      case: "fileContainingSymbol",
      value: `${SessionService.typeName}.SendMessage`,
    });
    expect(sendMessageComment(files)).toBe(SEND_MESSAGE_COMMENT);
    // Dependencies come along, with their comments too.
    const session = files.find((f) => f.name === "agentruntime/v1/session.proto");
    expect(session?.sourceCodeInfo?.location.some((l) => l.leadingComments !== "")).toBe(true);
  });

  it("returns a file by its name, with comments", async () => {
    const files = await ask(reflectionV1.ServerReflection, {
      case: "fileByFilename",
      value: "agentruntime/v1/session_service.proto",
    });
    expect(sendMessageComment(files)).toBe(SEND_MESSAGE_COMMENT);
  });

  it("resolves the google.rpc error details that errors carry", async () => {
    const files = await ask(reflectionV1.ServerReflection, {
      case: "fileContainingSymbol",
      value: "google.rpc.BadRequest",
    });
    expect(files.map((f) => f.name)).toContain("google/rpc/error_details.proto");
  });
});
