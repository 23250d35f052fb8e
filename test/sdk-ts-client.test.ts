// The TypeScript SDK's plain methods, typed errors, transports (Connect, gRPC, gRPC-web, the
// browser entry over fetch, TLS) and settings from the environment, against the real server;
// and the npm package: it builds, its browser entry imports nothing of Node, its version is the
// server's.

import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../sdk/ts/src/index.js";
import {
  type AgentRuntimeClient,
  AgentRuntimeError,
  createNodeClient,
  ModelProvider,
} from "../sdk/ts/src/node.js";
import { REPO_ROOT, type StartedServer, startServer } from "./support/server.js";
import { startTlsProxy, type TlsProxy } from "./support/tls-proxy.js";

const KEY = "sdk-ts-client-key-0123456789";
const MISSING = "ses_00000000000000000000000000";
let server: StartedServer;
let tls: TlsProxy;
let client: AgentRuntimeClient;

beforeAll(async () => {
  server = await startServer({ env: { AGENT_RUNTIME_API_KEYS: `${KEY}=acme` } });
  tls = await startTlsProxy(server.port);
  client = createNodeClient({ baseUrl: server.url, apiKey: KEY });
});

afterAll(async () => {
  await tls?.close();
  await server?.stop();
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable("the call succeeded"),
    (err: unknown) => err as AgentRuntimeError,
  );

describe("typed errors", () => {
  it("carry the code, reason, field and metadata", async () => {
    const err = await failure(client.getSession(MISSING));
    expect(err).toBeInstanceOf(AgentRuntimeError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({
      name: "AgentRuntimeError",
      code: "NOT_FOUND",
      grpcCode: 5,
      reason: "SESSION_NOT_FOUND",
      field: "session_id",
      metadata: { id: MISSING },
      retryable: false,
    });
    expect(err.message).toContain(MISSING);

    const invalid = await failure(client.createProfile({ name: "x", tools: ["Teleport"] }));
    expect(invalid).toMatchObject({ code: "INVALID_ARGUMENT", reason: "INVALID_FIELD" });
    expect(invalid.field).toMatch(/^profile\.tools/);

    const stranger = createNodeClient({ baseUrl: server.url, apiKey: "not-a-key-0123456789" });
    expect(await failure(stranger.listProfiles())).toMatchObject({ code: "UNAUTHENTICATED" });
  });

  it("are the same over every protocol and the browser entry", async () => {
    const clients = {
      "connect 1.1": client,
      "connect 2": createNodeClient({ baseUrl: server.url, apiKey: KEY, httpVersion: "2" }),
      "connect json": createNodeClient({ baseUrl: server.url, apiKey: KEY, json: true }),
      grpc: createNodeClient({ baseUrl: server.url, apiKey: KEY, protocol: "grpc" }),
      "grpc-web": createNodeClient({ baseUrl: server.url, apiKey: KEY, protocol: "grpc-web" }),
      "fetch (browser entry)": createClient({ baseUrl: server.url, apiKey: KEY }),
      "fetch json": createClient({ baseUrl: server.url, apiKey: KEY, json: true }),
    };
    for (const [name, c] of Object.entries(clients)) {
      const err = await failure(c.getSession(MISSING));
      expect({ name, code: err.code, reason: err.reason, field: err.field }).toEqual({
        name,
        code: "NOT_FOUND",
        reason: "SESSION_NOT_FOUND",
        field: "session_id",
      });
      expect(
        (await c.listProfiles()).map((p) => p.name),
        name,
      ).toContain("demo");
    }
  });
});

describe("settings", () => {
  it("come from the environment", async () => {
    const env = { AGENT_RUNTIME_URL: server.url, AGENT_RUNTIME_API_KEY: KEY };
    for (const protocol of ["connect", "grpc", "grpc-web"]) {
      const c = createNodeClient({ env: { ...env, AGENT_RUNTIME_PROTOCOL: protocol } });
      expect((await c.findProfile("demo")).name).toBe("demo");
    }
    expect(() =>
      createNodeClient({ env: { ...env, AGENT_RUNTIME_PROTOCOL: "carrier-pigeon" } }),
    ).toThrow(/protocol must be connect, grpc or grpc-web/);
    const unreachable = createNodeClient({ baseUrl: "http://127.0.0.1:1", apiKey: KEY });
    expect(await failure(unreachable.listProfiles())).toMatchObject({
      code: "UNAVAILABLE",
      retryable: true,
    });
  });

  it("reach a TLS server with a trusted CA, from options or AGENT_RUNTIME_CA_FILE", async () => {
    const dir = mkdtempSync(join(REPO_ROOT, ".cache", "sdk-ts-ca-"));
    try {
      const caFile = join(dir, "ca.pem");
      writeFileSync(caFile, tls.certPem);
      for (const protocol of ["connect", "grpc", "grpc-web"] as const) {
        const byOption = createNodeClient({
          baseUrl: tls.url,
          apiKey: KEY,
          protocol,
          tls: { ca: tls.certPem },
        });
        expect((await byOption.findProfile("demo")).name, protocol).toBe("demo");
        const env = {
          AGENT_RUNTIME_URL: tls.url,
          AGENT_RUNTIME_API_KEY: KEY,
          AGENT_RUNTIME_CA_FILE: caFile,
        };
        expect((await createNodeClient({ env, protocol }).findProfile("demo")).name).toBe("demo");
        const untrusted = createNodeClient({ baseUrl: tls.url, apiKey: KEY, protocol });
        expect((await failure(untrusted.listProfiles())).message, protocol).toMatch(/certificate/i);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("plain methods", () => {
  it("manage profiles, sessions, files and secrets", async () => {
    const profile = await client.createProfile({
      name: "plain",
      modelProvider: ModelProvider.DEMO,
      tools: ["Read"],
    });
    expect(await client.getProfile(profile.id)).toMatchObject({ name: "plain" });
    const renamed = await client.updateProfile({ id: profile.id, name: "plainer" }, ["name"]);
    expect(renamed.name).toBe("plainer");

    const session = await client.createSession({ agentProfileId: profile.id, name: "s" });
    expect((await client.listSessions({ agentProfileId: profile.id })).map((s) => s.id)).toEqual([
      session.id,
    ]);
    expect((await client.updateSession({ id: session.id, name: "t" }, ["name"])).name).toBe("t");
    expect(await client.cancelTurn(session.id)).toBe(false);

    await client.writeFile(session.id, "a/b.txt", "héllo");
    expect(await client.readText(session.id, "a/b.txt")).toBe("héllo");
    expect((await client.listFiles(session.id, "a/")).map((f) => f.path)).toEqual(["a/b.txt"]);
    await client.deleteFile(session.id, "a/b.txt");
    expect(await failure(client.readFile(session.id, "a/b.txt"))).toMatchObject({
      code: "NOT_FOUND",
      reason: "FILE_NOT_FOUND",
    });

    await client.setSecret("TOKEN", "s3cret");
    expect((await client.listSecrets()).map((s) => s.name)).toContain("TOKEN");
    await client.deleteSecret("TOKEN");
    expect((await client.listSecrets()).map((s) => s.name)).not.toContain("TOKEN");

    await client.deleteSession(session.id);
    expect(await failure(client.getSession(session.id))).toMatchObject({ code: "NOT_FOUND" });
    await client.deleteProfile(profile.id);
    expect(await failure(client.findProfile("plainer"))).toMatchObject({
      code: "NOT_FOUND",
      reason: "PROFILE_NOT_FOUND",
    });
  });
});

describe("the npm package", () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "sdk/ts/package.json"), "utf8"));

  it("has the server's version", () => {
    const root = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
    expect(pkg.version).toBe(root.version);
  });

  it("builds, and its browser entry imports nothing of Node", async () => {
    const out = mkdtempSync(join(REPO_ROOT, ".cache", "sdk-ts-build-"));
    try {
      const tsc = join(REPO_ROOT, "node_modules/.bin/tsc");
      execFileSync(tsc, ["-p", "sdk/ts", "--outDir", join(out, "dist")], { cwd: REPO_ROOT });
      cpSync(join(REPO_ROOT, "sdk/ts/package.json"), join(out, "package.json"));
      const entry = (name: string) => join(out, pkg.exports[name].default);
      const browser = bareImports(entry("."));
      expect(browser).toContain("@connectrpc/connect-web");
      expect(browser.filter((s) => s.startsWith("node:") || s.includes("connect-node"))).toEqual(
        [],
      );
      const declared = [...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies)];
      const node = bareImports(entry("./node")).filter((s) => !s.startsWith("node:"));
      expect(node).toContain("@connectrpc/connect-node");
      expect(node.filter((s) => !declared.some((d) => s === d || s.startsWith(`${d}/`)))).toEqual(
        [],
      );

      const built = await import(pathToFileURL(entry("./node")).href);
      const c = built.createNodeClient({ baseUrl: server.url, apiKey: KEY });
      const err = await c.getSession(MISSING).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(built.AgentRuntimeError);
      expect(err).toMatchObject({ code: "NOT_FOUND", reason: "SESSION_NOT_FOUND" });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

/** Package specifiers a built module imports, following its relative imports. */
function bareImports(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:^|\n)(?:import|export)[^"]*?from\s*"([^"]+)"/g)].map(
    (m) => m[1]!,
  );
  return [
    ...new Set(
      specs.flatMap((s) =>
        s.startsWith(".") ? bareImports(resolve(dirname(file), s), seen) : [s],
      ),
    ),
  ];
}
