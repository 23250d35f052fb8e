import { afterEach, describe, expect, it } from "vitest";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import {
  createModalProvider,
  MODAL_SANDBOX_LIMITS,
  ModalSandboxProvider,
  SESSION_TAG,
} from "../src/adapters/modal/provider.js";
import { silentLogger } from "../src/app/logger.js";
import { createAgentRuntime } from "../src/runtime.js";
import { defaultSettings, sandboxSuite } from "./sandbox.suite.js";
import { FakeModal } from "./support/fake-modal.js";

sandboxSuite("modal (against its interface)", async () => {
  const modal = await FakeModal.start();
  return {
    provider: new ModalSandboxProvider({ client: modal, appName: "test-app" }),
    restart: async () => new ModalSandboxProvider({ client: modal, appName: "test-app" }),
    cleanup: () => modal.cleanup(),
  };
});

describe("modal provider", () => {
  let modal: FakeModal;
  afterEach(() => modal?.cleanup());

  it("creates a tagged sandbox from the profile's image with the lifecycle timeouts", async () => {
    modal = await FakeModal.start();
    const provider = new ModalSandboxProvider({ client: modal, appName: "my-app" });
    const progress: string[] = [];
    await provider.create({
      sessionId: "ses_a",
      settings: defaultSettings({
        image: "python:3.12-slim",
        env: { A: "1" },
        cpu: 2,
        memoryMib: 2048,
      }),
      onProgress: (m) => progress.push(m),
    });
    await provider.create({
      sessionId: "ses_b",
      settings: defaultSettings({ networkAllowed: true }),
    });
    const [a, b] = modal.created;
    expect(a!.app).toEqual({ app: "my-app", createIfMissing: true });
    expect(a!.image).toEqual({ image: "python:3.12-slim" });
    expect(a!.params).toMatchObject({
      workdir: "/workspace",
      env: { A: "1" },
      cpu: 2,
      memoryMiB: 2048,
      blockNetwork: true,
      timeoutMs: MODAL_SANDBOX_LIMITS.sandboxTimeoutMs,
      idleTimeoutMs: MODAL_SANDBOX_LIMITS.sandboxIdleTimeoutMs,
      tags: { [SESSION_TAG]: "ses_a" },
    });
    expect(b!.image).toEqual({ image: "debian:bookworm-slim" });
    expect(b!.params.blockNetwork).toBe(false);
    expect(progress[0]).toContain("python:3.12-slim");
  });

  it("leaves no process running between commands (Modal's idle timeout must work)", async () => {
    modal = await FakeModal.start();
    const provider = new ModalSandboxProvider({ client: modal, appName: "a" });
    const sb = await provider.create({ sessionId: "ses_idle", settings: defaultSettings() });
    const r = await sb.exec({ command: "echo $$" });
    expect(r.exitCode).toBe(0);
    const pid = Number(r.stdout.trim());
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it("re-attaches a live sandbox of its session after a restart and terminates orphans", async () => {
    modal = await FakeModal.start();
    const store = new MemoryPersistence();
    const first = await createAgentRuntime({
      persistence: store,
      logger: silentLogger,
      sandboxProviders: [new ModalSandboxProvider({ client: modal, appName: "a" })],
    });
    await first.start();
    const profile = await first.profiles.create("default", {
      ...(await import("../src/runtime.js")).demoProfile(),
      sandbox: defaultSettings({ provider: "modal" }),
    });
    const view = await first.sessions.create("default", {
      agentProfileId: profile.id,
      name: "",
      metadata: {},
      initialFiles: [],
      options: { model: "" },
      requestId: "",
    });
    const session = await first.sessionManager.load(view.record.id);
    const sandbox = await session.ensureSandbox(profile);
    await sandbox.writeFile("made-before-restart.txt", new TextEncoder().encode("x"));
    const orphanProvider = new ModalSandboxProvider({ client: modal, appName: "a" });
    const orphan = await orphanProvider.create({
      sessionId: "ses_00000000000000000000000000",
      settings: defaultSettings(),
    });
    // The server stops without ending the sandbox (a crash or a rolling restart).
    const second = await createAgentRuntime({
      persistence: store,
      logger: silentLogger,
      sandboxProviders: [new ModalSandboxProvider({ client: modal, appName: "a" })],
    });
    await second.start();
    expect(await orphan.isAlive()).toBe(false);
    const reattached = second.sessionManager.getSession(view.record.id);
    expect(reattached?.sandbox?.id).toBe(sandbox.id);
    // What changed while nobody watched is saved.
    const files = await store.listWorkspaceFiles(view.record.id);
    expect(files.map((f) => f.path)).toContain("made-before-restart.txt");
    await second.shutdown();
  });

  it("builds the real Modal client from credentials", () => {
    const provider = createModalProvider({
      tokenId: "ak-test",
      tokenSecret: "as-test",
      appName: "x",
    });
    expect(provider.name).toBe("modal");
  });
});

// The live test needs Modal credentials; everywhere else it is reported as skipped.
describe.runIf(Boolean(process.env.MODAL_TOKEN_ID && process.env.MODAL_TOKEN_SECRET))(
  "modal, live",
  () => {
    it("creates a sandbox, runs a command, reads a file back and terminates", async () => {
      const provider = createModalProvider({ appName: "agent-runtime-test" });
      const sb = await provider.create({
        sessionId: `ses_live${Date.now()}`,
        settings: defaultSettings(),
      });
      try {
        expect((await sb.exec({ command: "echo hi > f.txt && cat f.txt" })).stdout).toBe("hi\n");
        expect(new TextDecoder().decode(await sb.readFile("f.txt"))).toBe("hi\n");
      } finally {
        await sb.terminate();
      }
      expect(await sb.isAlive()).toBe(false);
    }, 300_000);
  },
);
