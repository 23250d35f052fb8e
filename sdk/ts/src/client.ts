// The client a person would write: plain methods that return the resource (or throw an
// AgentRuntimeError), a run-a-turn call, a resumable watch, and tool-call answers. The generated
// Connect clients stay available as `raw`.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import type { SessionEvent } from "../../../gen/ts/agentruntime/v1/event_pb.js";
import type { AgentProfile } from "../../../gen/ts/agentruntime/v1/profile_pb.js";
import {
  AgentProfileService,
  type CreateAgentProfileRequestSchema,
  type UpdateAgentProfileRequestSchema,
} from "../../../gen/ts/agentruntime/v1/profile_service_pb.js";
import { type Secret, SecretService } from "../../../gen/ts/agentruntime/v1/secret_service_pb.js";
import type { Session, SessionState } from "../../../gen/ts/agentruntime/v1/session_pb.js";
import {
  type CreateSessionRequestSchema,
  SessionService,
  type UpdateSessionRequestSchema,
} from "../../../gen/ts/agentruntime/v1/session_service_pb.js";
import type { FileInfo } from "../../../gen/ts/agentruntime/v1/workspace_pb.js";
import { WorkspaceService } from "../../../gen/ts/agentruntime/v1/workspace_service_pb.js";
import { type ToolAnswer, toAnswerRequest } from "./answers.js";
import { Conversation } from "./conversation.js";
import { AgentRuntimeError, call } from "./errors.js";
import { type WatchOptions, watchEvents } from "./feed.js";
import { type RunTurnOptions, type TurnInput, TurnRun } from "./turn.js";

type ProfileInit = MessageInitShape<typeof CreateAgentProfileRequestSchema>["profile"];
type Opts = { signal?: AbortSignal };

const text = new TextEncoder();
const utf8 = new TextDecoder();

export class AgentRuntimeClient {
  /** The generated Connect clients, for anything not wrapped here. */
  readonly raw: {
    profiles: Client<typeof AgentProfileService>;
    sessions: Client<typeof SessionService>;
    workspace: Client<typeof WorkspaceService>;
    secrets: Client<typeof SecretService>;
  };

  constructor(readonly transport: Transport) {
    this.raw = {
      profiles: createClient(AgentProfileService, transport),
      sessions: createClient(SessionService, transport),
      workspace: createClient(WorkspaceService, transport),
      secrets: createClient(SecretService, transport),
    };
  }

  // --- Profiles -----------------------------------------------------------------------------

  async createProfile(profile: ProfileInit, o: Opts & { requestId?: string } = {}) {
    const req = { profile, requestId: o.requestId ?? "" };
    return need((await call(() => this.raw.profiles.createAgentProfile(req, o), o.signal)).profile);
  }

  async getProfile(agentProfileId: string, o: Opts = {}): Promise<AgentProfile> {
    const res = await call(
      () => this.raw.profiles.getAgentProfile({ agentProfileId }, o),
      o.signal,
    );
    return need(res.profile);
  }

  /** Every profile (all pages). */
  async listProfiles(o: Opts = {}): Promise<AgentProfile[]> {
    return pages((pageToken) =>
      call(
        () => this.raw.profiles.listAgentProfiles({ pageToken, pageSize: 500 }, o),
        o.signal,
      ).then((r) => [r.profiles, r.nextPageToken]),
    );
  }

  /** The profile with this name; NOT_FOUND (reason PROFILE_NOT_FOUND) when there is none. */
  async findProfile(name: string, o: Opts = {}): Promise<AgentProfile> {
    const found = (await this.listProfiles(o)).find((p) => p.name === name);
    if (found) return found;
    throw new AgentRuntimeError({
      code: 5,
      message: `no profile named ${JSON.stringify(name)}`,
      reason: "PROFILE_NOT_FOUND",
      field: "name",
    });
  }

  async updateProfile(
    profile: MessageInitShape<typeof UpdateAgentProfileRequestSchema>["profile"],
    fields: string[] = [],
    o: Opts = {},
  ): Promise<AgentProfile> {
    const req = { profile, updateMask: { paths: fields } };
    return need((await call(() => this.raw.profiles.updateAgentProfile(req, o), o.signal)).profile);
  }

  async deleteProfile(agentProfileId: string, o: Opts = {}): Promise<void> {
    await call(() => this.raw.profiles.deleteAgentProfile({ agentProfileId }, o), o.signal);
  }

  // --- Sessions -----------------------------------------------------------------------------

  async createSession(
    init: MessageInitShape<typeof CreateSessionRequestSchema>,
    o: Opts = {},
  ): Promise<Session> {
    return need((await call(() => this.raw.sessions.createSession(init, o), o.signal)).session);
  }

  async getSession(sessionId: string, o: Opts = {}): Promise<Session> {
    return need(
      (await call(() => this.raw.sessions.getSession({ sessionId }, o), o.signal)).session,
    );
  }

  /** Sessions, newest activity first (all pages). */
  async listSessions(
    filter: { agentProfileId?: string; state?: SessionState } = {},
    o: Opts = {},
  ): Promise<Session[]> {
    return pages((pageToken) =>
      call(() => this.raw.sessions.listSessions({ ...filter, pageToken }, o), o.signal).then(
        (r) => [r.sessions, r.nextPageToken],
      ),
    );
  }

  async updateSession(
    session: MessageInitShape<typeof UpdateSessionRequestSchema>["session"],
    fields: string[] = [],
    o: Opts = {},
  ): Promise<Session> {
    const req = { session, updateMask: { paths: fields } };
    return need((await call(() => this.raw.sessions.updateSession(req, o), o.signal)).session);
  }

  async deleteSession(sessionId: string, o: Opts = {}): Promise<void> {
    await call(() => this.raw.sessions.deleteSession({ sessionId }, o), o.signal);
  }

  /** Cancels the running turn (or this turn); false when there was nothing to cancel. */
  async cancelTurn(sessionId: string, turnId = "", o: Opts = {}): Promise<boolean> {
    const res = await call(() => this.raw.sessions.cancelTurn({ sessionId, turnId }, o), o.signal);
    return res.cancelled;
  }

  /**
   * Runs a turn: iterate the result for its events until it ends (dropped connections are
   * resumed by sequence), or `await client.runTurn(...).done()`.
   */
  runTurn(sessionId: string, input: TurnInput, options: RunTurnOptions = {}): TurnRun {
    return new TurnRun(this.raw.sessions, sessionId, input, options);
  }

  /** The session's events after `afterSequence`, then live ones, resumed across drops. */
  watch(sessionId: string, options: WatchOptions = {}): AsyncGenerator<SessionEvent, void> {
    return watchEvents(this.raw.sessions, sessionId, options);
  }

  /** The conversation so far, folded from the session's whole feed. */
  async conversation(sessionId: string, o: Opts = {}): Promise<Conversation> {
    const conversation = new Conversation();
    const last = Number((await this.getSession(sessionId, o)).lastSequence);
    if (last === 0) return conversation;
    for await (const event of this.watch(sessionId, o)) {
      conversation.apply(event);
      if (Number(event.sequence) >= last) break;
    }
    return conversation;
  }

  // --- Tool calls that wait -----------------------------------------------------------------

  /** Answers a waiting tool call (allow, deny, or a custom tool's output). */
  async answerToolCall(sessionId: string, toolUseId: string, answer: ToolAnswer, o: Opts = {}) {
    const req = toAnswerRequest(sessionId, toolUseId, answer);
    return need((await call(() => this.raw.sessions.answerToolCall(req, o), o.signal)).decision);
  }

  allow(
    sessionId: string,
    toolUseId: string,
    extra: Omit<ToolAnswer & { allow: true }, "allow"> = {},
  ) {
    return this.answerToolCall(sessionId, toolUseId, { allow: true, ...extra });
  }

  deny(sessionId: string, toolUseId: string, message = "") {
    return this.answerToolCall(sessionId, toolUseId, { allow: false, message });
  }

  submitToolResult(sessionId: string, toolUseId: string, output: string, isError = false) {
    return this.answerToolCall(sessionId, toolUseId, { output, isError });
  }

  // --- Workspace ----------------------------------------------------------------------------

  async readFile(sessionId: string, path: string, o: Opts = {}): Promise<Uint8Array> {
    return (await call(() => this.raw.workspace.readFile({ sessionId, path }, o), o.signal))
      .content;
  }

  async readText(sessionId: string, path: string, o: Opts = {}): Promise<string> {
    return utf8.decode(await this.readFile(sessionId, path, o));
  }

  async writeFile(sessionId: string, path: string, content: string | Uint8Array, o: Opts = {}) {
    const bytes = typeof content === "string" ? text.encode(content) : content;
    const req = { sessionId, path, content: bytes };
    return need((await call(() => this.raw.workspace.writeFile(req, o), o.signal)).file);
  }

  /** Every file (all pages), optionally under a prefix. */
  async listFiles(sessionId: string, prefix = "", o: Opts = {}): Promise<FileInfo[]> {
    return pages((pageToken) =>
      call(() => this.raw.workspace.listFiles({ sessionId, prefix, pageToken }, o), o.signal).then(
        (r) => [r.files, r.nextPageToken],
      ),
    );
  }

  async deleteFile(sessionId: string, path: string, o: Opts = {}): Promise<void> {
    await call(() => this.raw.workspace.deleteFile({ sessionId, path }, o), o.signal);
  }

  // --- Secrets ------------------------------------------------------------------------------

  async setSecret(name: string, value: string, o: Opts = {}): Promise<Secret> {
    return need(
      (await call(() => this.raw.secrets.setSecret({ name, value }, o), o.signal)).secret,
    );
  }

  async listSecrets(o: Opts = {}): Promise<Secret[]> {
    return (await call(() => this.raw.secrets.listSecrets({}, o), o.signal)).secrets;
  }

  async deleteSecret(name: string, o: Opts = {}): Promise<void> {
    await call(() => this.raw.secrets.deleteSecret({ name }, o), o.signal);
  }
}

function need<T>(value: T | undefined): T {
  if (value === undefined) {
    throw new AgentRuntimeError({ code: 2, message: "the server's answer is missing its result" });
  }
  return value;
}

async function pages<T>(page: (token: string) => Promise<[T[], string]>): Promise<T[]> {
  const all: T[] = [];
  let token = "";
  do {
    const [items, next] = await page(token);
    all.push(...items);
    token = next;
  } while (token);
  return all;
}
