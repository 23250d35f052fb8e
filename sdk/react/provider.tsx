// The client the hooks use, given once near the top of the tree.

import { createContext, type ReactNode, useContext } from "react";
import type { AgentRuntimeClient } from "../ts/src/index.js";

const ClientContext = createContext<AgentRuntimeClient | undefined>(undefined);

/** Gives the hooks below it this client (`createClient({ baseUrl, apiKey })` of sdk/ts). */
export function AgentRuntimeProvider(props: { client: AgentRuntimeClient; children?: ReactNode }) {
  return <ClientContext.Provider value={props.client}>{props.children}</ClientContext.Provider>;
}

/** The client of the nearest AgentRuntimeProvider. */
export function useClient(): AgentRuntimeClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error("useClient needs an <AgentRuntimeProvider client={...}> above it");
  return client;
}
