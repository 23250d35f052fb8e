// Third-party clients discover and call the API through gRPC server reflection, against the
// real server: `buf curl` (the @bufbuild/buf devDependency) and grpcurl (installed into
// .tools/bin by scripts/setup-go.sh).

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import { REPO_ROOT, type StartedServer, startServer } from "./support/server.js";

const KEY = "reflection-key-acme-0123456789";
const UNKNOWN_SESSION_ID = "ses_00000000000000000000000000";
const BUF = join(REPO_ROOT, "node_modules", ".bin", "buf");
const GRPCURL = join(REPO_ROOT, ".tools", "bin", "grpcurl");

const SERVICES: DescService[] = [AgentProfileService, SessionService, WorkspaceService];
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
    const unauthenticated = await grpcurl("-d", body, address, method);
    expect(unauthenticated.stderr, show(unauthenticated)).toContain("Code: Unauthenticated");
    expect(unauthenticated.code).toBe(64 + 16);
  });
});
