// Sessions: the list (open, delete) and a form to start one with a profile.

import { type FormEvent, useState } from "react";
import {
  type AgentRuntimeError,
  type Session,
  type SessionState,
  toAgentRuntimeError,
  useClient,
  useProfiles,
  useSessions,
} from "./deps.js";
import { stateName } from "./format.js";
import { ErrorBox } from "./widgets.js";

export function SessionList(props: {
  selected?: string;
  refresh: number;
  /** A session's state known to be newer than the list's. */
  live?: { id: string; state: SessionState };
  onChanged(): void;
}) {
  const sessions = useSessions({ refresh: props.refresh });
  return (
    <section className="nav-section" data-testid="session-list">
      <div className="nav-head">
        <h2>Sessions</h2>
        <a className="button small" href="#/sessions/new">
          New
        </a>
      </div>
      {sessions.error && <ErrorBox error={sessions.error} />}
      <ul>
        {(sessions.data ?? []).map((s) => (
          <SessionItem
            key={s.id}
            session={
              props.live?.id === s.id && props.live.state ? { ...s, state: props.live.state } : s
            }
            selected={props.selected === s.id}
            onDeleted={props.onChanged}
          />
        ))}
      </ul>
    </section>
  );
}

function SessionItem(props: { session: Session; selected: boolean; onDeleted(): void }) {
  const client = useClient();
  const [confirming, setConfirming] = useState(false);
  const s = props.session;
  const remove = () => {
    client.deleteSession(s.id).then(
      () => {
        if (props.selected) window.location.hash = "#/";
        props.onDeleted();
      },
      () => setConfirming(false),
    );
  };
  return (
    <li className={props.selected ? "selected" : ""} data-testid="session-item">
      <a className="ellipsis" href={`#/sessions/${s.id}`} title={s.id}>
        {s.name || s.id}
      </a>{" "}
      <span className="muted">{stateName(s.state)}</span>{" "}
      {confirming ? (
        <button type="button" className="small danger" onClick={remove}>
          Confirm delete
        </button>
      ) : (
        <button
          type="button"
          className="small secondary"
          aria-label={`Delete ${s.name || s.id}`}
          onClick={() => setConfirming(true)}
        >
          Delete
        </button>
      )}
    </li>
  );
}

export function NewSession(props: { profileId?: string; onCreated(s: Session): void }) {
  const client = useClient();
  const profiles = useProfiles();
  const [profileId, setProfileId] = useState(props.profileId ?? "");
  const [name, setName] = useState("");
  const [error, setError] = useState<AgentRuntimeError | undefined>(undefined);
  const chosen = profileId || profiles.data?.[0]?.id || "";
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      props.onCreated(await client.createSession({ agentProfileId: chosen, name: name.trim() }));
    } catch (err) {
      setError(toAgentRuntimeError(err));
    }
  };
  return (
    <form className="page form" onSubmit={submit} data-testid="new-session">
      <h1>New session</h1>
      <label>
        Profile
        <select value={chosen} onChange={(e) => setProfileId(e.target.value)}>
          {(profiles.data ?? []).map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Name (optional)
        <input value={name} onChange={(e) => setName(e.target.value)} />
      </label>
      {error && <ErrorBox error={error} />}
      <button type="submit" disabled={!chosen}>
        Create session
      </button>
    </form>
  );
}
