// React hooks on the Agent Runtime TypeScript client (sdk/ts): put an <AgentRuntimeProvider> with
// a client near the top, then useSession(id) for one live session, useProfiles and useSessions
// for the lists. Only React; no UI framework.

export { AgentRuntimeProvider, useClient } from "./provider.js";
export { type Loaded, useProfiles, useResource, useSessions } from "./use-resource.js";
export {
  type Connection,
  type SessionView,
  type UseSessionOptions,
  useSession,
} from "./use-session.js";
