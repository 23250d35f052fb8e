import { afterEach, describe, expect, it } from "vitest";
import { MemoryPersistence } from "../src/adapters/memory/persistence.js";
import {
  createModalProvider,
  MODAL_DEFAULT_IMAGE,
  MODAL_MAX_OUTPUT_BYTES,
  MODAL_SANDBOX_LIMITS,
  ModalSandboxProvider,
  NO_BASH_EXIT,
  NO_BASH_MESSAGE,
  SESSION_TAG,
} from "../src/adapters/modal/provider.js";
import { silentLogger } from "../src/app/shared/logger.js";
import { SandboxFileError } from "../src/ports/sandbox.js";
import { createAgentRuntime, demoProfile } from "../src/runtime.js";
import { defaultSettings, sandboxSuite } from "./sandbox.suite.js";
import { FakeModal } from "./support/fake-modal.js";

sandboxSuite("modal (against its interface)", async () => {
  const modal = await FakeModal.start();
  const make = async () =>
    new ModalSandboxProvider({ client: modal, appName: "test-app", logger: silentLogger });
  return {
    provider: await make(),
    restart: make,
    cleanup: () => modal.cleanup(),
    maxOutputBytes: MODAL_MAX_OUTPUT_BYTES,
    // The fake's "container" is this machine: the workspace is its directory for the sandbox.
    workdir: (sb) => modal.all.get(sb.id)!.root,
  };
});

describe("modal provider", () => {
  let modal: FakeModal;
  afterEach(() => modal?.cleanup());

  const provider = (appName = "a") =>
    new ModalSandboxProvider({ client: modal, appName, logger: silentLogger });

  it("creates a tagged sandbox from the profile's image with the lifecycle timeouts", async () => {
    modal = await FakeModal.start();
    const p = provider("my-app");
    const progress: string[] = [];
    await p.create({
      sessionId: "ses_a",
      settings: defaultSettings({
        image: "python:3.12-slim",
        env: { A: "1" },
        cpu: 2,
        memoryMib: 2048,
      }),
      onProgress: (m) => progress.push(m),
    });
    await p.create({ sessionId: "ses_b", settings: defaultSettings({ networkAllowed: true }) });
    const [a, b] = modal.created;
    expect(a!.app).toEqual({ appId: "ap-my-app", name: "my-app" });
    expect(a!.image).toMatchObject({ image: "python:3.12-slim", layers: [] });
    expect(a!.params).toEqual({
      workdir: "/workspace",
      env: { A: "1" },
      cpu: 2,
      memoryMiB: 2048,
      blockNetwork: true,
      timeoutMs: MODAL_SANDBOX_LIMITS.sandboxTimeoutMs,
      idleTimeoutMs: MODAL_SANDBOX_LIMITS.sandboxIdleTimeoutMs,
      tags: { [SESSION_TAG]: "ses_a" },
    });
    expect(b!.image).toMatchObject({ image: MODAL_DEFAULT_IMAGE, layers: [] });
    expect(b!.params.blockNetwork).toBe(false);
    expect(b!.params).not.toHaveProperty("cpu");
    expect(b!.params).not.toHaveProperty("memoryMiB");
    expect(progress[0]).toContain("python:3.12-slim");
    const withDefault = new ModalSandboxProvider({
      client: modal,
      appName: "my-app",
      defaultImage: "node:22-slim",
    });
    await withDefault.create({ sessionId: "ses_c", settings: defaultSettings() });
    expect(modal.created[2]!.image).toMatchObject({ image: "node:22-slim", layers: [] });
  });

  it("leaves no process running between commands (Modal's idle timeout must work)", async () => {
    modal = await FakeModal.start();
    const sb = await provider().create({ sessionId: "ses_idle", settings: defaultSettings() });
    const r = await sb.exec({ command: "echo $$; sleep 30 &" });
    expect(r.exitCode).toBe(0);
    const pid = Number(r.stdout.trim());
    expect(() => process.kill(pid, 0)).toThrow();
    // Only the command's own execs ran: no watcher, no keep-alive.
    const fake = modal.all.get(sb.id)!;
    expect(fake.execs).toHaveLength(1);
    expect(fake.execs[0]!.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(fake.execs[0]!.at(-1)).toBe("echo $$; sleep 30 &");
  });

  it("runs commands with bash; an image without bash gets a clear error", async () => {
    modal = await FakeModal.start();
    modal.imagesWithoutBash.add("alpine:3.20");
    const p = provider();
    const plain = await p.create({ sessionId: "ses_bash", settings: defaultSettings() });
    expect((await plain.exec({ command: "echo $0" })).stdout).toBe("bash\n");
    // A command that exits with the wrapper's own status is not taken for a missing bash.
    expect((await plain.exec({ command: `exit ${NO_BASH_EXIT}` })).exitCode).toBe(NO_BASH_EXIT);
    const alpine = await p.create({
      sessionId: "ses_nobash",
      settings: defaultSettings({ image: "alpine:3.20" }),
    });
    const err = await alpine.exec({ command: "echo hi" }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: "failed_precondition",
      reason: "SANDBOX_NO_BASH",
      message: NO_BASH_MESSAGE,
    });
    expect(NO_BASH_MESSAGE).toMatch(/^this sandbox image has no bash; /);
    // Known from then on, without asking the sandbox again.
    const execs = modal.all.get(alpine.id)!.execs.length;
    await expect(alpine.exec({ command: "echo hi" })).rejects.toMatchObject({
      reason: "SANDBOX_NO_BASH",
    });
    expect(modal.all.get(alpine.id)!.execs.length).toBe(execs);
    // Its files still work.
    await alpine.writeFile("f.txt", new TextEncoder().encode("x"));
    expect(decode(await alpine.readFile("f.txt"))).toBe("x");
  });

  it("maps Modal's file errors to typed errors that name only the workspace path", async () => {
    modal = await FakeModal.start();
    const sb = await provider().create({ sessionId: "ses_fserr", settings: defaultSettings() });
    const fake = modal.all.get(sb.id)!;
    const sdkError = (name: string, message: string) => Object.assign(new Error(message), { name });
    const cases: Array<[Error, SandboxFileError["kind"]]> = [
      [
        sdkError("SandboxFilesystemError", "No space left on device (os error 28): /workspace/a"),
        "no_space",
      ],
      [sdkError("SandboxFilesystemError", "Disk quota exceeded (os error 122)"), "no_space"],
      [
        sdkError("SandboxFilesystemError", "File name too long (os error 36): /workspace/a"),
        "name_too_long",
      ],
      [sdkError("SandboxFilesystemFileTooLargeError", "too large: /workspace/a"), "too_large"],
      [sdkError("SandboxFilesystemPermissionError", "denied: /workspace/a"), "permission_denied"],
      [sdkError("SandboxFilesystemError", "Operation on '/workspace/a' failed"), "io_error"],
    ];
    for (const [injected, kind] of cases) {
      fake.nextFilesystemError = injected;
      const err = await sb.writeFile("a", new Uint8Array(1)).catch((e: unknown) => e);
      expect(err, injected.message).toBeInstanceOf(SandboxFileError);
      expect((err as SandboxFileError).kind, injected.message).toBe(kind);
      expect((err as Error).message).toMatch(/^a: [^/]*$/);
    }
    // Errors that are not about files (the connection, the sandbox being gone) pass through.
    const gone = sdkError("NotFoundError", "Sandbox sb-x not found");
    fake.nextFilesystemError = gone;
    await expect(sb.readFile("a")).rejects.toBe(gone);
  });

  it("kills a cancelled command with a second exec", async () => {
    modal = await FakeModal.start();
    const sb = await provider().create({ sessionId: "ses_kill", settings: defaultSettings() });
    const abort = new AbortController();
    const r = await sb.exec({
      command: "echo up; sleep 30",
      signal: abort.signal,
      onStdout: () => abort.abort(),
    });
    expect(r.cancelled).toBe(true);
    expect(r.durationMs).toBeLessThan(10_000);
    const execs = modal.all.get(sb.id)!.execs;
    expect(execs).toHaveLength(2);
    expect(execs[1]!.join(" ")).toContain("kill -9");
  });

  it("finds its sandboxes by tag after a restart, only its app's, and re-attaches them", async () => {
    modal = await FakeModal.start();
    const before = provider("a");
    const one = await before.create({ sessionId: "ses_one", settings: defaultSettings() });
    const two = await before.create({ sessionId: "ses_two", settings: defaultSettings() });
    await provider("other-app").create({ sessionId: "ses_x", settings: defaultSettings() });
    const ended = await before.create({ sessionId: "ses_end", settings: defaultSettings() });
    await ended.terminate();
    // An untagged sandbox in the same app (someone else's) is not ours to list.
    await modal.sandboxes.create({ appId: "ap-a", name: "a" }, modal.images.fromRegistry("x"), {});
    const after = provider("a");
    const live = await after.listLive();
    expect(live.sort((x, y) => x.sessionId.localeCompare(y.sessionId))).toEqual([
      { sandboxId: one.id, sessionId: "ses_one" },
      { sandboxId: two.id, sessionId: "ses_two" },
    ]);
    expect(await after.attach(one.id, "ses_two")).toBeNull();
    expect(await after.attach(ended.id, "ses_end")).toBeNull();
    expect(await after.attach("sb-missing", "ses_one")).toBeNull();
    const again = await after.attach(one.id, "ses_one");
    expect((await again!.exec({ command: "echo back" })).stdout).toBe("back\n");
    await after.destroy("ses_two");
    expect(await two.isAlive()).toBe(false);
    expect(await one.isAlive()).toBe(true);
  });

  it("re-attaches a live sandbox of its session after a restart and terminates orphans", async () => {
    modal = await FakeModal.start();
    const store = new MemoryPersistence();
    const first = await createAgentRuntime({
      persistence: store,
      logger: silentLogger,
      sandboxProviders: [provider()],
    });
    await first.start();
    const profile = await first.useCases.profiles.create("default", {
      ...demoProfile(),
      sandbox: defaultSettings({ provider: "modal" }),
    });
    const view = await first.useCases.sessions.create("default", {
      agentProfileId: profile.id,
      name: "",
      metadata: {},
      initialFiles: [],
      options: { model: "" },
      requestId: "",
    });
    const session = await first.sessionManager.load(view.record.id);
    const sandbox = await session.sandbox.ensure(profile);
    await sandbox.writeFile("made-before-restart.txt", new TextEncoder().encode("x"));
    const orphan = await provider().create({
      sessionId: "ses_00000000000000000000000000",
      settings: defaultSettings(),
    });
    // The server stops without ending the sandbox (a crash or a rolling restart).
    const second = await createAgentRuntime({
      persistence: store,
      logger: silentLogger,
      sandboxProviders: [provider()],
    });
    await second.start();
    await second.recovered;
    expect(await orphan.isAlive()).toBe(false);
    expect(await sandbox.isAlive()).toBe(true);
    const reattached = second.sessionManager.getSession(view.record.id);
    expect(reattached?.sandbox?.id).toBe(sandbox.id);
    // What changed while nobody watched is saved.
    const files = await store.listWorkspaceFiles(view.record.id);
    expect(files.map((f) => f.path)).toContain("made-before-restart.txt");
    await second.shutdown();
  });

  it("builds the real Modal client from credentials without calling Modal", () => {
    const p = createModalProvider({ tokenId: "ak-test", tokenSecret: "as-test", appName: "x" });
    expect(p.name).toBe("modal");
  });
});

// The one test that needs Modal itself: it runs where credentials exist, and is reported as
// skipped everywhere else.
const live = Boolean(process.env.MODAL_TOKEN_ID && process.env.MODAL_TOKEN_SECRET);
describe.runIf(live)("modal, live", () => {
  it("runs a sandbox end to end: exec, files, cancel, re-attach by tag, terminate", async () => {
    const appName = process.env.MODAL_TEST_APP_NAME || "agent-runtime-test";
    const provider = createModalProvider({ appName, logger: silentLogger });
    const sessionId = `ses_live${Date.now().toString(36)}`;
    const sb = await provider.create({ sessionId, settings: defaultSettings() });
    try {
      const r = await sb.exec({ command: "echo hi > f.txt && cat f.txt && pwd" });
      expect(r).toMatchObject({ exitCode: 0, stdout: "hi\n/workspace\n" });
      const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      await sb.writeFile("d/e/.bin", bytes);
      expect(await sb.readFile("d/e/.bin")).toEqual(bytes);
      expect((await sb.listFiles()).map((e) => e.path)).toContain("d/e/.bin");
      const abort = new AbortController();
      const c = await sb.exec({
        command: "sh -c 'while :; do date >> tick; sleep 0.1; done' & echo up; wait",
        signal: abort.signal,
        onStdout: () => abort.abort(),
      });
      expect(c.cancelled).toBe(true);
      const size = (await sb.stat("tick"))?.size;
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await sb.stat("tick"))?.size).toBe(size);
      expect(await provider.listLive()).toContainEqual({ sandboxId: sb.id, sessionId });
      const again = await createModalProvider({ appName, logger: silentLogger }).attach(
        sb.id,
        sessionId,
      );
      expect(decode(await again!.readFile("f.txt"))).toBe("hi\n");
    } finally {
      await sb.terminate();
    }
    expect(await sb.isAlive()).toBe(false);
  }, 300_000);
});

function decode(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}
