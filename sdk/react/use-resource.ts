// Lists that load once and again on demand: profiles and sessions.

import { useCallback, useEffect, useRef, useState } from "react";
import {
  type AgentProfile,
  type AgentRuntimeError,
  type Session,
  toAgentRuntimeError,
} from "../ts/src/index.js";
import { useClient } from "./provider.js";

export interface Loaded<T> {
  /** The last value loaded (undefined before the first load ends or after it failed). */
  data: T | undefined;
  loading: boolean;
  /** Why the last load failed, as a typed error (code, reason, field). */
  error: AgentRuntimeError | undefined;
  /** Loads again; resolves when done (never rejects: see `error`). */
  reload(): Promise<void>;
}

/** Loads with `load` when `key` changes (and on reload); a load that a newer one overtook is dropped. */
export function useResource<T>(load: (signal: AbortSignal) => Promise<T>, key: string): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: AgentRuntimeError; loading: boolean }>({
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  const current = useRef<AbortController | undefined>(undefined);

  const reload = useCallback(async () => {
    current.current?.abort();
    const controller = new AbortController();
    current.current = controller;
    setState((s) => ({ ...s, loading: true }));
    try {
      const data = await loadRef.current(controller.signal);
      if (!controller.signal.aborted) setState({ data, loading: false });
    } catch (err) {
      if (!controller.signal.aborted) setState({ error: toAgentRuntimeError(err), loading: false });
    }
  }, []);

  // `key` says when to load again.
  useEffect(() => {
    void reload();
    return () => current.current?.abort();
  }, [key, reload]);

  return { data: state.data, loading: state.loading, error: state.error, reload };
}

/** The tenant's profiles; loaded again when `refresh` changes. */
export function useProfiles(refresh: string | number = 0): Loaded<AgentProfile[]> {
  const client = useClient();
  return useResource((signal) => client.listProfiles({ signal }), `profiles:${refresh}`);
}

/**
 * The tenant's sessions, newest activity first; of one profile when `agentProfileId` is set.
 * Loaded again when `refresh` changes.
 */
export function useSessions(
  options: { agentProfileId?: string; refresh?: string | number } = {},
): Loaded<Session[]> {
  const client = useClient();
  const agentProfileId = options.agentProfileId ?? "";
  return useResource(
    (signal) => client.listSessions(agentProfileId ? { agentProfileId } : {}, { signal }),
    `sessions:${agentProfileId}:${options.refresh ?? 0}`,
  );
}
