// Profiles: the list, and a form to create one or edit one (the common fields; the API has more).

import { type FormEvent, useState } from "react";
import {
  type AgentProfile,
  type AgentRuntimeError,
  ModelProvider,
  toAgentRuntimeError,
  useClient,
  useProfiles,
} from "./deps.js";
import { ErrorBox } from "./widgets.js";

export function ProfileList({ selected, refresh }: { selected?: string; refresh: number }) {
  const profiles = useProfiles(refresh);
  return (
    <section className="nav-section" data-testid="profile-list">
      <div className="nav-head">
        <h2>Profiles</h2>
        <a className="button small" href="#/profiles/new">
          New
        </a>
      </div>
      {profiles.error && <ErrorBox error={profiles.error} />}
      <ul>
        {(profiles.data ?? []).map((p) => (
          <li key={p.id} className={selected === p.id ? "selected" : ""}>
            <a href={`#/profiles/${p.id}`} title={p.description}>
              {p.name}
            </a>
          </li>
        ))}
      </ul>
    </section>
  );
}

const FIELDS = [
  "name",
  "description",
  "system_prompt",
  "model_provider",
  "model",
  "tools",
  "max_turns",
  "thinking",
];

interface Draft {
  name: string;
  description: string;
  systemPrompt: string;
  modelProvider: ModelProvider;
  model: string;
  tools: string;
  maxTurns: number;
  thinking: boolean;
}

function draftOf(p: AgentProfile | undefined): Draft {
  return {
    name: p?.name ?? "",
    description: p?.description ?? "",
    systemPrompt: p?.systemPrompt ?? "You are a helpful agent.",
    modelProvider: p?.modelProvider ?? ModelProvider.DEMO,
    model: p?.model ?? "",
    tools: (p?.tools ?? ["Read", "Write", "Bash"]).join(", "),
    maxTurns: p?.maxTurns ?? 10,
    thinking: p?.thinking?.enabled ?? false,
  };
}

/** Creates a profile (no `profile`) or edits one; `onSaved` gets the stored profile. */
export function ProfileEditor(props: { profile?: AgentProfile; onSaved(p: AgentProfile): void }) {
  const client = useClient();
  const [draft, setDraft] = useState(() => draftOf(props.profile));
  const [error, setError] = useState<AgentRuntimeError | undefined>(undefined);
  const [saved, setSaved] = useState(false);
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [key]: value }));
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const fields = {
      name: draft.name.trim(),
      description: draft.description,
      systemPrompt: draft.systemPrompt,
      modelProvider: draft.modelProvider,
      model: draft.model.trim(),
      tools: draft.tools
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
      maxTurns: draft.maxTurns,
      // Budget 0: the server's default.
      thinking: {
        enabled: draft.thinking,
        budgetTokens: props.profile?.thinking?.budgetTokens ?? 0,
      },
    };
    try {
      const stored = props.profile
        ? await client.updateProfile({ ...fields, id: props.profile.id }, FIELDS)
        : await client.createProfile(fields);
      setSaved(true);
      props.onSaved(stored);
    } catch (err) {
      setError(toAgentRuntimeError(err));
    }
  };
  return (
    <form className="page form" onSubmit={submit} data-testid="profile-form">
      <h1>{props.profile ? `Profile ${props.profile.name}` : "New profile"}</h1>
      {props.profile && (
        <p className="muted">
          id <span data-testid="profile-id">{props.profile.id}</span>
        </p>
      )}
      <label>
        Name
        <input value={draft.name} onChange={(e) => set("name", e.target.value)} required />
      </label>
      <label>
        Description
        <input value={draft.description} onChange={(e) => set("description", e.target.value)} />
      </label>
      <label>
        System prompt
        <textarea
          rows={4}
          value={draft.systemPrompt}
          onChange={(e) => set("systemPrompt", e.target.value)}
        />
      </label>
      <div className="row">
        <label>
          Model provider
          <select
            value={draft.modelProvider}
            onChange={(e) => set("modelProvider", Number(e.target.value) as ModelProvider)}
          >
            <option value={ModelProvider.DEMO}>Demo (offline)</option>
            <option value={ModelProvider.ANTHROPIC}>Anthropic</option>
          </select>
        </label>
        <label>
          Model
          <input
            value={draft.model}
            placeholder="server default"
            onChange={(e) => set("model", e.target.value)}
          />
        </label>
        <label>
          Max turns
          <input
            type="number"
            min={1}
            value={draft.maxTurns}
            onChange={(e) => set("maxTurns", Number(e.target.value))}
          />
        </label>
      </div>
      <label>
        Tools (comma separated)
        <input value={draft.tools} onChange={(e) => set("tools", e.target.value)} />
      </label>
      <label className="check">
        <input
          type="checkbox"
          checked={draft.thinking}
          onChange={(e) => set("thinking", e.target.checked)}
        />{" "}
        Extended thinking
      </label>
      {error && <ErrorBox error={error} />}
      <div>
        <button type="submit">{props.profile ? "Save profile" : "Create profile"}</button>
        {saved && <span className="muted"> Saved.</span>}
      </div>
    </form>
  );
}
