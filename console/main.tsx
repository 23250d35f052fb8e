// The console's entry: finds out whether the server wants an API key (it answers UNAUTHENTICATED
// without one), asks for it if so, and shows the app with a client for this origin.

import { type FormEvent, StrictMode, useCallback, useEffect, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.js";
import {
  type AgentRuntimeError,
  AgentRuntimeProvider,
  createClient,
  toAgentRuntimeError,
} from "./deps.js";
import { ErrorBox } from "./widgets.js";
import "./styles.css";

const KEY_STORAGE = "agentRuntimeApiKey";

function Root() {
  const [apiKey, setApiKey] = useState(() => sessionStorage.getItem(KEY_STORAGE) ?? "");
  const client = useMemo(
    () => createClient({ baseUrl: window.location.origin, ...(apiKey ? { apiKey } : {}) }),
    [apiKey],
  );
  const [probe, setProbe] = useState<"checking" | "ok" | "key" | AgentRuntimeError>("checking");
  const check = useCallback(() => {
    setProbe("checking");
    client.listProfiles().then(
      () => setProbe("ok"),
      (err: unknown) => {
        const e = toAgentRuntimeError(err);
        setProbe(e.code === "UNAUTHENTICATED" ? "key" : e);
      },
    );
  }, [client]);
  useEffect(check, [check]);

  const save = (key: string) => {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    setApiKey(key);
  };
  if (probe === "checking") return <p className="center muted">Connecting…</p>;
  if (probe === "key") return <KeyForm rejected={apiKey !== ""} onKey={save} />;
  if (probe !== "ok")
    return (
      <div className="center">
        <ErrorBox error={probe} />
        <button type="button" onClick={check}>
          Try again
        </button>
      </div>
    );
  return (
    <AgentRuntimeProvider client={client}>
      <App {...(apiKey ? { onSignOut: () => save("") } : {})} />
    </AgentRuntimeProvider>
  );
}

function KeyForm({ rejected, onKey }: { rejected: boolean; onKey(key: string): void }) {
  const [key, setKey] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim()) onKey(key.trim());
  };
  return (
    <form className="center form key-form" onSubmit={submit} data-testid="key-form">
      <h1>Agent Runtime</h1>
      <p>This server needs an API key.</p>
      {rejected && <p role="alert">That API key was not accepted.</p>}
      <label>
        API key
        <input type="password" value={key} onChange={(e) => setKey(e.target.value)} />
      </label>
      <button type="submit">Sign in</button>
    </form>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
