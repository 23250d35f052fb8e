// Typed errors: every failed call becomes an AgentRuntimeError carrying the status code, and the
// reason, field and metadata the server puts in its ErrorDetail (see error_detail.proto).

import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../../gen/ts/agentruntime/v1/error_detail_pb.js";

/** Canonical gRPC code names, upper snake: `NOT_FOUND`, `INVALID_ARGUMENT`, ... */
export type ErrorCodeName =
  | "CANCELED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

/** `Code.NotFound` -> `NOT_FOUND`. */
export function codeName(code: Code): ErrorCodeName {
  const name = Code[code] ?? "Unknown";
  return name.replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase() as ErrorCodeName;
}

export interface AgentRuntimeErrorInit {
  code: Code;
  message: string;
  reason?: string;
  field?: string;
  metadata?: Record<string, string>;
  cause?: unknown;
}

/** An error from the server (or from reaching it), with its reason as fields. */
export class AgentRuntimeError extends Error {
  override readonly name = "AgentRuntimeError";
  /** The gRPC / Connect code as a number (`Code.NotFound` is 5). */
  readonly grpcCode: Code;
  /** The code's canonical name: `NOT_FOUND`, `INVALID_ARGUMENT`, `UNAVAILABLE`, ... */
  readonly code: ErrorCodeName;
  /** Stable, upper snake: `SESSION_NOT_FOUND`, `INVALID_FIELD`, ... (the code's name if none). */
  readonly reason: string;
  /** The request field at fault (`profile.name`), or "". */
  readonly field: string;
  readonly metadata: Readonly<Record<string, string>>;

  constructor(init: AgentRuntimeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.grpcCode = init.code;
    this.code = codeName(init.code);
    this.reason = init.reason || this.code;
    this.field = init.field ?? "";
    this.metadata = init.metadata ?? {};
  }

  /** True for errors where trying again later may help (the server or network unavailable). */
  get retryable(): boolean {
    return this.grpcCode === Code.Unavailable;
  }
}

/** Any thrown value as an AgentRuntimeError (ConnectErrors keep their code and details). */
export function toAgentRuntimeError(err: unknown): AgentRuntimeError {
  if (err instanceof AgentRuntimeError) return err;
  const connect = ConnectError.from(err);
  const detail = connect.findDetails(ErrorDetailSchema)[0];
  return new AgentRuntimeError({
    code: connect.code,
    message: connect.rawMessage,
    reason: detail?.reason ?? "",
    field: detail?.field ?? "",
    metadata: { ...(detail?.metadata ?? {}) },
    cause: err,
  });
}

/** The error a call ends with when its AbortSignal fires. */
export function abortedError(signal: AbortSignal): AgentRuntimeError {
  return new AgentRuntimeError({
    code: Code.Canceled,
    message: "the call was aborted",
    reason: "ABORTED",
    cause: signal.reason,
  });
}

/** Runs a call and turns whatever it throws into an AgentRuntimeError. */
export async function call<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (signal?.aborted) throw abortedError(signal);
    throw toAgentRuntimeError(err);
  }
}
