import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SandboxStatus, TurnOutcome } from "#gen/session_pb.js";
import type { Sandbox, SandboxProvider } from "../src/ports/sandbox.js";
import {
  type AgentHarness,
  agentHarness,
  kinds,
  readEvents,
  turnsCompleted,
} from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { localSandboxProvider } from "./support/sandbox.js";

let h: AgentHarness;
afterEach(() => h?.close());

/** Counts creations and remembers every sandbox it handed out. */
function counting(inner: SandboxProvider, fail?: () => Error | undefined) {
  const created: Sandbox[] = [];
  const provider: SandboxProvider = {
    name: inner.name,
    async create(options) {
      const err = fail?.();
      if (err) throw err;
      const sb = await inner.create(options);
      created.push(sb);
      return sb;
    },
    attach: (id, sessionId) => inner.attach(id, sessionId),
    listLive: () => inner.listLive(),
  };
  return { provider, created };
}

const bash = (command: string, id = `b${Math.random().toString(36).slice(2)}`) =>
  streamResponse([{ type: "tool_use", id, name: "Bash", input: { command } }]);

describe("sandbox lifecycle", () => {
  it("creates the sandbox lazily, once, even for two messages at once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-lc-"));
    const c = counting(await localSandboxProvider(dir));
    h = await agentHarness({ sandboxProviders: [c.provider] });
    const sessionId = await h.newSession();
    expect(c.created).toHaveLength(0);
    h.fake.enqueue(textResponse("no tools needed"));
    await h.client.sessions.sendMessage({ sessionId, text: "chat" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(c.created).toHaveLength(0);
    h.fake.enqueue(
      bash("echo one > one.txt"),
      textResponse("1"),
      bash("echo two > two.txt"),
      textResponse("2"),
    );
    await Promise.all([
      h.client.sessions.sendMessage({ sessionId, text: "a" }),
      h.client.sessions.sendMessage({ sessionId, text: "b" }),
    ]);
    const events = await readEvents(h.client, sessionId, turnsCompleted(3));
    expect(c.created).toHaveLength(1);
    const statuses = events.flatMap((e) =>
      e.payload.case === "statusChanged" ? [e.payload.value.sandboxStatus] : [],
    );
    expect(statuses.filter((s) => s === SandboxStatus.READY)).toHaveLength(1);
    expect(statuses.indexOf(SandboxStatus.STARTING)).toBeLessThan(
      statuses.indexOf(SandboxStatus.READY),
    );
    const { session } = await h.client.sessions.getSession({ sessionId });
    expect(session?.runtime?.sandboxStatus).toBe(SandboxStatus.READY);
    expect(session?.runtime?.sandboxId).toBe(c.created[0]!.id);
  });

  it("shuts down when idle and restores every file byte-exact into a new sandbox", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-lc-"));
    const c = counting(await localSandboxProvider(dir));
    h = await agentHarness({ sandboxProviders: [c.provider], idleTimeoutMs: 400 });
    const sessionId = await h.newSession();
    const binary = Uint8Array.from({ length: 256 }, (_, i) => 255 - i);
    await h.client.workspace.writeFile({ sessionId, path: "data/blob.bin", content: binary });
    h.fake.enqueue(
      bash(
        "mkdir -p deep/er && printf 'x' > deep/er/.hidden && printf 'gone' > tmp.txt && cat data/blob.bin | wc -c",
      ),
      bash("rm tmp.txt && printf 'changed' > deep/er/.hidden"),
      textResponse("ok"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "make files" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const fileEvents = events.flatMap((e) =>
      e.payload.case === "fileCreated" || e.payload.case === "fileModified"
        ? [`${e.payload.case}:${e.payload.value.file?.path}`]
        : e.payload.case === "fileDeleted"
          ? [`fileDeleted:${e.payload.value.path}`]
          : [],
    );
    expect(fileEvents).toEqual([
      "fileCreated:data/blob.bin",
      "fileCreated:deep/er/.hidden",
      "fileCreated:tmp.txt",
      "fileModified:deep/er/.hidden",
      "fileDeleted:tmp.txt",
    ]);
    // Idle: synced, terminated, unloaded.
    const after = events.at(-1)!.sequence;
    const idle = await readEvents(
      h.client,
      sessionId,
      (ev) =>
        ev.some(
          (e) =>
            e.payload.case === "statusChanged" &&
            e.payload.value.sandboxStatus === SandboxStatus.TERMINATED,
        ),
      after,
    );
    expect(kinds(idle)).toContain("statusChanged");
    await expect.poll(() => h.runtime.sessionManager.getLoadedSessions().length).toBe(0);
    expect(await c.created[0]!.isAlive()).toBe(false);
    const view = await h.client.sessions.getSession({ sessionId });
    expect(view.session?.runtime?.loaded).toBe(false);
    // The next message gets a new sandbox with the files restored before any tool runs.
    h.fake.enqueue(
      bash("sha256sum data/blob.bin deep/er/.hidden; ls -A"),
      textResponse("restored"),
    );
    await h.client.sessions.sendMessage({ sessionId, text: "check" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(c.created).toHaveLength(2);
    const listing = JSON.stringify(h.fake.requests.at(-1)!.body.messages!.at(-1));
    const { createHash } = await import("node:crypto");
    expect(listing).toContain(createHash("sha256").update(binary).digest("hex"));
    expect(listing).toContain(createHash("sha256").update("changed").digest("hex"));
    expect(listing).not.toContain("tmp.txt");
    const blob = await h.client.workspace.readFile({ sessionId, path: "data/blob.bin" });
    expect(blob.content).toEqual(binary);
  });

  it("saves changes made outside a tool call on the periodic sync", async () => {
    h = await agentHarness({ syncIntervalMs: 150 });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("true"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "start" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const sandbox = h.runtime.sessionManager.getSession(sessionId)!.sandbox.live!;
    await sandbox.writeFile(
      "background.txt",
      new TextEncoder().encode("written behind the runtime's back"),
    );
    const later = await readEvents(
      h.client,
      sessionId,
      (ev) => ev.some((e) => e.payload.case === "fileCreated"),
      events.at(-1)!.sequence,
    );
    expect(later.find((e) => e.payload.case === "fileCreated")!.payload.value).toMatchObject({
      file: { path: "background.txt" },
    });
  });

  it("writes through the workspace API reach a running sandbox", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("true"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "start" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await h.client.workspace.writeFile({
      sessionId,
      path: "from-api.txt",
      content: new TextEncoder().encode("api"),
    });
    h.fake.enqueue(bash("cat from-api.txt"), textResponse("seen"));
    await h.client.sessions.sendMessage({ sessionId, text: "read it" });
    await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(JSON.stringify(h.fake.requests.at(-1)!.body.messages!.at(-1))).toContain("api");
    await h.client.workspace.deleteFile({ sessionId, path: "from-api.txt" });
    const sandbox = h.runtime.sessionManager.getSession(sessionId)!.sandbox.live!;
    expect(await sandbox.stat("from-api.txt")).toBeNull();
  });

  it("notices a sandbox that died and gives the next message a new one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-lc-"));
    const c = counting(await localSandboxProvider(dir));
    h = await agentHarness({ sandboxProviders: [c.provider] });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("echo keep > keep.txt"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "a" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await c.created[0]!.terminate(); // dies underneath the session
    h.fake.enqueue(bash("cat keep.txt"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "b" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect(c.created).toHaveLength(2);
    expect(kinds(events)).toContain("statusChanged");
    expect(JSON.stringify(h.fake.requests.at(-1)!.body.messages!.at(-1))).toContain("keep");
  });

  it("ends the turn with an error when the sandbox cannot start, leaving nothing behind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-lc-"));
    let failing = true;
    const c = counting(await localSandboxProvider(dir), () =>
      failing ? new Error("no capacity") : undefined,
    );
    h = await agentHarness({ sandboxProviders: [c.provider] });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("true"));
    await h.client.sessions.sendMessage({ sessionId, text: "a" });
    const events = await readEvents(h.client, sessionId, turnsCompleted(1));
    const failed = events.find(
      (e) =>
        e.payload.case === "statusChanged" &&
        e.payload.value.sandboxStatus === SandboxStatus.FAILED,
    );
    expect((failed!.payload.value as { message: string }).message).toContain("no capacity");
    const toolResult = events.find(
      (e) =>
        e.payload.case === "blockCompleted" && e.payload.value.block?.content.case === "toolResult",
    );
    const output = (
      toolResult!.payload.value as { block: { content: { value: { output: string } } } }
    ).block.content.value.output;
    expect(output).toContain("no capacity");
    // The turn ends, failed, with an error event; the model is not asked again.
    const error = events.find((e) => e.payload.case === "error")!.payload.value as {
      reason: string;
    };
    expect(error.reason).toBe("SANDBOX_START_FAILED");
    const end = events.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } };
    expect(end.turn.outcome).toBe(TurnOutcome.FAILED);
    expect(h.fake.requests).toHaveLength(1);
    const { session } = await h.client.sessions.getSession({ sessionId });
    expect(session?.runtime?.sandboxStatus).toBe(SandboxStatus.FAILED);
    failing = false;
    h.fake.enqueue(bash("true"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "b" });
    const ok = await readEvents(h.client, sessionId, turnsCompleted(2));
    expect((ok.at(-1)!.payload.value as { turn: { outcome: TurnOutcome } }).turn.outcome).toBe(
      TurnOutcome.COMPLETED,
    );
    expect(c.created).toHaveLength(1);
  });

  it("unloadSession syncs and terminates; shutdown syncs every loaded session", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-lc-"));
    const c = counting(await localSandboxProvider(dir));
    h = await agentHarness({ sandboxProviders: [c.provider] });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("true"), textResponse("ok"));
    await h.client.sessions.sendMessage({ sessionId, text: "a" });
    await readEvents(h.client, sessionId, turnsCompleted(1));
    await c.created[0]!.writeFile("late.txt", new TextEncoder().encode("late"));
    await h.runtime.sessionManager.unloadSession(sessionId);
    expect(await c.created[0]!.isAlive()).toBe(false);
    expect(h.runtime.sessionManager.getSession(sessionId)).toBeUndefined();
    const late = await h.client.workspace.readFile({ sessionId, path: "late.txt" });
    expect(new TextDecoder().decode(late.content)).toBe("late");
  });
});
