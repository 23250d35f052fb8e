// One session, live: its status (with the sandbox's start), usage and cost, the conversation, the
// tool calls waiting for an approval, the to-do list, the workspace, and a box to send messages.

import { type FormEvent, useEffect, useState } from "react";
import { Conversation, TodoList } from "./blocks.js";
import {
  type PendingToolCall,
  SandboxStatus,
  type SessionEvent,
  SessionState,
  useClient,
  useResource,
  useSession,
  type SessionView as View,
} from "./deps.js";
import { Files } from "./files.js";
import { prettyJson, sandboxName, stateName, tokens, usd } from "./format.js";
import { recordEvent, recordReconnects, resetEvents } from "./observe.js";

export function SessionPage(props: {
  sessionId: string;
  onStateChange?: (state: SessionState) => void;
}) {
  const { sessionId, onStateChange } = props;
  // Declared before useSession: it runs before the hook's feed starts.
  useEffect(() => resetEvents(sessionId), [sessionId]);
  const view = useSession(sessionId, {
    onEvent: (event: SessionEvent) => recordEvent(sessionId, event),
  });
  useEffect(() => recordReconnects(sessionId, view.reconnects), [sessionId, view.reconnects]);
  // The session list shows each session's state: this one's as it changes.
  useEffect(() => onStateChange?.(view.state), [view.state]);
  if (view.error) {
    return (
      <div className="page" data-testid="session-error">
        <h1>Session {sessionId}</h1>
        <div className="error-box" role="alert">
          <strong data-testid="error-code">{view.error.code}</strong>{" "}
          <span data-testid="error-reason">{view.error.reason}</span>
          {view.error.field && (
            <span className="muted">
              {" "}
              (field <span data-testid="error-field">{view.error.field}</span>)
            </span>
          )}
          <p>{view.error.message}</p>
        </div>
        <a href="#/">Back to the sessions</a>
      </div>
    );
  }
  const busy = view.state === SessionState.RUNNING || view.state === SessionState.WAITING;
  return (
    <div className="session">
      <div className="session-main">
        <SessionHeader sessionId={sessionId} />
        <StatusBar view={view} />
        <Conversation view={view} />
        <Approvals view={view} />
        <Composer view={view} busy={busy} />
      </div>
      <aside className="session-side">
        <section className="panel" data-testid="usage">
          <h2>Usage</h2>
          <dl>
            <dt>This turn</dt>
            <dd>{tokens(view.usage.turn)}</dd>
            <dt>Session</dt>
            <dd>{tokens(view.usage.session)}</dd>
            <dt>Cost</dt>
            <dd data-testid="cost">{usd(view.usage.session?.costUsd ?? 0)}</dd>
            {view.usage.model && (
              <>
                <dt>Model</dt>
                <dd>{view.usage.model}</dd>
              </>
            )}
          </dl>
        </section>
        {view.todos.length > 0 && (
          <section className="panel">
            <h2>To-do</h2>
            <TodoList items={view.todos} />
          </section>
        )}
        <Files sessionId={sessionId} view={view} />
      </aside>
    </div>
  );
}

/** The session's name and its profile's. */
function SessionHeader({ sessionId }: { sessionId: string }) {
  const client = useClient();
  const info = useResource(async (signal) => {
    const session = await client.getSession(sessionId, { signal });
    const profile = await client
      .getProfile(session.agentProfileId, { signal })
      .catch(() => undefined);
    return { session, profile };
  }, sessionId);
  const s = info.data?.session;
  return (
    <div className="session-head">
      <h1>{s?.name || "Session"}</h1>
      <span className="muted">
        {sessionId}
        {s && (
          <>
            {" "}
            · profile{" "}
            <a href={`#/profiles/${encodeURIComponent(s.agentProfileId)}`}>
              {info.data?.profile?.name ?? s.agentProfileId}
            </a>
          </>
        )}
      </span>
    </div>
  );
}

function StatusBar({ view }: { view: View }) {
  const starting = view.sandboxStatus === SandboxStatus.STARTING;
  return (
    <div className="status-bar" data-testid="status">
      <span className={`badge state-${stateName(view.state)}`} data-testid="session-state">
        {stateName(view.state)}
      </span>
      <span className="muted">sandbox: {sandboxName(view.sandboxStatus)}</span>
      {view.connection === "reconnecting" && <span className="badge warn">reconnecting…</span>}
      {starting && (
        <span className="starting" data-testid="sandbox-starting">
          <span className="spinner" aria-hidden="true" /> Starting the sandbox
          {view.statusMessage ? `: ${view.statusMessage}` : "…"}
        </span>
      )}
    </div>
  );
}

function Approvals({ view }: { view: View }) {
  if (view.waiting.length === 0) return null;
  return (
    <section className="approvals" data-testid="approvals">
      {view.waiting.map((call) => (
        <Approval key={call.toolUseId} call={call} view={view} />
      ))}
    </section>
  );
}

function Approval({ call, view }: { call: PendingToolCall; view: View }) {
  const [error, setError] = useState("");
  const [sending, setSending] = useState(false);
  const decide = (allow: boolean) => {
    setSending(true);
    view
      .answer(
        call.toolUseId,
        allow ? { allow: true } : { allow: false, message: "denied in the console" },
      )
      .catch((err: { reason?: string; message?: string }) =>
        setError(`${err.reason}: ${err.message}`),
      )
      .finally(() => setSending(false));
  };
  return (
    <div className="approval" data-testid="approval">
      <div>
        <strong>{call.toolName}</strong> waits for your approval
        {call.matchedRule ? ` (rule ${call.matchedRule})` : ""}:
      </div>
      <pre>{prettyJson(call.inputJson)}</pre>
      <button type="button" disabled={sending} onClick={() => decide(true)}>
        Allow
      </button>{" "}
      <button type="button" className="secondary" disabled={sending} onClick={() => decide(false)}>
        Deny
      </button>
      {error && <p role="alert">{error}</p>}
    </div>
  );
}

function Composer({ view, busy }: { view: View; busy: boolean }) {
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!text.trim()) return;
    setError("");
    view.send(text).then(
      () => setText(""),
      (err: { reason?: string; message?: string }) => setError(`${err.reason}: ${err.message}`),
    );
  };
  return (
    <form className="composer" onSubmit={submit}>
      <textarea
        aria-label="Message"
        placeholder="Write a message (Enter sends, Shift+Enter for a new line)"
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) submit(e);
        }}
      />
      <div className="composer-actions">
        <button type="submit">Send</button>
        {busy && (
          <button
            type="button"
            className="secondary"
            onClick={() => void view.cancel().catch(() => {})}
          >
            Cancel
          </button>
        )}
      </div>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
