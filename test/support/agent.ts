import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SessionEvent } from "#gen/event_pb.js";
import { ModelProvider } from "#gen/profile_pb.js";
import { AnthropicModelProvider } from "../../src/adapters/anthropic/model.js";
import { DemoModelProvider } from "../../src/adapters/demo-model/model.js";
import type { SandboxProvider } from "../../src/ports/sandbox.js";
import type { AgentRuntime, AgentRuntimeOptions } from "../../src/runtime.js";
import { FakeAnthropic } from "./fake-anthropic.js";
import { type Clients, inProcessRuntime } from "./runtime.js";
import { localSandboxProvider } from "./sandbox.js";

export interface AgentHarness {
  runtime: AgentRuntime;
  client: Clients;
  fake: FakeAnthropic;
  provider: SandboxProvider;
  dataDir: string;
  profileId: string;
  newSession(): Promise<string>;
  close(): Promise<void>;
}

/**
 * A runtime on the real local sandbox, the real Anthropic SDK against FakeAnthropic, and the
 * demo model; one profile with every built-in tool.
 */
export async function agentHarness(
  options: Partial<AgentRuntimeOptions> & { profile?: Record<string, unknown> } = {},
): Promise<AgentHarness> {
  const fake = new FakeAnthropic();
  await fake.start();
  const dataDir = await mkdtemp(join(tmpdir(), "ar-agent-"));
  const provider = options.sandboxProviders?.[0] ?? (await localSandboxProvider(dataDir));
  const { profile, ...rest } = options;
  const { runtime, clients } = await inProcessRuntime({
    sandboxProviders: [provider],
    models: {
      anthropic: new AnthropicModelProvider({
        apiKey: "test-key",
        baseURL: fake.url,
        streamRetryDelayMs: 1,
      }),
      demo: new DemoModelProvider({ chunkDelayMs: 0 }),
    },
    ...rest,
  });
  const client = clients();
  const created = await client.profiles.createAgentProfile({
    profile: {
      name: "agent",
      systemPrompt: "You are a test agent.",
      modelProvider: ModelProvider.ANTHROPIC,
      model: "claude-sonnet-5-5",
      tools: ["Read", "Write", "Edit", "Bash", "Glob", "Grep"],
      ...profile,
    },
  });
  const profileId = created.profile!.id;
  return {
    runtime,
    client,
    fake,
    provider,
    dataDir,
    profileId,
    async newSession() {
      return (await client.sessions.createSession({ agentProfileId: profileId })).session!.id;
    },
    async close() {
      await runtime.shutdown();
      await fake.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Reads the session's feed from `after` until `done` says stop (or the timeout). */
export async function readEvents(
  client: Clients,
  sessionId: string,
  done: (events: SessionEvent[]) => boolean,
  after = 0n,
  timeoutMs = 20_000,
): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    for await (const res of client.sessions.streamEvents(
      { sessionId, afterSequence: after },
      { signal: abort.signal },
    )) {
      events.push(res.event!);
      if (done(events)) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
    throw new Error(`timed out; got ${events.map((e) => e.payload.case).join(", ")}`);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return events;
}

/** Stop after `n` turn_completed events. */
export const turnsCompleted = (n: number) => (events: SessionEvent[]) =>
  events.filter((e) => e.payload.case === "turnCompleted").length >= n;

export const kinds = (events: SessionEvent[]) => events.map((e) => e.payload.case);
