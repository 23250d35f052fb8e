// The console's frame: a side bar with profiles and sessions, and the page the address's hash
// names (#/profiles/new, #/profiles/ID, #/sessions/new, #/sessions/ID).

import { useEffect, useState } from "react";
import {
  type AgentProfile,
  type Session,
  type SessionState,
  useClient,
  useResource,
} from "./deps.js";
import { ProfileEditor, ProfileList } from "./profiles.js";
import { SessionPage } from "./session-view.js";
import { NewSession, SessionList } from "./sessions.js";
import { ErrorBox } from "./widgets.js";

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return hash;
}

export function App({ onSignOut }: { onSignOut?: () => void }) {
  const hash = useHash();
  // Lists load again (remount) when something they show changed.
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  // The open session's state as its feed says, fresher than the list's.
  const [live, setLive] = useState<{ id: string; state: SessionState } | undefined>(undefined);
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [kind, id, extra] = parts;
  const go = (path: string) => {
    window.location.hash = path;
  };

  let page = <Home />;
  if (kind === "profiles" && id === "new")
    page = (
      <ProfileEditor
        key="new"
        onSaved={(p) => {
          changed();
          go(`#/profiles/${p.id}`);
        }}
      />
    );
  else if (kind === "profiles" && id) page = <ProfilePage key={id} id={id} onSaved={changed} />;
  else if (kind === "sessions" && id === "new")
    page = (
      <NewSession
        key={extra ?? ""}
        {...(extra ? { profileId: extra } : {})}
        onCreated={(s: Session) => {
          changed();
          go(`#/sessions/${s.id}`);
        }}
      />
    );
  else if (kind === "sessions" && id)
    page = (
      <SessionPage
        key={id}
        sessionId={id}
        onStateChange={(state) => {
          setLive({ id, state });
          changed();
        }}
      />
    );

  return (
    <div className="layout">
      <header>
        <a href="#/" className="brand">
          Agent Runtime
        </a>
        {onSignOut && (
          <button type="button" className="small secondary" onClick={onSignOut}>
            Forget API key
          </button>
        )}
      </header>
      <nav>
        <ProfileList refresh={version} {...(kind === "profiles" && id ? { selected: id } : {})} />
        <SessionList
          refresh={version}
          {...(kind === "sessions" && id ? { selected: id } : {})}
          onChanged={changed}
          {...(live ? { live } : {})}
        />
      </nav>
      <main>{page}</main>
    </div>
  );
}

function Home() {
  return (
    <div className="page">
      <h1>Agent Runtime</h1>
      <p>
        Pick a profile to edit it, or <a href="#/sessions/new">start a session</a>. The{" "}
        <strong>demo</strong> profile runs offline, without a model API key.
      </p>
    </div>
  );
}

function ProfilePage({ id, onSaved }: { id: string; onSaved(): void }) {
  const client = useClient();
  const profile = useResource<AgentProfile>((signal) => client.getProfile(id, { signal }), id);
  if (profile.error) return <ErrorBox error={profile.error} />;
  if (!profile.data) return <p className="muted">Loading…</p>;
  return (
    <div>
      <ProfileEditor profile={profile.data} onSaved={onSaved} />
      <p className="page">
        <a className="button" href={`#/sessions/new/${encodeURIComponent(id)}`}>
          Start a session with this profile
        </a>
      </p>
    </div>
  );
}
