// useSession: one session, live. It folds the session's event feed (sdk/ts `watch`, which resumes
// by sequence across dropped connections) into a Conversation and re-renders as events arrive:
// blocks, status, usage, to-dos, subagents, waiting tool calls and the workspace's files, with
// send, cancel and answer. When the feed gives up (a long outage) the hook starts it again from
// the last sequence it applied, so the view never has a gap or a duplicate.

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  type AgentRuntimeError,
  Conversation,
  type FileInfo,
  type PendingToolCall,
  type RetryOptions,
  SendPolicy,
  type SessionEvent,
  type Subagent,
  type ToolAnswer,
  type ToolCall,
  ToolStatus,
  toAgentRuntimeError,
} from "../ts/src/index.js";
import { useClient } from "./provider.js";

export type Connection = "connecting" | "live" | "reconnecting" | "closed";

export interface UseSessionOptions {
  /** Called with every event applied, in sequence order (each once). */
  onEvent?: (event: SessionEvent) => void;
  /** How the client's feed reconnects after a drop (sdk/ts `watch`). */
  retry?: RetryOptions;
  /** Pause before the hook starts a feed again after the client's gave up. Default 1,000 ms. */
  restartDelayMs?: number;
}

export interface SessionView {
  /** The conversation folded so far (read it during render; it changes in place). */
  conversation: Conversation;
  blocks: Conversation["blocks"];
  /** Tool calls by tool use id, each with its result once it came. */
  toolCalls: ReadonlyMap<string, ToolCall>;
  state: Conversation["state"];
  sandboxStatus: Conversation["sandboxStatus"];
  statusMessage: string;
  usage: Conversation["usage"];
  todos: Conversation["todos"];
  subagents: Subagent[];
  /** Tool calls waiting for an answer (approvals, custom tools). */
  waiting: PendingToolCall[];
  /** The workspace's files, kept current from file events. */
  files: FileInfo[];
  /** Sequence of the last event applied. */
  lastSequence: number;
  connection: Connection;
  /** How many times the feed was reconnected. */
  reconnects: number;
  /** Why the feed stopped for good (NOT_FOUND, UNAUTHENTICATED, ...), as a typed error. */
  error: AgentRuntimeError | undefined;
  /** Sends a message (a new turn, or queued behind the running one). */
  send(text: string, policy?: SendPolicy): Promise<{ turnId: string; queued: boolean }>;
  /** Cancels the running turn; false when none ran. */
  cancel(): Promise<boolean>;
  /** Answers a waiting tool call. */
  answer(toolUseId: string, answer: ToolAnswer): Promise<void>;
  /** Reads the workspace's file list again. */
  refreshFiles(): Promise<void>;
}

/**
 * The pending calls that still wait: a turn that ended (a cancel ends a waiting turn without an
 * answer) or a call whose block moved on (cancelled, run) waits no more.
 */
function stillWaiting(c: Conversation, calls: ReadonlyMap<string, ToolCall>): PendingToolCall[] {
  return [...c.pendingToolCalls.values()].filter((p) => {
    if (c.turns.get(p.turnId)?.outcome) return false;
    const status = calls.get(p.toolUseId)?.status;
    return (
      status === undefined ||
      status === ToolStatus.UNSPECIFIED ||
      status === ToolStatus.WAITING ||
      status === ToolStatus.PENDING
    );
  });
}

/** Fatal: the session is gone or the caller may not see it; anything else is worth retrying. */
const FINAL = new Set(["NOT_FOUND", "UNAUTHENTICATED", "PERMISSION_DENIED", "INVALID_ARGUMENT"]);

export function useSession(
  sessionId: string | undefined,
  options: UseSessionOptions = {},
): SessionView {
  const client = useClient();
  const [, setVersion] = useState(0);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [reconnects, setReconnects] = useState(0);
  const [error, setError] = useState<AgentRuntimeError | undefined>(undefined);
  const [files, setFiles] = useState<Map<string, FileInfo>>(new Map());
  const conversationRef = useRef(new Conversation());
  const optionsRef = useRef(options);
  optionsRef.current = options;

  useEffect(() => {
    const conversation = new Conversation();
    conversationRef.current = conversation;
    setVersion((v) => v + 1);
    setError(undefined);
    setReconnects(0);
    setFiles(new Map());
    if (!sessionId) {
      setConnection("closed");
      return;
    }
    setConnection("connecting");
    const controller = new AbortController();
    const { signal } = controller;

    // Re-render at most once per frame while events stream in.
    let scheduled: ReturnType<typeof setTimeout> | undefined;
    const render = () => {
      scheduled ??= setTimeout(() => {
        scheduled = undefined;
        if (!signal.aborted) setVersion((v) => v + 1);
      }, 16);
    };
    const fileEvent = (event: SessionEvent) => {
      const p = event.payload;
      if (p.case === "fileCreated" || p.case === "fileModified") {
        const file = p.value.file;
        if (file) setFiles((m) => new Map(m).set(file.path, file));
      } else if (p.case === "fileDeleted") {
        const path = p.value.path;
        setFiles((m) => {
          const next = new Map(m);
          next.delete(path);
          return next;
        });
      }
    };

    client
      .listFiles(sessionId, "", { signal })
      .then((list) =>
        setFiles((m) => {
          const next = new Map(list.map((f) => [f.path, f]));
          for (const [path, f] of m) next.set(path, f); // events seen meanwhile are newer
          return next;
        }),
      )
      .catch(() => {}); // the feed reports a missing session

    void (async () => {
      while (!signal.aborted) {
        try {
          const feed = client.watch(sessionId, {
            afterSequence: conversation.lastSequence,
            signal,
            ...(optionsRef.current.retry ? { retry: optionsRef.current.retry } : {}),
            onReconnect: () => {
              setConnection("reconnecting");
              setReconnects((n) => n + 1);
            },
          });
          setConnection((c) => (c === "connecting" ? "live" : c));
          for await (const event of feed) {
            if (!conversation.apply(event)) continue;
            setConnection("live");
            fileEvent(event);
            optionsRef.current.onEvent?.(event);
            render();
          }
        } catch (err) {
          if (signal.aborted) return;
          const e = toAgentRuntimeError(err);
          if (FINAL.has(e.code)) {
            setError(e);
            setConnection("closed");
            return;
          }
          setConnection("reconnecting");
          setReconnects((n) => n + 1);
          await new Promise((r) => setTimeout(r, optionsRef.current.restartDelayMs ?? 1_000));
        }
      }
    })();

    return () => {
      controller.abort();
      clearTimeout(scheduled);
    };
  }, [client, sessionId]);

  const send = useCallback(
    async (text: string, policy: SendPolicy = SendPolicy.UNSPECIFIED) => {
      if (!sessionId) throw new Error("no session");
      try {
        const res = await client.raw.sessions.sendMessage({ sessionId, text, policy });
        return { turnId: res.turnId, queued: res.queued };
      } catch (err) {
        throw toAgentRuntimeError(err);
      }
    },
    [client, sessionId],
  );
  const cancel = useCallback(
    () => (sessionId ? client.cancelTurn(sessionId) : Promise.resolve(false)),
    [client, sessionId],
  );
  const answer = useCallback(
    async (toolUseId: string, a: ToolAnswer) => {
      if (!sessionId) throw new Error("no session");
      await client.answerToolCall(sessionId, toolUseId, a);
    },
    [client, sessionId],
  );
  const refreshFiles = useCallback(async () => {
    if (!sessionId) return;
    const list = await client.listFiles(sessionId);
    setFiles(new Map(list.map((f) => [f.path, f])));
  }, [client, sessionId]);

  const conversation = conversationRef.current;
  const toolCalls = new Map(conversation.toolCalls.map((c) => [c.id, c]));
  const fileList = useMemo(
    () => [...files.values()].sort((a, b) => a.path.localeCompare(b.path)),
    [files],
  );
  return {
    conversation,
    blocks: conversation.blocks,
    toolCalls,
    state: conversation.state,
    sandboxStatus: conversation.sandboxStatus,
    statusMessage: conversation.statusMessage,
    usage: conversation.usage,
    todos: conversation.todos,
    subagents: [...conversation.subagents.values()],
    waiting: stillWaiting(conversation, toolCalls),
    files: fileList,
    lastSequence: conversation.lastSequence,
    connection,
    reconnects,
    error,
    send,
    cancel,
    answer,
    refreshFiles,
  };
}
