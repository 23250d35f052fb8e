// The workspace file API: paths the filesystem rejects, the workspace limits, and files written
// while a sandbox starts.

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { LIMITS } from "../src/domain/limits.js";
import type { SandboxProvider } from "../src/ports/sandbox.js";
import { type AgentHarness, agentHarness, readEvents, turnsCompleted } from "./support/agent.js";
import { streamResponse, textResponse } from "./support/fake-anthropic.js";
import { localSandboxProvider } from "./support/sandbox.js";

let h: AgentHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const bytes = (s: string) => new TextEncoder().encode(s);
const bash = (command: string, id = `b${Math.random().toString(36).slice(2)}`) =>
  streamResponse([{ type: "tool_use", id, name: "Bash", input: { command } }]);

async function codeOf(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!err) throw new Error("expected the call to fail");
  const c = ConnectError.from(err);
  return { code: c.code, message: c.rawMessage };
}

describe("workspace paths the filesystem rejects", () => {
  for (const running of [false, true]) {
    it(`are refused up front ${running ? "with" : "without"} a sandbox running, and the session still starts`, async () => {
      h = await agentHarness();
      const sessionId = await h.newSession();
      const ws = h.client.workspace;
      await ws.writeFile({ sessionId, path: "notes/demo.md", content: bytes("hi") });
      if (running) {
        h.fake.enqueue(bash("true"), textResponse("ok"));
        await h.client.sessions.sendMessage({ sessionId, text: "start" });
        await readEvents(h.client, sessionId, turnsCompleted(1));
      }
      const onDir = await codeOf(ws.writeFile({ sessionId, path: "notes", content: bytes("x") }));
      expect(onDir.code).toBe(Code.FailedPrecondition);
      const underFile = await codeOf(
        ws.writeFile({ sessionId, path: "notes/demo.md/x", content: bytes("x") }),
      );
      expect(underFile.code).toBe(Code.FailedPrecondition);
      const long = await codeOf(
        ws.writeFile({ sessionId, path: `${"a".repeat(256)}.txt`, content: bytes("x") }),
      );
      expect(long.code).toBe(Code.InvalidArgument);
      for (const m of [onDir, underFile, long])
        expect(m.message).not.toMatch(/\/proc\/|\/tmp\/|ar-agent-/);
      // The session's sandbox still starts and sees the good file.
      h.fake.enqueue(bash("cat notes/demo.md"), textResponse("seen"));
      await h.client.sessions.sendMessage({ sessionId, text: "read" });
      const events = await readEvents(h.client, sessionId, turnsCompleted(running ? 2 : 1));
      expect(
        events.some(
          (e) =>
            e.payload.case === "statusChanged" && e.payload.value.message.includes("could not"),
        ),
      ).toBe(false);
      expect(JSON.stringify(h.fake.requests.at(-1)!.body.messages!.at(-1))).toContain("hi");
    });
  }
});

describe("workspace limits", () => {
  it("refuses a write that would take the workspace past its size", async () => {
    h = await agentHarness();
    const sessionId = await h.newSession();
    const big = new Uint8Array(LIMITS.maxFileBytes);
    const fit = Math.floor(LIMITS.maxWorkspaceBytes / LIMITS.maxFileBytes);
    for (let i = 0; i < fit; i++) {
      await h.client.workspace.writeFile({ sessionId, path: `big/${i}.bin`, content: big });
    }
    const over = await codeOf(
      h.client.workspace.writeFile({ sessionId, path: "big/over.bin", content: big }),
    );
    expect(over.code).toBe(Code.ResourceExhausted);
    // Replacing a file counts its old size out.
    await h.client.workspace.writeFile({ sessionId, path: "big/0.bin", content: big });
  });
});

describe("a file written while the sandbox starts", () => {
  it("reaches the sandbox: never stored behind its back", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ar-ws-"));
    const inner = await localSandboxProvider(dir);
    let creating!: () => void;
    const created = new Promise<void>((r) => {
      creating = r;
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow: SandboxProvider = {
      name: inner.name,
      async create(options) {
        creating();
        await gate;
        return inner.create(options);
      },
      attach: (id, sessionId) => inner.attach(id, sessionId),
      listLive: () => inner.listLive(),
    };
    h = await agentHarness({ sandboxProviders: [slow] });
    const sessionId = await h.newSession();
    h.fake.enqueue(bash("true"), bash("cat race.txt"), textResponse("done"));
    await h.client.sessions.sendMessage({ sessionId, text: "go" });
    await created;
    const write = h.client.workspace.writeFile({
      sessionId,
      path: "race.txt",
      content: bytes("written during start"),
    });
    await new Promise((r) => setTimeout(r, 50));
    release();
    await write;
    await readEvents(h.client, sessionId, turnsCompleted(1));
    expect(JSON.stringify(h.fake.requests.at(-1)!.body.messages!.at(-1))).toContain(
      "written during start",
    );
  });
});
