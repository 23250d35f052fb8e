import type { ConnectRouter, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { AgentProfileSchema } from "#gen/profile_pb.js";
import { AgentProfileService } from "#gen/profile_service_pb.js";
import { SecretService } from "#gen/secret_service_pb.js";
import { SessionSchema } from "#gen/session_pb.js";
import { SessionService } from "#gen/session_service_pb.js";
import { WebhookService } from "#gen/webhook_service_pb.js";
import { WorkspaceService } from "#gen/workspace_service_pb.js";
import type { EventStreams } from "../app/feed/event-streams.js";
import { PROFILE_FIELDS, type Profiles } from "../app/profiles/profiles.js";
import type { Secrets } from "../app/secrets/secrets.js";
import { checkProfileId, SESSION_FIELDS, type Sessions } from "../app/sessions/sessions.js";
import type { Answers } from "../app/turns/answers.js";
import type { Messages } from "../app/turns/messages.js";
import type { Webhooks } from "../app/webhooks/webhooks.js";
import type { Workspaces } from "../app/workspace/workspaces.js";
import { invalidField } from "../domain/errors.js";
import type { SessionEvent } from "../domain/types.js";
import { principalOf } from "./auth.js";
import { blockToProto, eventToProto } from "./event-mapping.js";
import { maskOf } from "./field-masks.js";
import {
  fileInfoToProto,
  filesFromProto,
  profileFromProto,
  profileToProto,
  sessionStates,
  sessionToProto,
} from "./mapping.js";
import { secretService } from "./secret-service.js";
import { budgetFromProto, decisionToProto, sendPolicyFromProto } from "./waiting-mapping.js";
import { webhookService } from "./webhook-service.js";

/** The use cases the API serves. */
export interface ApiDeps {
  profiles: Profiles;
  sessions: Sessions;
  messages: Messages;
  streams: EventStreams;
  workspaces: Workspaces;
  secrets: Secrets;
  answers: Answers;
  webhooks?: Webhooks;
  /** Fires at shutdown: open streams end cleanly. */
  closing?: AbortSignal;
}

const tenant = (ctx: HandlerContext) => principalOf(ctx).tenantId;

/** Every subscriber of a feed gets the same event object: convert it once. */
const converted = new WeakMap<SessionEvent, ReturnType<typeof eventToProto>>();
function eventToProtoOnce(event: SessionEvent) {
  let pb = converted.get(event);
  if (!pb) {
    pb = eventToProto(event);
    converted.set(event, pb);
  }
  return pb;
}

export function profileService(deps: ApiDeps): ServiceImpl<typeof AgentProfileService> {
  return {
    async createAgentProfile(req, ctx) {
      const profile = await deps.profiles.create(
        tenant(ctx),
        profileFromProto(req.profile),
        req.requestId,
      );
      return { profile: profileToProto(profile) };
    },
    async getAgentProfile(req, ctx) {
      checkProfileId(req.agentProfileId);
      return { profile: profileToProto(await deps.profiles.get(tenant(ctx), req.agentProfileId)) };
    },
    async listAgentProfiles(req, ctx) {
      const page = await deps.profiles.list(tenant(ctx), req.pageSize, req.pageToken);
      return { profiles: page.profiles.map(profileToProto), nextPageToken: page.nextPageToken };
    },
    async updateAgentProfile(req, ctx) {
      if (!req.profile) throw invalidField("profile", "is required");
      checkProfileId(req.profile.id, "profile.id");
      const profile = await deps.profiles.update(
        tenant(ctx),
        req.profile.id,
        profileFromProto(req.profile),
        maskOf(req.updateMask, AgentProfileSchema, req.profile, PROFILE_FIELDS),
      );
      return { profile: profileToProto(profile) };
    },
    async deleteAgentProfile(req, ctx) {
      checkProfileId(req.agentProfileId);
      await deps.profiles.delete(tenant(ctx), req.agentProfileId);
      return {};
    },
  };
}

export function sessionService(deps: ApiDeps): ServiceImpl<typeof SessionService> {
  return {
    async createSession(req, ctx) {
      const view = await deps.sessions.create(tenant(ctx), {
        agentProfileId: req.agentProfileId,
        name: req.name,
        metadata: { ...req.metadata },
        initialFiles: filesFromProto(req.initialFiles),
        options: { model: req.options?.model ?? "", budget: budgetFromProto(req.options?.budget) },
        requestId: req.requestId,
      });
      return { session: sessionToProto(view) };
    },
    async getSession(req, ctx) {
      return { session: sessionToProto(await deps.sessions.get(tenant(ctx), req.sessionId)) };
    },
    async listSessions(req, ctx) {
      const state = req.state === 0 ? undefined : sessionStates.decode("state", req.state);
      const page = await deps.sessions.list(tenant(ctx), {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        agentProfileId: req.agentProfileId,
        ...(state ? { state } : {}),
      });
      return { sessions: page.sessions.map(sessionToProto), nextPageToken: page.nextPageToken };
    },
    async updateSession(req, ctx) {
      if (!req.session) throw invalidField("session", "is required");
      const view = await deps.sessions.update(
        tenant(ctx),
        req.session.id,
        {
          name: req.session.name,
          metadata: { ...req.session.metadata },
          options: {
            model: req.session.options?.model ?? "",
            budget: budgetFromProto(req.session.options?.budget),
          },
        },
        maskOf(req.updateMask, SessionSchema, req.session, SESSION_FIELDS),
      );
      return { session: sessionToProto(view) };
    },
    async deleteSession(req, ctx) {
      await deps.sessions.delete(tenant(ctx), req.sessionId);
      return {};
    },
    async answerToolCall(req, ctx) {
      const principal = principalOf(ctx);
      const a = req.answer;
      const decision = await deps.answers.answer(
        principal.tenantId,
        req.sessionId,
        req.toolUseId,
        {
          ...(a.case === "approval"
            ? {
                approval: {
                  allow: a.value.allow,
                  message: a.value.message,
                  updatedInputJson: a.value.updatedInputJson,
                  alwaysAllowRule: a.value.alwaysAllowRule,
                },
              }
            : {}),
          ...(a.case === "result"
            ? { result: { output: a.value.output, isError: a.value.isError } }
            : {}),
        },
        principal.keyName ? `key:${principal.keyName}` : "open",
      );
      return { decision: decisionToProto(decision) };
    },
    async listToolDecisions(req, ctx) {
      const page = await deps.answers.list(tenant(ctx), req.sessionId, req.pageSize, req.pageToken);
      return {
        decisions: page.decisions.map(decisionToProto),
        nextPageToken: page.nextPageToken,
      };
    },
    async sendMessage(req, ctx) {
      const attachments = req.attachments.map((a) => ({
        name: a.name,
        mediaType: a.mediaType,
        data: a.data,
      }));
      const policy = sendPolicyFromProto(req.policy);
      return deps.messages.send(tenant(ctx), req.sessionId, req.text, attachments, policy);
    },
    async cancelTurn(req, ctx) {
      return { cancelled: await deps.messages.cancel(tenant(ctx), req.sessionId, req.turnId) };
    },
    async listMessages(req, ctx) {
      const page = await deps.messages.list(
        tenant(ctx),
        req.sessionId,
        req.pageSize,
        req.pageToken,
      );
      return { blocks: page.blocks.map(blockToProto), nextPageToken: page.nextPageToken };
    },
    async *streamEvents(req, ctx) {
      // One signal for a client cancel and a server shutdown. (AbortSignal.any would tie every
      // stream to the long-lived closing signal for good: nodejs/node#55351.)
      const stop = new AbortController();
      const onStop = () => stop.abort();
      ctx.signal.addEventListener("abort", onStop, { once: true });
      deps.closing?.addEventListener("abort", onStop, { once: true });
      try {
        const max = BigInt(Number.MAX_SAFE_INTEGER);
        const after = Number(req.afterSequence > max ? max : req.afterSequence);
        const sub = await deps.streams.subscribe(tenant(ctx), req.sessionId, after, stop.signal);
        for await (const event of sub) yield { event: eventToProtoOnce(event) };
      } finally {
        ctx.signal.removeEventListener("abort", onStop);
        deps.closing?.removeEventListener("abort", onStop);
      }
    },
  };
}

export function workspaceService(deps: ApiDeps): ServiceImpl<typeof WorkspaceService> {
  return {
    async listFiles(req, ctx) {
      const page = await deps.workspaces.listFiles(tenant(ctx), req);
      return { files: page.files.map(fileInfoToProto), nextPageToken: page.nextPageToken };
    },
    async readFile(req, ctx) {
      const file = await deps.workspaces.readFile(tenant(ctx), req.sessionId, req.path);
      return { file: fileInfoToProto(file.info), content: file.content };
    },
    async writeFile(req, ctx) {
      const info = await deps.workspaces.writeFile(
        tenant(ctx),
        req.sessionId,
        req.path,
        req.content,
      );
      return { file: fileInfoToProto(info) };
    },
    async deleteFile(req, ctx) {
      await deps.workspaces.deleteFile(tenant(ctx), req.sessionId, req.path);
      return {};
    },
  };
}

export function registerApi(router: ConnectRouter, deps: ApiDeps): void {
  router.service(AgentProfileService, profileService(deps));
  router.service(SessionService, sessionService(deps));
  router.service(WorkspaceService, workspaceService(deps));
  router.service(SecretService, secretService(deps.secrets));
  if (deps.webhooks) router.service(WebhookService, webhookService(deps.webhooks));
}
