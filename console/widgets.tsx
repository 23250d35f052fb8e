// Small shared pieces.

import type { AgentRuntimeError } from "./deps.js";

/** A typed error as a person reads it: its code, its reason, the field at fault and the message. */
export function ErrorBox({ error }: { error: AgentRuntimeError }) {
  return (
    <div className="error-box" role="alert">
      <strong>{error.code}</strong> <span>{error.reason}</span>
      {error.field && <span className="muted"> (field {error.field})</span>}
      <div>{error.message}</div>
    </div>
  );
}
